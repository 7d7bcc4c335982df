//! The paper's symbolic metrics (§6): TPP and LCP, random and structural baselines, and
//! autoregressive generation with the streaming model.
//!
//! Our streams have no EOS slot (the model never emits one), so, unlike the authors' code, no
//! EOS position is counted: every position is a real segment.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use counterpart_core::decision::{DecisionError, DecisionModel, DecisionStream, Sampler};

use crate::data::dataset::{label_counts, PairedSequence, PairedTokenDataset};

/// True Positive Percentage of one sequence: the fraction of positions where the prediction
/// equals the truth (over the shorter length; 0 for empty input).
pub fn tpp(pred: &[u32], truth: &[u32]) -> f64 {
    let n = pred.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / n as f64
}

/// LCP at every position of `truth`: the length of the exact-match run starting there. A prediction
/// shorter than the truth counts as mismatching past its end.
pub fn lcp_per_position(pred: &[u32], truth: &[u32]) -> Vec<usize> {
    let mut out = vec![0; truth.len()];
    let mut run = 0;
    for i in (0..truth.len()).rev() {
        run = if pred.get(i) == Some(&truth[i]) {
            run + 1
        } else {
            0
        };
        out[i] = run;
    }
    out
}

/// Scores of a set of generated sequences against their truths.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// TPP pooled over all positions of all sequences.
    pub tpp: f64,
    /// Mean of the per-sequence TPP.
    pub tpp_sequence_mean: f64,
    /// Standard deviation of the per-sequence TPP.
    pub tpp_sequence_std: f64,
    /// Mean LCP over all positions.
    pub lcp_mean: f64,
    /// Mean LCP at each position index, over the sequences long enough to have it.
    pub lcp_per_position: Vec<f64>,
    /// `lcp_histogram[ℓ]`: number of positions whose LCP is ℓ (zeros included).
    pub lcp_histogram: Vec<usize>,
}

/// Scores `(prediction, truth)` pairs: TPP and LCP (mean per position and histogram).
pub fn score<P: AsRef<[u32]>, T: AsRef<[u32]>>(pairs: &[(P, T)]) -> Scores {
    let (mut hits, mut total) = (0usize, 0usize);
    let mut per_seq = Vec::with_capacity(pairs.len());
    let mut pos_sum: Vec<f64> = Vec::new();
    let mut pos_count: Vec<usize> = Vec::new();
    let mut hist: Vec<usize> = Vec::new();
    let mut lcp_sum = 0.0;
    for (pred, truth) in pairs {
        let (pred, truth) = (pred.as_ref(), truth.as_ref());
        let n = truth.len();
        hits += (0..n).filter(|&i| pred.get(i) == Some(&truth[i])).count();
        total += n;
        if n > 0 {
            per_seq
                .push((0..n).filter(|&i| pred.get(i) == Some(&truth[i])).count() as f64 / n as f64);
        }
        let lcp = lcp_per_position(pred, truth);
        if pos_sum.len() < n {
            pos_sum.resize(n, 0.0);
            pos_count.resize(n, 0);
        }
        for (i, &l) in lcp.iter().enumerate() {
            pos_sum[i] += l as f64;
            pos_count[i] += 1;
            lcp_sum += l as f64;
            if hist.len() <= l {
                hist.resize(l + 1, 0);
            }
            hist[l] += 1;
        }
    }
    let mean = per_seq.iter().sum::<f64>() / per_seq.len().max(1) as f64;
    let var = per_seq.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / per_seq.len().max(1) as f64;
    Scores {
        tpp: hits as f64 / total.max(1) as f64,
        tpp_sequence_mean: mean,
        tpp_sequence_std: var.sqrt(),
        lcp_mean: lcp_sum / total.max(1) as f64,
        lcp_per_position: pos_sum
            .iter()
            .zip(&pos_count)
            .map(|(s, &c)| s / c as f64)
            .collect(),
        lcp_histogram: hist,
    }
}

/// Expected TPP and mean LCP when every position matches independently with probability `q`:
/// `(q, q / (1 − q))`, ignoring the end of the sequence.
pub fn expected_iid_scores(q: f64) -> (f64, f64) {
    (
        q,
        if q < 1.0 {
            q / (1.0 - q)
        } else {
            f64::INFINITY
        },
    )
}

/// Baselines predicting B without the model (§6.4 and the structural controls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// Uniform over the K labels.
    UniformK,
    /// I.i.d. from the histogram of the true B sequence.
    LabelHistogram,
    /// Uniform over the labels present in the true B sequence.
    UniformPresent,
    /// The most frequent label of the true B sequence at every position (ties to the lower
    /// label): the arg-max counterpart of [`Baseline::LabelHistogram`], to compare arg-max
    /// decoding with.
    Majority,
    /// B := A, position by position.
    CopyA,
}

impl Baseline {
    /// The match probability `q` of a random baseline on `truth`, for [`expected_iid_scores`]
    /// (`None` for [`Baseline::Majority`] and [`Baseline::CopyA`], which are not random).
    pub fn match_probability(self, vocab_size: usize, truth: &[u32]) -> Option<f64> {
        let n = truth.len() as f64;
        let counts = label_counts(truth, vocab_size);
        match self {
            Baseline::UniformK => Some(1.0 / vocab_size as f64),
            Baseline::LabelHistogram => Some(counts.iter().map(|&c| (c as f64 / n).powi(2)).sum()),
            Baseline::UniformPresent => {
                Some(1.0 / counts.iter().filter(|&&c| c > 0).count() as f64)
            }
            Baseline::Majority | Baseline::CopyA => None,
        }
    }

    /// The baseline's prediction for every pair of `data`, seeded.
    pub fn predict(self, data: &PairedTokenDataset, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = data.vocab_size as u32;
        data.pairs
            .iter()
            .map(|p| match self {
                Baseline::UniformK => (0..p.b.len()).map(|_| rng.random_range(0..k)).collect(),
                Baseline::LabelHistogram => (0..p.b.len())
                    .map(|_| p.b[rng.random_range(0..p.b.len())])
                    .collect(),
                Baseline::UniformPresent => {
                    let mut present: Vec<u32> = p.b.clone();
                    present.sort_unstable();
                    present.dedup();
                    (0..p.b.len())
                        .map(|_| *present.choose(&mut rng).expect("B is not empty"))
                        .collect()
                }
                Baseline::Majority => vec![majority_label(&p.b); p.b.len()],
                Baseline::CopyA => p.a.clone(),
            })
            .collect()
    }
}

/// The most frequent label of `seq` (ties to the lower label; 0 for an empty sequence).
pub fn majority_label(seq: &[u32]) -> u32 {
    let mut counts = std::collections::BTreeMap::new();
    for &t in seq {
        *counts.entry(t).or_insert(0usize) += 1;
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(0, |(&label, _)| label)
}

/// A guide's tokens `a` and its reaction-window tokens (empty when not encoded), as
/// [`generate`] takes them.
pub type GuideTokens = (Vec<u32>, Vec<u32>);

/// Shuffled-pair control: for every pair, a guide A (with its windows) taken from a pair of
/// *another* piece (seeded choice), cycled or cut to the length of B. Generating from these
/// guides and scoring against the true B measures how much of the score does not come from A.
/// `None` when the dataset has a single piece.
pub fn shuffled_guides(data: &PairedTokenDataset, seed: u64) -> Option<Vec<GuideTokens>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    data.pairs
        .iter()
        .map(|p| {
            let others: Vec<&PairedSequence> = data
                .pairs
                .iter()
                .filter(|q| q.piece != p.piece && !q.a.is_empty())
                .collect();
            let other = others.choose(&mut rng)?;
            let cycled = |seq: &[u32]| seq.iter().copied().cycle().take(p.b.len()).collect();
            Some((cycled(&other.a), cycled(&other.windows)))
        })
        .collect()
}

/// Generates `len` labels of B from guide `a` with the streaming model and `sampler`, in the
/// live timing of the model's look-ahead (A is padded with nothing: `a` must hold at least
/// `len − 1 + L` tokens). A model with a reaction window also hears `windows` (aligned with
/// `a`, at least `len` of them): `b_t` is chosen once the window of segment `t` is pushed.
pub fn generate(
    model: &DecisionModel,
    a: &[u32],
    windows: &[u32],
    len: usize,
    sampler: &mut Sampler,
) -> Result<Vec<u32>, DecisionError> {
    let cfg = model.config();
    let l = cfg.lookahead;
    let needed = (len + l).saturating_sub(1);
    if a.len() < needed || (cfg.has_window() && windows.len() < len) {
        return Err(DecisionError::OutOfOrder(format!(
            "generating {len} labels with L = {l} needs {needed} A tokens{}, got {} and {} windows",
            if cfg.has_window() {
                " and as many windows"
            } else {
                ""
            },
            a.len(),
            windows.len()
        )));
    }
    let mut stream = DecisionStream::new(model)?;
    let mut out = Vec::with_capacity(len);
    for t in 0..len {
        if cfg.has_window() {
            if t > 0 {
                stream.push_guide(a[t - 1])?;
            }
            stream.push_window(windows[t])?;
        } else {
            while stream.guide_len() < t + l {
                stream.push_guide(a[stream.guide_len()])?;
            }
        }
        let b = sampler.sample(stream.next_logits()?)?;
        stream.push_response(b)?;
        out.push(b);
    }
    Ok(out)
}
