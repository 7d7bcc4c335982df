//! Evaluation of a decision model on held-out pairs (§6 of the spec): B is generated from A
//! with the streaming model ([`generate`]) and scored against the true B by TPP and LCP, next to
//! the baselines: uniform over K, B's label histogram, uniform over B's present labels, B's most
//! frequent label (the arg-max counterpart of the histogram), B := A, and the model fed the guide
//! of another piece (shuffled pairs, decoded the same way as the model).
//!
//! **Constrained** generation masks the sampler to the labels of a corpus. In evaluation that
//! corpus is, by default, each pair's own target track ([`EvalCorpus::Target`]): the memory the
//! navigator would play B from, as in the paper's protocol, but per target track rather than per
//! batch of songs (pitfall 7 of the spec). It uses no more of the truth than the `present`
//! baseline does, and less than `histogram` and `majority`. [`EvalCorpus::Preset`] constrains to
//! the preset's corpus instead, as the plugin does with that preset loaded.
//!
//! Two decodings are standard: sampling (temperature 1, top-p 0.9: what the plugin plays, and the
//! paper's protocol) and arg-max (temperature 0: the model's single best guess at each step).
//! Sampling spreads the guesses over the model's distribution, so its TPP is near
//! Σ_k p_model(k)·p_true(k); arg-max is compared with the majority-label baseline.

use std::collections::BTreeMap;
use std::path::Path;

use counterpart_core::decision::{DecisionModel, Sampler, SamplerSettings};
use counterpart_core::perception::SegmentEncoderConfig;
use serde_json::{json, Value};

use crate::data::dataset::{label_counts, PairedTokenDataset};
use crate::eval::metrics::{generate, score, shuffled_guides, Baseline, Scores};
use counterpart_core::preset::Preset;

use crate::data::dataset::pairing_for;
use crate::data::layout::{PairSelection, StemsSet};
use crate::eval::EvalError;
use crate::pipeline::encode::{EncodedSet, EncodingSettings};
use crate::pipeline::preset_runtime::preset_runtime;
use crate::pipeline::PipelineError;

/// Names of the baselines, in report order (the order `inspect` shows them in).
pub const BASELINES: [&str; 6] = counterpart_core::preset::EVAL_BASELINES;

/// The corpus whose labels constrain generation (and whose histogram is the sampler's prior).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EvalCorpus {
    /// Each pair's true B track: the memory B would be played from.
    #[default]
    Target,
    /// The preset's corpus, as in the plugin.
    Preset,
}

impl EvalCorpus {
    /// How the constraint reads in a report.
    pub fn describe(self) -> &'static str {
        match self {
            EvalCorpus::Target => "constrained to the target track's labels",
            EvalCorpus::Preset => "constrained to the preset corpus's labels",
        }
    }
}

/// The random, copy-A and shuffled-pair baselines of §6: all but `majority`, which is ours (the
/// arg-max counterpart of `histogram`).
pub const PAPER_BASELINES: [&str; 5] = ["uniform", "histogram", "present", "copy_a", "shuffled"];

/// How B is sampled during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalSampling {
    /// Sampler settings (temperature, top-p, constraint to the corpus labels).
    pub settings: SamplerSettings,
    /// The corpus of the constraint, when `settings.constrain` is set.
    pub corpus: EvalCorpus,
    /// Seed of the sampler and of the baselines.
    pub seed: u64,
}

impl EvalSampling {
    /// Temperature 1, top-p 0.9, constrained to the target track or not, seed 0.
    pub fn new(constrained: bool) -> Self {
        Self {
            settings: SamplerSettings {
                constrain: constrained,
                ..SamplerSettings::default()
            },
            corpus: EvalCorpus::default(),
            seed: 0,
        }
    }

    /// Arg-max decoding (temperature 0), constrained to the target track or not, seed 0.
    pub fn argmax(constrained: bool) -> Self {
        let mut s = Self::new(constrained);
        s.settings.temperature = 0.0;
        s
    }

    /// A short description of the decoding: `sampled (temperature T, top-p P)` or `arg-max`.
    pub fn describe(&self) -> String {
        if self.settings.temperature == 0.0 {
            "arg-max (temperature 0)".into()
        } else {
            format!(
                "sampled (temperature {}, top-p {})",
                self.settings.temperature, self.settings.top_p
            )
        }
    }
}

/// Scores of the model and of the baselines.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// Number of scored segments (B positions).
    pub segments: usize,
    /// Number of scored pairs.
    pub pairs: usize,
    /// How B was decoded (and constrained).
    pub sampling: EvalSampling,
    /// The model.
    pub model: Scores,
    /// The baselines by name ([`BASELINES`]); `shuffled` is missing with a single piece.
    pub baselines: BTreeMap<&'static str, Scores>,
}

/// The samplers of an evaluation: one for the whole set (the preset's corpus, or no
/// constraint), or one per pair (its target track).
enum EvalSamplers {
    Shared(Box<Sampler>),
    PerPair(Vec<Sampler>),
}

impl EvalSamplers {
    fn new(
        data: &PairedTokenDataset,
        preset_counts: &[u32],
        sampling: &EvalSampling,
    ) -> Result<Self, PipelineError> {
        if !sampling.settings.constrain || sampling.corpus == EvalCorpus::Preset {
            return Ok(Self::Shared(Box::new(Sampler::new(
                preset_counts,
                sampling.settings,
                sampling.seed,
            )?)));
        }
        let k = preset_counts.len();
        let samplers = data
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Sampler::new(
                    &label_counts(&p.b, k),
                    sampling.settings,
                    sampling.seed.wrapping_add(i as u64),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::PerPair(samplers))
    }

    /// The sampler of pair `i`.
    fn get(&mut self, i: usize) -> &mut Sampler {
        match self {
            Self::Shared(s) => s,
            Self::PerPair(v) => &mut v[i],
        }
    }
}

/// Generates B for every pair of `data` with `model` and scores it and the baselines.
/// `corpus_counts` are the preset's corpus label counts: the sampler's prior, and its constraint
/// with [`EvalCorpus::Preset`].
pub fn evaluate_model(
    model: &DecisionModel,
    data: &PairedTokenDataset,
    corpus_counts: &[u32],
    sampling: &EvalSampling,
) -> Result<EvalReport, PipelineError> {
    if data.pairs.is_empty() {
        return Err(PipelineError::Invalid("no pair to evaluate".into()));
    }
    if corpus_counts.len() != data.vocab_size {
        return Err(PipelineError::Invalid(format!(
            "the corpus has {} labels and the pairs {}",
            corpus_counts.len(),
            data.vocab_size
        )));
    }
    let mut samplers = EvalSamplers::new(data, corpus_counts, sampling)?;
    let truths: Vec<&[u32]> = data.pairs.iter().map(|p| p.b.as_slice()).collect();
    let mut generated = Vec::with_capacity(data.pairs.len());
    for (i, p) in data.pairs.iter().enumerate() {
        generated.push(generate(
            model,
            &p.a,
            &p.windows,
            p.b.len(),
            samplers.get(i),
        )?);
    }
    let pair_up = |preds: &[Vec<u32>]| -> Scores {
        let pairs: Vec<(&[u32], &[u32])> = preds
            .iter()
            .map(Vec::as_slice)
            .zip(truths.iter().copied())
            .collect();
        score(&pairs)
    };
    let mut baselines = BTreeMap::new();
    for (name, b) in [
        ("uniform", Baseline::UniformK),
        ("histogram", Baseline::LabelHistogram),
        ("present", Baseline::UniformPresent),
        ("majority", Baseline::Majority),
        ("copy_a", Baseline::CopyA),
    ] {
        baselines.insert(name, pair_up(&b.predict(data, sampling.seed)));
    }
    if let Some(guides) = shuffled_guides(data, sampling.seed) {
        // Fresh samplers: the control draws exactly as the model's generation did.
        let mut samplers = EvalSamplers::new(data, corpus_counts, sampling)?;
        let mut shuffled = Vec::with_capacity(guides.len());
        for (i, ((a, windows), p)) in guides.iter().zip(&data.pairs).enumerate() {
            shuffled.push(generate(model, a, windows, p.b.len(), samplers.get(i))?);
        }
        baselines.insert("shuffled", pair_up(&shuffled));
    }
    Ok(EvalReport {
        segments: data.num_tokens(),
        pairs: data.pairs.len(),
        sampling: *sampling,
        model: pair_up(&generated),
        baselines,
    })
}

fn rounded(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1e6).round() / 1e6)
    } else {
        Value::Null
    }
}

impl EvalReport {
    /// `{"tpp", "lcp_mean", "segments", "baselines": {name: {"tpp", "lcp_mean"}}}`; a missing
    /// baseline has null scores.
    pub fn to_json(&self) -> Value {
        let baselines: serde_json::Map<String, Value> = BASELINES
            .iter()
            .map(|&name| {
                let s = self.baselines.get(name);
                (
                    name.to_string(),
                    json!({
                        "tpp": s.map_or(Value::Null, |s| rounded(s.tpp)),
                        "lcp_mean": s.map_or(Value::Null, |s| rounded(s.lcp_mean)),
                    }),
                )
            })
            .collect();
        json!({
            "tpp": rounded(self.model.tpp),
            "lcp_mean": rounded(self.model.lcp_mean),
            "segments": self.segments,
            "baselines": baselines,
        })
    }

    /// The best TPP among the random baselines (uniform, histogram, present).
    pub fn best_random_tpp(&self) -> f64 {
        ["uniform", "histogram", "present"]
            .iter()
            .filter_map(|n| self.baselines.get(n).map(|s| s.tpp))
            .fold(0.0, f64::max)
    }

    /// Whether the model's TPP and mean LCP beat every baseline (the majority label included).
    pub fn beats_every_baseline(&self) -> bool {
        self.beats(&BASELINES)
    }

    /// Whether the model's TPP and mean LCP beat each of the named baselines that were scored.
    pub fn beats(&self, names: &[&str]) -> bool {
        names
            .iter()
            .filter_map(|n| self.baselines.get(n))
            .all(|b| self.model.tpp > b.tpp && self.model.lcp_mean > b.lcp_mean)
    }

    /// A plain-text table of the scores.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} pairs, {} segments, {}, {}\n{:<10} {:>8} {:>9}\n",
            self.pairs,
            self.segments,
            self.sampling.describe(),
            if self.sampling.settings.constrain {
                self.sampling.corpus.describe()
            } else {
                "unconstrained"
            },
            "method",
            "TPP %",
            "LCP mean"
        );
        let mut line = |name: &str, s: &Scores| {
            out.push_str(&format!(
                "{name:<10} {:>8.2} {:>9.3}\n",
                s.tpp * 100.0,
                s.lcp_mean
            ));
        };
        line("model", &self.model);
        for name in BASELINES {
            if let Some(s) = self.baselines.get(name) {
                line(name, s);
            }
        }
        out
    }

    /// Writes a PNG plot of the mean LCP per position, the model against the baselines.
    pub fn plot(&self, path: &Path) -> Result<(), EvalError> {
        let mut series: Vec<(&str, &[f64])> = vec![("model", &self.model.lcp_per_position)];
        for name in BASELINES {
            if let Some(s) = self.baselines.get(name) {
                series.push((name, &s.lcp_per_position));
            }
        }
        crate::eval::plot::lcp_plot(path, &series)
    }
}

/// The evaluations of a build: metrics key and decoding, in report order.
pub const EVALUATIONS: [(&str, bool, bool); 4] = [
    ("unconstrained", false, false),
    ("constrained", false, true),
    ("argmax_unconstrained", true, false),
    ("argmax_constrained", true, true),
];

/// The sampling of one of [`EVALUATIONS`].
pub fn evaluation_sampling(argmax: bool, constrained: bool) -> EvalSampling {
    if argmax {
        EvalSampling::argmax(constrained)
    } else {
        EvalSampling::new(constrained)
    }
}

/// Evaluates `model` on `data` in every decoding of [`EVALUATIONS`], in that order; `counts` are
/// the preset corpus's label counts.
pub fn evaluate_all(
    model: &DecisionModel,
    data: &PairedTokenDataset,
    counts: &[u32],
) -> Result<Vec<EvalReport>, PipelineError> {
    EVALUATIONS
        .iter()
        .map(|&(_, argmax, constrained)| {
            evaluate_model(
                model,
                data,
                counts,
                &evaluation_sampling(argmax, constrained),
            )
        })
        .collect()
}

/// `counterpart eval`: tokenises `root` with the preset's encoder and codebook and evaluates the
/// preset's model for `lookahead` (the preferred one for `None`) on its pairs.
pub fn evaluate_preset(
    preset: &Preset,
    lookahead: Option<usize>,
    root: &Path,
    selection: &PairSelection,
    encoding: &EncodingSettings,
    sampling: &EvalSampling,
) -> Result<EvalReport, PipelineError> {
    let (codebook, model, counts) = preset_runtime(preset, lookahead)?;
    let set = StemsSet::open(root)?;
    // The guides' reaction windows, encoded as the model heard them in training.
    let encoding = EncodingSettings {
        config: SegmentEncoderConfig {
            reaction_s: model.config().reaction_s,
            ..encoding.config
        },
        ..encoding.clone()
    };
    let encoded = EncodedSet::encode(&set, selection, None, &encoding)?;
    let tokens = encoded.tokenise(&codebook)?;
    let data = PairedTokenDataset::from_pieces(
        codebook.k(),
        &tokens.pieces,
        &pairing_for(&set, selection),
    )?;
    evaluate_model(&model, &data, &counts, sampling)
}
