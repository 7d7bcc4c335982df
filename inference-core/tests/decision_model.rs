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
    }
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

/// Teacher-forced logits `(t, K)` over the whole stream from its start.
fn full_logits(model: &DecisionModel, a: &[u32], b: &[u32]) -> Vec<Vec<f32>> {
    let tf: TeacherForcing = model.config().teacher_forcing(a, b, 0, b.len());
    let guide = Tensor::new(tf.guide.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let response = Tensor::new(tf.response.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    model
        .forward(&guide, &response, None)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap()
}

/// Logits of the incremental step, committing the given B tokens (teacher forcing).
fn streamed_logits(model: &DecisionModel, a: &[u32], b: &[u32]) -> Vec<Vec<f32>> {
    let l = model.config().lookahead;
    let mut stream = DecisionStream::new(model).unwrap();
    let mut out = Vec::new();
    for (t, &b_t) in b.iter().enumerate() {
        while stream.guide_len() < t + l {
            stream.push_guide(a[stream.guide_len()]).unwrap();
        }
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
    for l in [0, 1] {
        let cfg = small_config(l, 16);
        let (trainable, loaded) = models(&cfg, &format!("within{l}"));
        let a = random_tokens(16, 7, 1);
        let b = random_tokens(16, 7, 2);
        let full = full_logits(&loaded, &a, &b);
        let full_tracked = full_logits(&trainable, &a, &b);
        let streamed = streamed_logits(&loaded, &a, &b);
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
    for l in [0, 1] {
        let cfg = small_config(l, 5);
        let (_, model) = models(&cfg, &format!("beyond{l}"));
        let a = random_tokens(23, 7, 3);
        let b = random_tokens(23, 7, 4);
        let full = full_logits(&model, &a, &b);
        let streamed = streamed_logits(&model, &a, &b);
        let d = max_abs_diff(&full, &streamed);
        assert!(
            d < 1e-4,
            "L={l}: ring-buffer stream differs from the banded pass by {d}"
        );
    }
}

#[test]
fn changing_a_after_t_minus_1_plus_l_leaves_logits_at_t_unchanged() {
    for l in [0, 1] {
        let cfg = small_config(l, 32);
        let (_, model) = models(&cfg, &format!("leak{l}"));
        let a = random_tokens(20, 7, 5);
        let b = random_tokens(20, 7, 6);
        let base = full_logits(&model, &a, &b);
        for t in [0usize, 3, 10, 19] {
            // a_{t-1+L} is the last visible A token; change everything after it.
            let first_hidden = t + l;
            let mut a2 = a.clone();
            for x in a2.iter_mut().skip(first_hidden) {
                *x = (*x + 3) % 7;
            }
            let changed = full_logits(&model, &a2, &b);
            let d = max_abs_diff(&base[..=t], &changed[..=t]);
            assert!(
                d < 1e-5,
                "L={l}, t={t}: future A leaked into the logits ({d})"
            );
            if first_hidden < 20 && t + 1 < 20 {
                // ... while the next position does see a_{t+L}.
                let d_next = max_abs_diff(&base[t + 1..t + 2], &changed[t + 1..t + 2]);
                assert!(d_next > 1e-4, "L={l}, t={t}: a_(t+L) should matter at t+1");
            }
            // The B tokens after b_{t-1} are not visible either.
            let mut b2 = b.clone();
            for x in b2.iter_mut().skip(t) {
                *x = (*x + 1) % 7;
            }
            let changed = full_logits(&model, &a, &b2);
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
    let tf = cfg.teacher_forcing(&[1, 2, 3], &[4, 5, 6], 1, 3);
    let (bos, pad) = (cfg.bos(), cfg.pad());
    assert_eq!(bos, 7);
    assert_eq!(pad, 8);
    assert_eq!(tf.guide, vec![1, 2, 3, pad]);
    assert_eq!(tf.response, vec![4, 5, 6]);
    assert_eq!(tf.targets, vec![5, 6, pad]);
    let tf = cfg.teacher_forcing(&[1, 2], &[4, 5], 0, 2);
    assert_eq!(tf.guide, vec![bos, 1, 2]);
    assert_eq!(tf.response, vec![bos, 4]);
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
