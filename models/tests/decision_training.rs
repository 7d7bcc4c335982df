//! Training the decision model on a synthetic paired dataset with a learnable rule.

use candle_core::Device;
use counterpart_core::decision::{
    seeded_model, DecisionConfig, DecisionModel, Sampler, SamplerSettings,
};
use counterpart_models::data::dataset::PairedTokenDataset;
use counterpart_models::eval::metrics::{generate, score, Scores};
use counterpart_models::pipeline::train::{
    evaluate, learning_rate, loss_and_hits, make_batch, noisy_history, sorted_vars, train,
    TrainConfig, LOSS_LOG_FILE,
};
use rand::SeedableRng;

fn tiny(vocab: usize, lookahead: usize) -> DecisionConfig {
    DecisionConfig {
        vocab_size: vocab,
        d_model: 32,
        num_heads: 4,
        encoder_layers: 1,
        decoder_layers: 1,
        ffn_dim: 64,
        context: 16,
        lookahead,
        dropout: 0.1,
        rope_theta: 10_000.0,
        layer_norm_eps: 1e-5,
        reaction_s: 0.0,
    }
}

fn options(epochs: usize, steps: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        batch_size: 16,
        window: Some(16),
        learning_rate: 3e-3,
        warmup_steps: 20,
        max_epochs: epochs,
        steps_per_epoch: Some(steps),
        patience: 100,
        seed,
        time_budget: None,
        show_progress: false,
        ..TrainConfig::default()
    }
}

/// An arg-max sampler over `data`'s response labels.
fn argmax_sampler(data: &PairedTokenDataset) -> Sampler {
    Sampler::new(
        &data.response_label_counts(),
        SamplerSettings {
            temperature: 0.0,
            ..Default::default()
        },
        1,
    )
    .unwrap()
}

/// The scores of `model`'s free-running generation (the stream, arg-max) over `data`'s pairs.
fn generated_scores(model: &DecisionModel, data: &PairedTokenDataset) -> Scores {
    let mut sampler = argmax_sampler(data);
    let pairs: Vec<(Vec<u32>, Vec<u32>)> = data
        .pairs
        .iter()
        .map(|p| {
            let b = generate(model, &p.a, &p.windows, p.b.len(), &mut sampler).unwrap();
            (b, p.b.clone())
        })
        .collect();
    score(&pairs)
}

fn out_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("counterpart-train-{tag}-{}", std::process::id()))
}

#[test]
fn loss_falls_and_accuracy_rises_well_above_chance() {
    let k = 8;
    let data = PairedTokenDataset::synthetic(k, 16, 48, 11);
    let (train_set, val_set) = data.split_by_piece(0.25, 3);
    let cfg = tiny(k, 0);
    let dir = out_dir("learn");
    let report = train(
        &cfg,
        &train_set,
        &val_set,
        &options(12, 25, 5),
        &dir,
        &Device::Cpu,
    )
    .unwrap();
    let first = &report.epochs[0];
    let last = report.epochs.last().unwrap();
    // Half the pairs (follow → lead) are unpredictable, so the loss floor is about ln 8 / 2 ≈ 1.1.
    assert!(
        last.train_loss < 0.7 * first.train_loss,
        "{:?}",
        report.epochs
    );
    assert!(last.val_loss < first.val_loss);

    // The learnable direction (lead → follow) is predicted almost perfectly; chance is 1/8.
    let model = DecisionModel::load(&report.checkpoint, &Device::Cpu).unwrap();
    let follow = val_set.filter(|p| p.response == "follow");
    let (_, acc) = evaluate(&model, &follow, 16, 8).unwrap();
    assert!(acc > 0.8, "teacher-forced accuracy {acc}");
    // Free-running generation with the stream and an arg-max sampler scores the same way.
    let s = generated_scores(&model, &follow);
    assert!(s.tpp > 0.8, "generated TPP {}", s.tpp);
    assert!(s.lcp_mean > 3.0, "generated LCP {}", s.lcp_mean);

    // The checkpoint holds the best epoch, and the log has one line per epoch.
    let (best_loss, best_acc) = evaluate(&model, &val_set, 16, 16).unwrap();
    assert!((best_loss - report.best_val_loss).abs() < 1e-4);
    assert!((best_acc - report.best_val_accuracy).abs() < 1e-9);
    let log = std::fs::read_to_string(dir.join(LOSS_LOG_FILE)).unwrap();
    assert_eq!(log.lines().count(), report.epochs.len() + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_is_reproducible_from_its_seed() {
    let data = PairedTokenDataset::synthetic(6, 6, 24, 2);
    let (tr, va) = data.split_by_piece(0.34, 0);
    let run = |tag: &str, seed: u64| {
        let dir = out_dir(tag);
        let r = train(
            &tiny(6, 1),
            &tr,
            &va,
            &options(2, 4, seed),
            &dir,
            &Device::Cpu,
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        r.epochs
            .iter()
            .map(|e| (e.train_loss, e.val_loss))
            .collect::<Vec<_>>()
    };
    let a = run("repro-a", 9);
    assert_eq!(a, run("repro-b", 9));
    assert_ne!(a, run("repro-c", 10));
}

#[test]
fn every_variable_gets_a_gradient() {
    let cfg = tiny(5, 1);
    let data = PairedTokenDataset::synthetic(5, 2, 20, 0);
    let (model, varmap) = seeded_model(&cfg, 0, &Device::Cpu).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let windows: Vec<_> = (0..4).map(|_| data.random_window(16, &mut rng)).collect();
    let batch = make_batch(&cfg, &data, &windows, 16, &Device::Cpu).unwrap();
    let logits = model
        .forward(
            &batch.guide,
            batch.window.as_ref(),
            &batch.response,
            Some(&mut rng),
        )
        .unwrap();
    let (loss, _, _) = loss_and_hits(&logits, &batch.targets, cfg.pad(), 0.1).unwrap();
    let grads = loss.backward().unwrap();
    let vars = sorted_vars(&varmap);
    assert!(vars.len() > 20);
    for (name, var) in vars {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name} has a zero gradient");
    }
}

#[test]
fn label_smoothed_loss_matches_hand_computation() {
    // Two classes, logits (0, ln 3): p = (1/4, 3/4). Target 1; the second row is PAD (ignored).
    let logits =
        candle_core::Tensor::new(&[[[0.0f32, 3f32.ln()], [5.0, 0.0]]], &Device::Cpu).unwrap();
    let pad = 2;
    let targets = candle_core::Tensor::new(&[[1u32, pad]], &Device::Cpu).unwrap();
    let (loss, hits, counted) = loss_and_hits(&logits, &targets, pad, 0.1).unwrap();
    let nll = -(0.75f64).ln();
    let uniform = -((0.25f64).ln() + (0.75f64).ln()) / 2.0;
    let want = 0.9 * nll + 0.1 * uniform;
    assert!((loss.to_scalar::<f32>().unwrap() as f64 - want).abs() < 1e-5);
    assert_eq!((hits, counted), (1, 1));
}

#[test]
fn learning_rate_warms_up_then_decays_by_cosine() {
    let cfg = TrainConfig {
        learning_rate: 1.0,
        min_lr_ratio: 0.1,
        warmup_steps: 10,
        ..TrainConfig::default()
    };
    assert!((learning_rate(&cfg, 0, 110) - 0.1).abs() < 1e-12);
    assert!((learning_rate(&cfg, 9, 110) - 1.0).abs() < 1e-12);
    assert!((learning_rate(&cfg, 10, 110) - 1.0).abs() < 1e-12);
    assert!((learning_rate(&cfg, 60, 110) - 0.55).abs() < 1e-12);
    assert!((learning_rate(&cfg, 110, 110) - 0.1).abs() < 1e-12);
}

#[test]
fn history_noise_replaces_content_labels_only_at_its_rate() {
    let k = 8usize;
    let ids: Vec<u32> = (0..4000)
        .map(|i| {
            if i % 10 == 0 {
                k as u32
            } else {
                (i % 7) as u32
            }
        })
        .collect();
    let response = candle_core::Tensor::from_vec(ids.clone(), (40, 100), &Device::Cpu).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let same = noisy_history(&response, k, 0.0, &mut rng).unwrap();
    assert_eq!(same.flatten_all().unwrap().to_vec1::<u32>().unwrap(), ids);
    let noisy: Vec<u32> = noisy_history(&response, k, 0.5, &mut rng)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(
        noisy.iter().filter(|&&t| t == k as u32).count(),
        400,
        "special tokens stay"
    );
    assert!(noisy.iter().all(|&t| t <= k as u32));
    // Replaced with probability 0.5 by a uniform label, of which 1/8 is the same one.
    let changed = noisy.iter().zip(&ids).filter(|(a, b)| a != b).count() as f64 / 3600.0;
    assert!((changed - 0.5 * 7.0 / 8.0).abs() < 0.04, "{changed}");
}

/// Constrained evaluation masks each pair to the labels of its own target track by default, and
/// to the preset's corpus on request.
#[test]
fn constrained_evaluation_uses_each_target_track_or_the_preset_corpus() {
    use counterpart_models::data::dataset::PairedSequence;
    use counterpart_models::pipeline::evaluate::{evaluate_model, EvalCorpus, EvalSampling};

    let (model, _) = seeded_model(&tiny(8, 1), 3, &Device::Cpu).unwrap();
    let pair = |piece: &str, a: u32, b: u32| PairedSequence {
        piece: piece.into(),
        guide: "a".into(),
        response: "b".into(),
        a: vec![a; 20],
        windows: Vec::new(),
        b: vec![b; 20],
    };
    // Each target track holds one label, a different one per piece.
    let data = PairedTokenDataset {
        vocab_size: 8,
        pairs: vec![pair("p1", 0, 2), pair("p2", 1, 6), pair("p3", 4, 5)],
    };
    let corpus = [1u32; 8];
    let target = EvalSampling::new(true);
    assert_eq!(target.corpus, EvalCorpus::Target);
    let report = evaluate_model(&model, &data, &corpus, &target).unwrap();
    assert_eq!(report.model.tpp, 1.0, "one allowed label per target track");
    assert_eq!(report.baselines["shuffled"].tpp, 1.0);
    assert!(report
        .table()
        .contains("constrained to the target track's labels"));

    // The preset's corpus has all 8 labels: an untrained model misses most of them.
    let preset = EvalSampling {
        corpus: EvalCorpus::Preset,
        ..target
    };
    let report = evaluate_model(&model, &data, &corpus, &preset).unwrap();
    assert!(report.model.tpp < 0.6, "TPP {}", report.model.tpp);
    // Unconstrained, the corpus choice does not matter.
    let free = |corpus| EvalSampling {
        corpus,
        ..EvalSampling::new(false)
    };
    let (a, b) = (
        evaluate_model(&model, &data, &corpus, &free(EvalCorpus::Target)).unwrap(),
        evaluate_model(&model, &data, &corpus, &free(EvalCorpus::Preset)).unwrap(),
    );
    assert_eq!(a.model, b.model);
    // A corpus of another K is refused.
    assert!(evaluate_model(&model, &data, &[1u32; 4], &target).is_err());
}

/// Codebook-informed label init: labels with close centres start with close embedding and output
/// rows, the special tokens' rows are untouched, and bad centres are refused.
#[test]
fn label_init_places_close_centres_close() {
    use counterpart_core::decision::LabelInit;

    let cfg = tiny(4, 1);
    let cosine = |m: &[Vec<f32>], i: usize, j: usize| {
        let dot: f32 = m[i].iter().zip(&m[j]).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(&m[i]) * norm(&m[j]))
    };
    let rows = |varmap: &candle_nn::VarMap, name: &str| -> Vec<Vec<f32>> {
        varmap.data().lock().unwrap()[name]
            .as_tensor()
            .to_vec2()
            .unwrap()
    };
    // Labels 0 and 1 are neighbours; 2 and 3 are far from them and from each other.
    let init = LabelInit {
        centres: vec![
            1.0, 0.0, 0.0, //
            1.0, 0.1, 0.0, //
            -1.0, 0.0, 1.0, //
            0.0, -1.0, -1.0,
        ],
        dim: 3,
        weight: 0.9,
    };
    let (_, random) = seeded_model(&cfg, 5, &Device::Cpu).unwrap();
    let (_, varmap) = seeded_model(&cfg, 5, &Device::Cpu).unwrap();
    init.apply(&varmap, &cfg, 5).unwrap();
    for name in ["embed.weight", "head.weight"] {
        let (before, after) = (rows(&random, name), rows(&varmap, name));
        assert!(
            cosine(&after, 0, 1) > 0.6,
            "{name}: {}",
            cosine(&after, 0, 1)
        );
        assert!(cosine(&after, 0, 1) > cosine(&after, 0, 2) + 0.5);
        assert!(cosine(&after, 0, 1) > cosine(&after, 0, 3) + 0.5);
        // Same scale as the random rows; the special tokens' rows are unchanged.
        let rms = |m: &[Vec<f32>]| {
            let v: Vec<f32> = m[..4].concat();
            (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt()
        };
        assert!((rms(&after) / rms(&before) - 1.0).abs() < 0.3, "{name}");
        assert_eq!(before[4..], after[4..], "{name}");
    }
    let bad = LabelInit {
        centres: vec![0.0; 5],
        ..init.clone()
    };
    assert!(bad.apply(&varmap, &cfg, 5).is_err());
    let bad = LabelInit {
        weight: 1.5,
        ..init
    };
    assert!(bad.apply(&varmap, &cfg, 5).is_err());
}

/// A live model hears the segment it answers only through its reaction window: with a rule on
/// the current guide label, `b_t = (a_t + 3) mod K`, a live model without a window is at
/// chance, one with a window (here one that always hears its segment's label) learns the rule,
/// and the stream that plays it (windows pushed as perception delivers them) scores the same.
#[test]
fn a_live_model_with_a_reaction_window_answers_the_current_segment() {
    use counterpart_models::data::dataset::PairedSequence;

    let k = 8u32;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let pairs = (0..16)
        .map(|i| {
            let a: Vec<u32> = (0..48)
                .map(|_| rand::Rng::random_range(&mut rng, 0..k))
                .collect();
            PairedSequence {
                piece: format!("p{i}"),
                guide: "lead".into(),
                response: "follow".into(),
                windows: a.clone(),
                b: a.iter().map(|&x| (x + 3) % k).collect(),
                a,
            }
        })
        .collect();
    let data = PairedTokenDataset {
        vocab_size: k as usize,
        pairs,
    };
    let (train_set, val_set) = data.split_by_piece(0.25, 3);
    let accuracy = |cfg: &DecisionConfig, tag: &str| {
        let dir = out_dir(tag);
        let report = train(
            cfg,
            &train_set,
            &val_set,
            &options(8, 25, 5),
            &dir,
            &Device::Cpu,
        )
        .unwrap();
        let model = DecisionModel::load(&report.checkpoint, &Device::Cpu).unwrap();
        assert_eq!(
            model.config().reaction_s,
            cfg.reaction_s,
            "saved with the model"
        );
        let (_, acc) = evaluate(&model, &val_set, 16, 8).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (model, acc)
    };
    let (_, without) = accuracy(&tiny(k as usize, 0), "no-window");
    let windowed = DecisionConfig {
        reaction_s: 0.06,
        ..tiny(k as usize, 0)
    };
    let (model, with) = accuracy(&windowed, "window");
    assert!(without < 0.3, "without a window: {without} (chance 1/8)");
    assert!(with > 0.9, "with a window: {with}");

    let s = generated_scores(&model, &val_set);
    assert!(s.tpp > 0.9, "generated TPP {}", s.tpp);
    // Without its windows, the model cannot be run.
    let mut sampler = argmax_sampler(&val_set);
    assert!(generate(&model, &val_set.pairs[0].a, &[], 4, &mut sampler).is_err());
}
