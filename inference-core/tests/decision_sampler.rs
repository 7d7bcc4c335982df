//! The sampler: exact distributions for each control, and empirical draws that match them.

use counterpart_core::decision::{DecisionError, Sampler, SamplerSettings};

fn settings(
    temperature: f32,
    top_p: f32,
    top_k: usize,
    freedom: f32,
    constrain: bool,
) -> SamplerSettings {
    SamplerSettings {
        temperature,
        top_p,
        top_k,
        freedom,
        constrain,
    }
}

/// Logits whose softmax is exactly `probs`.
fn logits_of(probs: &[f32]) -> Vec<f32> {
    probs.iter().map(|p| p.ln()).collect()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < 1e-5,
            "label {i}: got {g}, want {w} (all: {got:?})"
        );
    }
}

#[test]
fn top_p_keeps_the_label_that_crosses_p() {
    let counts = [1; 4];
    let logits = logits_of(&[0.5, 0.3, 0.15, 0.05]);
    // 0.5 < 0.6 ≤ 0.8: the crossing label 1 is kept.
    let mut s = Sampler::new(&counts, settings(1.0, 0.6, 0, 0.0, true), 0).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.625, 0.375, 0.0, 0.0]);
    // Exactly reaching p stops there.
    s.set_settings(settings(1.0, 0.8, 0, 0.0, true)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.625, 0.375, 0.0, 0.0]);
    // Below the first mass: only the top label.
    s.set_settings(settings(1.0, 0.1, 0, 0.0, true)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[1.0, 0.0, 0.0, 0.0]);
    s.set_settings(settings(1.0, 1.0, 0, 0.0, true)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.5, 0.3, 0.15, 0.05]);
}

#[test]
fn top_k_and_temperature() {
    let counts = [1; 4];
    let logits = logits_of(&[0.1, 0.4, 0.2, 0.3]);
    let mut s = Sampler::new(&counts, settings(1.0, 1.0, 2, 0.0, true), 0).unwrap();
    assert_close(
        s.distribution(&logits).unwrap(),
        &[0.0, 4.0 / 7.0, 0.0, 3.0 / 7.0],
    );
    // τ = 0.5 squares the probabilities before renormalising.
    s.set_settings(settings(0.5, 1.0, 0, 0.0, true)).unwrap();
    let z = 0.01 + 0.16 + 0.04 + 0.09;
    assert_close(
        s.distribution(&logits).unwrap(),
        &[0.01 / z, 0.16 / z, 0.04 / z, 0.09 / z],
    );
    // τ = 0 is the arg-max, deterministically.
    s.set_settings(settings(0.0, 0.5, 0, 0.0, true)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.0, 1.0, 0.0, 0.0]);
    for _ in 0..10 {
        assert_eq!(s.sample(&logits).unwrap(), 1);
    }
}

#[test]
fn constraint_masks_absent_labels_and_renormalises() {
    // Label 1 (the model's favourite) is absent from the corpus.
    let counts = [2, 0, 1, 1];
    let logits = logits_of(&[0.2, 0.6, 0.1, 0.1]);
    let mut s = Sampler::new(&counts, settings(1.0, 1.0, 0, 0.0, true), 3).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.5, 0.0, 0.25, 0.25]);
    for _ in 0..500 {
        assert_ne!(
            s.sample(&logits).unwrap(),
            1,
            "the constraint is never dropped"
        );
    }
    // Even at τ = 0 the arg-max is taken among allowed labels.
    s.set_settings(settings(0.0, 1.0, 0, 0.0, true)).unwrap();
    assert_eq!(s.sample(&logits).unwrap(), 0);
    // Without the constraint label 1 comes back.
    s.set_settings(settings(1.0, 1.0, 0, 0.0, false)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.2, 0.6, 0.1, 0.1]);
}

#[test]
fn follow_free_blends_with_the_corpus_prior() {
    let counts = [3, 1, 0, 0];
    let logits = logits_of(&[0.1, 0.1, 0.4, 0.4]);
    // Unconstrained, λ = 0.5: half model, half prior (0.75, 0.25, 0, 0).
    let mut s = Sampler::new(&counts, settings(1.0, 1.0, 0, 0.5, false), 0).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.425, 0.175, 0.2, 0.2]);
    // λ = 1 is the corpus prior whatever A says.
    s.set_settings(settings(1.0, 1.0, 0, 1.0, false)).unwrap();
    assert_close(s.distribution(&logits).unwrap(), &[0.75, 0.25, 0.0, 0.0]);
    assert_close(s.prior(), &[0.75, 0.25, 0.0, 0.0]);
}

#[test]
fn draws_follow_the_distribution_and_are_seeded() {
    let counts = [1; 5];
    let logits = logits_of(&[0.35, 0.3, 0.2, 0.1, 0.05]);
    let st = settings(1.0, 0.8, 0, 0.0, true);
    let mut s = Sampler::new(&counts, st, 42).unwrap();
    let want = s.distribution(&logits).unwrap().to_vec();
    assert_close(&want, &[0.35 / 0.85, 0.3 / 0.85, 0.2 / 0.85, 0.0, 0.0]);
    let n = 20_000;
    let mut hist = [0usize; 5];
    let mut draws = Vec::with_capacity(n);
    for _ in 0..n {
        let b = s.sample(&logits).unwrap();
        hist[b as usize] += 1;
        draws.push(b);
    }
    // Pearson's chi-square over the 3 kept labels (2 degrees of freedom; 99.9% quantile 13.8).
    let chi2: f64 = (0..3)
        .map(|i| {
            let e = want[i] as f64 * n as f64;
            (hist[i] as f64 - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 13.8, "chi2 = {chi2}, histogram {hist:?}");
    assert_eq!(hist[3] + hist[4], 0);
    // Same seed, same draws.
    let mut again = Sampler::new(&counts, st, 42).unwrap();
    let replay: Vec<u32> = (0..n).map(|_| again.sample(&logits).unwrap()).collect();
    assert_eq!(draws, replay);
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(
        Sampler::new(&[0, 0], SamplerSettings::default(), 0),
        Err(DecisionError::EmptyCorpus)
    ));
    let mut s = Sampler::new(&[1, 1, 1], SamplerSettings::default(), 0).unwrap();
    assert!(matches!(
        s.sample(&[0.0, f32::NAN, 0.0]),
        Err(DecisionError::NonFiniteLogits(1))
    ));
    assert!(matches!(
        s.sample(&[0.0, 0.0]),
        Err(DecisionError::LogitsLength { .. })
    ));
    for bad in [
        settings(-1.0, 0.9, 0, 0.0, true),
        settings(1.0, 0.0, 0, 0.0, true),
        settings(1.0, 1.5, 0, 0.0, true),
        settings(1.0, 0.9, 0, 1.5, true),
        settings(f32::NAN, 0.9, 0, 0.0, true),
    ] {
        assert!(matches!(
            s.set_settings(bad),
            Err(DecisionError::InvalidSettings(_))
        ));
    }
}
