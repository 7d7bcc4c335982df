//! Sampling B's next label from the decision model's logits.
//!
//! Owned by the worker thread. Every buffer is allocated in [`Sampler::new`]; [`Sampler::sample`]
//! and [`Sampler::distribution`] do not allocate.
//!
//! The distribution sampled from is built in this order:
//! 1. **Constraint** (optional): a hard mask to the labels present in the loaded corpus. Masked
//!    labels get probability 0 and the rest is renormalised; the mask is never dropped, and a
//!    corpus with no label is refused at construction.
//! 2. **Temperature** τ: `q = softmax(logits / τ)` over the allowed labels. τ = 0 is the limit
//!    τ → 0: all mass on the arg-max (lowest id on ties).
//! 3. **Follow ↔ free**: `r = (1 − λ)·q + λ·prior`, where `prior` is the corpus label histogram
//!    restricted to the allowed labels and renormalised. λ = 0 follows the model, λ = 1 ignores A
//!    and plays the corpus statistics.
//! 4. **Top-k** (k = 0: off) then **top-p**: keep the k most probable labels, then the smallest
//!    set of most probable labels whose mass is ≥ p, *including* the label that crosses p;
//!    renormalise.
//! 5. **Draw** with the sampler's seeded generator; with τ = 0 the arg-max of step 4 is taken
//!    instead (no randomness).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::DecisionError;

/// User-facing sampling controls (GUI parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerSettings {
    /// Temperature τ ≥ 0; 0 means arg-max.
    pub temperature: f32,
    /// Nucleus mass p in (0, 1]; 1 disables top-p.
    pub top_p: f32,
    /// Keep at most this many labels; 0 disables top-k.
    pub top_k: usize,
    /// Follow ↔ free blend λ in [0, 1]: weight of the corpus label prior.
    pub freedom: f32,
    /// Restrict to labels present in the corpus.
    pub constrain: bool,
}

/// The default sampling temperature: 0.5 keeps 96 % of arg-max's harmony with the guide in
/// aligned mode, keeps the companion sounding in live mode, and still varies from take to take
/// (the "As heard" trade-off in `docs/results/heard.md`).
pub const DEFAULT_TEMPERATURE: f32 = 0.5;

impl Default for SamplerSettings {
    fn default() -> Self {
        Self {
            temperature: DEFAULT_TEMPERATURE,
            top_p: 0.9,
            top_k: 0,
            freedom: 0.0,
            constrain: true,
        }
    }
}

impl SamplerSettings {
    fn validate(&self) -> Result<(), DecisionError> {
        let bad = |m: &str| Err(DecisionError::InvalidSettings(m.to_string()));
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature must be finite and ≥ 0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.freedom) {
            return bad("freedom must be in [0, 1]");
        }
        Ok(())
    }
}

/// Seeded sampler over K content labels with a corpus constraint and prior.
#[derive(Debug)]
pub struct Sampler {
    settings: SamplerSettings,
    /// Labels present in the corpus.
    present: Vec<bool>,
    /// Corpus label counts, as given.
    counts: Vec<f32>,
    /// Corpus prior restricted to the allowed labels, renormalised (depends on `constrain`).
    prior: Vec<f32>,
    rng: ChaCha8Rng,
    /// Scratch: the distribution being built.
    probs: Vec<f32>,
    /// Scratch: label ids sorted by decreasing probability.
    order: Vec<u32>,
}

impl Sampler {
    /// A sampler for a corpus whose label `i` occurs `corpus_counts[i]` times (K =
    /// `corpus_counts.len()`), with a seeded generator.
    pub fn new(
        corpus_counts: &[u32],
        settings: SamplerSettings,
        seed: u64,
    ) -> Result<Self, DecisionError> {
        if corpus_counts.iter().all(|&c| c == 0) {
            return Err(DecisionError::EmptyCorpus);
        }
        settings.validate()?;
        let k = corpus_counts.len();
        let mut sampler = Self {
            settings,
            present: corpus_counts.iter().map(|&c| c > 0).collect(),
            counts: corpus_counts.iter().map(|&c| c as f32).collect(),
            prior: vec![0.0; k],
            rng: ChaCha8Rng::seed_from_u64(seed),
            probs: vec![0.0; k],
            order: (0..k as u32).collect(),
        };
        sampler.update_prior();
        Ok(sampler)
    }

    /// Number of content labels K.
    pub fn vocab_size(&self) -> usize {
        self.present.len()
    }

    /// Current settings.
    pub fn settings(&self) -> SamplerSettings {
        self.settings
    }

    /// Changes the settings (no allocation).
    pub fn set_settings(&mut self, settings: SamplerSettings) -> Result<(), DecisionError> {
        settings.validate()?;
        self.settings = settings;
        self.update_prior();
        Ok(())
    }

    /// The corpus prior over the allowed labels (sums to 1).
    pub fn prior(&self) -> &[f32] {
        &self.prior
    }

    fn allowed(&self, i: usize) -> bool {
        !self.settings.constrain || self.present[i]
    }

    fn update_prior(&mut self) {
        let mut total = 0.0;
        for i in 0..self.counts.len() {
            let c = if self.allowed(i) { self.counts[i] } else { 0.0 };
            self.prior[i] = c;
            total += c;
        }
        // `new` refuses an all-zero corpus, and every present label is allowed: total > 0.
        for p in &mut self.prior {
            *p /= total;
        }
    }

    /// The distribution the next draw comes from (steps 1–4 of the module docs), over K labels.
    pub fn distribution(&mut self, logits: &[f32]) -> Result<&[f32], DecisionError> {
        let k = self.vocab_size();
        if logits.len() != k {
            return Err(DecisionError::LogitsLength {
                expected: k,
                got: logits.len(),
            });
        }
        if let Some(i) = logits.iter().position(|l| !l.is_finite()) {
            return Err(DecisionError::NonFiniteLogits(i));
        }
        let s = self.settings;

        // 1–2: constraint and temperature.
        let mut best = usize::MAX;
        for i in 0..k {
            if self.allowed(i) && (best == usize::MAX || logits[i] > logits[best]) {
                best = i;
            }
        }
        if s.temperature == 0.0 {
            self.probs.fill(0.0);
            self.probs[best] = 1.0;
        } else {
            let max = logits[best];
            let inv_t = 1.0 / s.temperature;
            let mut total = 0.0;
            for (i, &logit) in logits.iter().enumerate() {
                let p = if self.allowed(i) {
                    ((logit - max) * inv_t).exp()
                } else {
                    0.0
                };
                self.probs[i] = p;
                total += p;
            }
            // The arg-max contributes exp(0) = 1, so total ≥ 1.
            for p in &mut self.probs {
                *p /= total;
            }
        }

        // 3: follow ↔ free.
        if s.freedom > 0.0 {
            for (p, prior) in self.probs.iter_mut().zip(&self.prior) {
                *p = (1.0 - s.freedom) * *p + s.freedom * prior;
            }
        }

        // 4: top-k, then top-p, on labels sorted by decreasing probability (lowest id on ties).
        let probs = &self.probs;
        self.order.sort_unstable_by(|&a, &b| {
            probs[b as usize]
                .total_cmp(&probs[a as usize])
                .then(a.cmp(&b))
        });
        let nonzero = self
            .order
            .iter()
            .take_while(|&&i| probs[i as usize] > 0.0)
            .count();
        let mut keep = if s.top_k > 0 {
            nonzero.min(s.top_k)
        } else {
            nonzero
        };
        if s.top_p < 1.0 {
            let top_k_mass: f32 = self.order[..keep].iter().map(|&i| probs[i as usize]).sum();
            let target = s.top_p * top_k_mass;
            let mut mass = 0.0;
            for (n, &i) in self.order[..keep].iter().enumerate() {
                mass += probs[i as usize];
                if mass >= target {
                    keep = n + 1;
                    break;
                }
            }
        }
        let kept_mass: f32 = self.order[..keep]
            .iter()
            .map(|&i| self.probs[i as usize])
            .sum();
        for &i in &self.order[keep..] {
            self.probs[i as usize] = 0.0;
        }
        for &i in &self.order[..keep] {
            self.probs[i as usize] /= kept_mass;
        }
        Ok(&self.probs)
    }

    /// Draws B's next label from `logits` (length K). Never returns a special token, nor a label
    /// outside the corpus when the constraint is on.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, DecisionError> {
        self.distribution(logits)?;
        // `order` now lists labels by decreasing probability; kept ones come first.
        if self.settings.temperature == 0.0 {
            return Ok(self.order[0]);
        }
        let u: f32 = self.rng.random();
        let mut cumulative = 0.0;
        let mut last_kept = self.order[0];
        for &i in &self.order {
            let p = self.probs[i as usize];
            if p == 0.0 {
                break;
            }
            last_kept = i;
            cumulative += p;
            if u < cumulative {
                return Ok(i);
            }
        }
        // Rounding left the cumulative sum a hair under 1: the last kept label.
        Ok(last_kept)
    }
}
