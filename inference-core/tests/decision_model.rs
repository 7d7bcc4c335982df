//! The decision Transformer: streaming equals the full pass, no future leakage, checkpoints.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use counterpart_core::decision::model::{save_checkpoint, TeacherForcing};
use counterpart_core::decision::{DecisionConfig, DecisionError, DecisionModel, DecisionStream};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn small_config(lookahead: usize, context: usize) -> DecisionConfig {
    DecisionConfig {
        vocab_size: 7,
        d_model: 32,
        num_heads: 4,
        encoder_layers: 2,
        decoder_layers: 2,
        ffn_dim: 64,
        context,
        lookahead,
        dropout: 0.1,
        rope_theta: 10_000.0,
        layer_norm_eps: 1e-5,
        reaction_s: 0.0,
    }
}

/// The models every property is checked on: live, aligned, and live with a reaction window.
fn configs(context: usize) -> Vec<DecisionConfig> {
    vec![
        small_config(0, context),
        small_config(1, context),
        DecisionConfig {
            reaction_s: 0.06,
            ..small_config(0, context)
        },
    ]
}

/// A short name of a config for messages and file names.
fn name(cfg: &DecisionConfig) -> String {
    let window = if cfg.has_window() { "w" } else { "" };
    format!("L{}{window}", cfg.lookahead)
}

/// A model with fresh random weights, reloaded from a checkpoint so that its weights are plain
/// tensors (the deployed, fused-kernel path), plus the trainable original.
fn models(cfg: &DecisionConfig, tag: &str) -> (DecisionModel, DecisionModel) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let trainable = DecisionModel::new(cfg, vb).unwrap();
    let dir =
        std::env::temp_dir().join(format!("counterpart-decision-{tag}-{}", std::process::id()));
    save_checkpoint(&dir, cfg, &varmap).unwrap();
    let loaded = DecisionModel::load(&dir, &Device::Cpu).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (trainable, loaded)
}

fn random_tokens(n: usize, k: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0..k as u32)).collect()
}

/// Teacher-forced logits `(t, K)` over the whole stream from its start (`w`: the guide's
/// reaction windows, heard by models with one).
fn full_logits(model: &DecisionModel, a: &[u32], w: &[u32], b: &[u32]) -> Vec<Vec<f32>> {
    let tf: TeacherForcing = model.config().teacher_forcing(a, w, b, 0, b.len());
    let row = |ids: &[u32]| {
        Tensor::new(ids, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap()
    };
    let window = model.config().has_window().then(|| row(&tf.window));
    model
        .forward(&row(&tf.guide), window.as_ref(), &row(&tf.response), None)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap()
}

/// Logits of the incremental step, committing the given B tokens (teacher forcing), with A's
/// tokens and windows pushed in the order perception delivers them.
fn streamed_logits(model: &DecisionModel, a: &[u32], w: &[u32], b: &[u32]) -> Vec<Vec<f32>> {
    let cfg = model.config();
    let mut stream = DecisionStream::new(model).unwrap();
    let mut out = Vec::new();
    for (t, &b_t) in b.iter().enumerate() {
        if cfg.has_window() {
            if t > 0 {
                stream.push_guide(a[t - 1]).unwrap();
            }
            assert!(!stream.ready(), "b_{t} waits for its window");
            stream.push_window(w[t]).unwrap();
        } else {
            while stream.guide_len() < t + cfg.lookahead {
                stream.push_guide(a[stream.guide_len()]).unwrap();
            }
        }
        assert!(stream.ready());
        out.push(stream.next_logits().unwrap().to_vec());
        stream.push_response(b_t).unwrap();
    }
    out
}

fn max_abs_diff(x: &[Vec<f32>], y: &[Vec<f32>]) -> f32 {
    assert_eq!(x.len(), y.len());
    x.iter()
        .zip(y)
        .flat_map(|(r, s)| r.iter().zip(s).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn stream_equals_full_pass_within_the_context() {
    for cfg in configs(16) {
        let l = name(&cfg);
        let (trainable, loaded) = models(&cfg, &format!("within{l}"));
        let a = random_tokens(16, 7, 1);
        let w = random_tokens(16, 7, 11);
        let b = random_tokens(16, 7, 2);
        let full = full_logits(&loaded, &a, &w, &b);
        let full_tracked = full_logits(&trainable, &a, &w, &b);
        let streamed = streamed_logits(&loaded, &a, &w, &b);
        assert_eq!(
            streamed[0].len(),
            7,
            "one logit per content label, none for specials"
        );
        let d = max_abs_diff(&full, &streamed);
        assert!(d < 1e-4, "L={l}: stream differs from the full pass by {d}");
        let d = max_abs_diff(&full, &full_tracked);
        assert!(
            d < 1e-4,
            "L={l}: fused and differentiable kernels differ by {d}"
        );
        // The logits really depend on the inputs.
        assert!(max_abs_diff(&full[..1], &full[5..6]) > 1e-3);
    }
}

#[test]
fn stream_equals_banded_full_pass_beyond_the_context() {
    for cfg in configs(5) {
        let l = name(&cfg);
        let (_, model) = models(&cfg, &format!("beyond{l}"));
        let a = random_tokens(23, 7, 3);
        let w = random_tokens(23, 7, 13);
        let b = random_tokens(23, 7, 4);
        let full = full_logits(&model, &a, &w, &b);
        let streamed = streamed_logits(&model, &a, &w, &b);
        let d = max_abs_diff(&full, &streamed);
        assert!(
            d < 1e-4,
            "L={l}: ring-buffer stream differs from the banded pass by {d}"
        );
    }
}

/// A revised window leaves the stream as if it had been the window all along: within the
/// context and after the ring buffers have wrapped, with a guide token pushed before the
/// revision, and revised twice.
#[test]
fn a_revised_window_is_as_if_it_had_been_the_window() {
    let cfg = configs(5).pop().unwrap();
    let (_, model) = models(&cfg, "revise");
    let a = random_tokens(17, 7, 31);
    let w = random_tokens(17, 7, 32);
    let b = random_tokens(17, 7, 33);
    let revised_at = [2usize, 9, 13];
    let mut final_w = w.clone();
    for &t in &revised_at {
        final_w[t] = (w[t] + 3) % 7;
    }
    let expected = streamed_logits(&model, &a, &final_w, &b);
    let mut stream = DecisionStream::new(&model).unwrap();
    assert!(!stream.can_revise());
    let mut got = Vec::new();
    for (t, &b_t) in b.iter().enumerate() {
        if t > 0 {
            stream.push_guide(a[t - 1]).unwrap();
        }
        stream.push_window(w[t]).unwrap();
        assert!(!stream.can_revise(), "b_{t} is not chosen yet");
        let first = stream.next_logits().unwrap().to_vec();
        stream.push_response(b_t).unwrap();
        if revised_at.contains(&t) {
            assert!(stream.can_revise());
            // First another window, then the final one: only the last counts.
            stream.revise_window((w[t] + 1) % 7).unwrap();
            stream.next_logits().unwrap();
            stream.push_response(b_t).unwrap();
            stream.revise_window(final_w[t]).unwrap();
            got.push(stream.next_logits().unwrap().to_vec());
            stream.push_response(b_t).unwrap();
        } else {
            got.push(first);
        }
    }
    let d = max_abs_diff(&expected, &got);
    assert!(d < 1e-5, "revised stream differs by {d}");
    // No revision once the next window has come, or without a window model.
    stream.push_window(w[0]).unwrap();
    assert!(stream.revise_window(1).is_err());
    let (_, plain) = models(&small_config(0, 5), "revise-plain");
    let mut stream = DecisionStream::new(&plain).unwrap();
    stream.next_logits().unwrap();
    stream.push_response(1).unwrap();
    assert!(!stream.can_revise());
}

#[test]
fn changing_a_after_t_minus_1_plus_l_leaves_logits_at_t_unchanged() {
    for cfg in configs(32) {
        let (name, l) = (name(&cfg), cfg.lookahead);
        let (_, model) = models(&cfg, &format!("leak{name}"));
        let a = random_tokens(20, 7, 5);
        let w = random_tokens(20, 7, 15);
        let b = random_tokens(20, 7, 6);
        let base = full_logits(&model, &a, &w, &b);
        for t in [0usize, 3, 10, 19] {
            if cfg.has_window() {
                // p_t is heard at t, p_{t+1} is not.
                let mut w2 = w.clone();
                for x in w2.iter_mut().skip(t + 1) {
                    *x = (*x + 3) % 7;
                }
                let changed = full_logits(&model, &a, &w2, &b);
                let d = max_abs_diff(&base[..=t], &changed[..=t]);
                assert!(d < 1e-5, "{name}, t={t}: a future window leaked ({d})");
                let mut w3 = w.clone();
                w3[t] = (w3[t] + 3) % 7;
                let changed = full_logits(&model, &a, &w3, &b);
                let d = max_abs_diff(&base[t..=t], &changed[t..=t]);
                assert!(d > 1e-4, "{name}, t={t}: the window p_t should matter at t");
            }
            // a_{t-1+L} is the last visible A token; change everything after it.
            let first_hidden = t + l;
            let mut a2 = a.clone();
            for x in a2.iter_mut().skip(first_hidden) {
                *x = (*x + 3) % 7;
            }
            let changed = full_logits(&model, &a2, &w, &b);
            let d = max_abs_diff(&base[..=t], &changed[..=t]);
            assert!(
                d < 1e-5,
                "{name}, t={t}: future A leaked into the logits ({d})"
            );
            if first_hidden < 20 && t + 1 < 20 {
                // ... while the next position does see a_{t+L}.
                let d_next = max_abs_diff(&base[t + 1..t + 2], &changed[t + 1..t + 2]);
                assert!(d_next > 1e-4, "{name}, t={t}: a_(t+L) should matter at t+1");
            }
            // The B tokens after b_{t-1} are not visible either.
            let mut b2 = b.clone();
            for x in b2.iter_mut().skip(t) {
                *x = (*x + 1) % 7;
            }
            let changed = full_logits(&model, &a, &w, &b2);
            assert!(max_abs_diff(&base[..=t], &changed[..=t]) < 1e-5);
        }
    }
}

#[test]
fn stream_refuses_out_of_order_calls() {
    let cfg = small_config(1, 8);
    let (_, model) = models(&cfg, "order");
    let mut stream = DecisionStream::new(&model).unwrap();
    assert!(matches!(
        stream.next_logits(),
        Err(DecisionError::OutOfOrder(_))
    ));
    assert!(matches!(
        stream.push_response(0),
        Err(DecisionError::OutOfOrder(_))
    ));
    stream.push_guide(3).unwrap();
    assert!(matches!(
        stream.push_guide(3),
        Err(DecisionError::OutOfOrder(_))
    ));
    assert!(matches!(
        stream.push_guide(99),
        Err(DecisionError::TokenOutOfRange { .. })
    ));
    let first = stream.next_logits().unwrap().to_vec();
    assert_eq!(stream.next_logits().unwrap(), first.as_slice());
    stream.push_response(2).unwrap();
    assert_eq!(stream.response_len(), 1);
    stream.reset().unwrap();
    stream.push_guide(3).unwrap();
    assert_eq!(stream.next_logits().unwrap(), first.as_slice());
}

#[test]
fn teacher_forcing_shifts_and_pads() {
    let cfg = small_config(1, 8);
    let tf = cfg.teacher_forcing(&[1, 2, 3], &[], &[4, 5, 6], 1, 3);
    let (bos, pad) = (cfg.bos(), cfg.pad());
    assert_eq!(bos, 7);
    assert_eq!(pad, 8);
    assert_eq!(tf.guide, vec![1, 2, 3, pad]);
    assert_eq!(tf.response, vec![4, 5, 6]);
    assert_eq!(tf.targets, vec![5, 6, pad]);
    let tf = cfg.teacher_forcing(&[1, 2], &[], &[4, 5], 0, 2);
    assert_eq!(tf.guide, vec![bos, 1, 2]);
    assert_eq!(tf.response, vec![bos, 4]);
    assert!(tf.window.is_empty(), "no window without a reaction window");
    // A live model with a window: position t holds a_{t-1} and p_t.
    let cfg = DecisionConfig {
        reaction_s: 0.06,
        ..small_config(0, 8)
    };
    let tf = cfg.teacher_forcing(&[1, 2, 3], &[4, 5, 6], &[0, 1, 2], 1, 3);
    assert_eq!(tf.guide, vec![1, 2, 3]);
    assert_eq!(tf.window, vec![5, 6, pad]);
}

#[test]
fn a_stream_with_a_reaction_window_refuses_out_of_order_windows() {
    let cfg = DecisionConfig {
        reaction_s: 0.06,
        ..small_config(0, 8)
    };
    let (_, model) = models(&cfg, "window-order");
    let mut stream = DecisionStream::new(&model).unwrap();
    assert!(!stream.ready(), "slot 0 waits for its window");
    assert!(matches!(
        stream.next_logits(),
        Err(DecisionError::OutOfOrder(_))
    ));
    stream.push_window(2).unwrap();
    assert!(matches!(
        stream.push_window(2),
        Err(DecisionError::OutOfOrder(_))
    ));
    let first = stream.next_logits().unwrap().to_vec();
    stream.push_response(1).unwrap();
    // A whole token no window follows is replaced by the next one.
    stream.push_guide(4).unwrap();
    stream.push_guide(5).unwrap();
    stream.push_window(3).unwrap();
    let replaced = stream.next_logits().unwrap().to_vec();
    stream.reset().unwrap();
    stream.push_window(2).unwrap();
    assert_eq!(stream.next_logits().unwrap(), first.as_slice());
    stream.push_response(1).unwrap();
    stream.push_guide(5).unwrap();
    stream.push_window(3).unwrap();
    assert_eq!(stream.next_logits().unwrap(), replaced.as_slice());
    // Models without a window take none, and refuse a window model's missing input.
    let (_, live) = models(&small_config(0, 8), "window-none");
    let mut stream = DecisionStream::new(&live).unwrap();
    assert!(matches!(
        stream.push_window(2),
        Err(DecisionError::OutOfOrder(_))
    ));
    let mut bad = cfg.clone();
    bad.lookahead = 1;
    assert!(bad.validate().is_err(), "a window is for live models only");
    bad = DecisionConfig {
        reaction_s: 2.0,
        ..cfg
    };
    assert!(bad.validate().is_err(), "a window longer than allowed");
}

#[test]
fn invalid_configs_are_refused() {
    let mut cfg = small_config(0, 8);
    cfg.num_heads = 3;
    let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
    assert!(matches!(
        DecisionModel::new(&cfg, vb),
        Err(DecisionError::InvalidConfig(_))
    ));
    let mut cfg = small_config(0, 8);
    cfg.context = 0;
    assert!(cfg.validate().is_err());
    assert!(DecisionModel::load(std::path::Path::new("/nonexistent/ckpt"), &Device::Cpu).is_err());
}
