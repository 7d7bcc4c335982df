//! `counterpart eval-perception`: how much pitch and timbre the segment tokens carry.
//!
//! For each stem of the chosen pieces, segments are encoded the streaming way
//! ([`encode_clip`]) by three methods: the default encoder, the same architecture with random
//! weights, and MFCC+chroma descriptors of the segment (standardised per dimension). For each K, one
//! k-means codebook per method is fitted on all of that method's segment vectors, and the tokens
//! are compared by normalised mutual information with (a) the segment's dominant pitch class from
//! `*.notes.json` and (b) the stem's instrument from `manifest.json`. Only segments in which notes
//! sound for at least half the segment are scored (silence carries neither label).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use counterpart_core::perception::resample::{resample_to_encoder_rate, to_encoder_rate};
use counterpart_core::perception::{
    encode_clip, EncoderOptions, OnnxEncoder, SegmentEncoderConfig,
};

use crate::audio_file::AudioFile;
use crate::data::stems::{dominant_pitch_class, read_notes, Manifest};
use crate::eval::features::MfccChroma;
use crate::eval::nmi::normalized_mutual_information;
use crate::eval::EvalError;
use crate::pipeline::kmeans::{fit, KMeansConfig};

/// Share of a segment that notes must fill for it to be scored.
const MIN_SOUNDING: f64 = 0.5;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Alphabet sizes.
    pub ks: Vec<usize>,
    /// Segmentation and context, as at run time.
    pub config: SegmentEncoderConfig,
    /// The trained encoder.
    pub default_encoder: PathBuf,
    /// The same architecture with random weights.
    pub random_encoder: PathBuf,
    /// Only these pieces (all when `None`).
    pub pieces: Option<Vec<String>>,
    /// k-means restarts.
    pub restarts: usize,
    /// k-means seed.
    pub seed: u64,
}

/// NMI scores of one method at one K.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct NmiScores {
    /// NMI between tokens and the dominant pitch class.
    pub pitch_class_nmi: f64,
    /// NMI between tokens and the instrument.
    pub instrument_nmi: f64,
    /// Codebook usage on the scored segments: perplexity / K.
    pub usage: f64,
}

/// Scores per K (as a string key, for JSON) and method (`default`, `random`, `mfcc_chroma`).
pub type PerceptionReport = BTreeMap<String, BTreeMap<String, NmiScores>>;

/// Segment vectors of one method and the labels of the scored segments.
struct Collected {
    vectors: Vec<f32>,
    dim: usize,
}

/// Runs the evaluation on the stems set at `root`. Returns the report and the number of scored
/// segments.
pub fn evaluate(
    root: &Path,
    options: &EvalOptions,
) -> Result<(PerceptionReport, usize), EvalError> {
    let manifest = Manifest::read(root)?;
    let pieces: Vec<_> = manifest
        .pieces
        .iter()
        .filter(|p| {
            options
                .pieces
                .as_ref()
                .is_none_or(|keep| keep.contains(&p.id))
        })
        .collect();
    if pieces.is_empty() {
        return Err(EvalError::Invalid(
            "nothing to evaluate: no piece selected".into(),
        ));
    }
    let load = |path: &Path| OnnxEncoder::load(path, &EncoderOptions::default());
    let mut default_enc = load(&options.default_encoder)?;
    let mut random_enc = load(&options.random_encoder)?;
    let describer = MfccChroma::new();
    let mut methods = [
        Collected {
            vectors: Vec::new(),
            dim: 0,
        },
        Collected {
            vectors: Vec::new(),
            dim: 0,
        },
        Collected {
            vectors: Vec::new(),
            dim: crate::eval::features::DIM,
        },
    ];
    // Index into the vectors of every scored segment, and its labels.
    let mut scored = Vec::new();
    let mut pitch_labels = Vec::new();
    let mut instrument_labels = Vec::new();
    let mut count = 0usize;
    for piece in &pieces {
        for stem in &piece.stems {
            let file = AudioFile::read(&root.join(&piece.id).join(&stem.file))?;
            let rate = file.sample_rate;
            let audio = file.to_mono();
            let notes = read_notes(root, piece, stem)?;
            let (a, _) = encode_clip(&audio, rate, &options.config, &mut default_enc, None)?;
            let (b, _) = encode_clip(&audio, rate, &options.config, &mut random_enc, None)?;
            let audio16 = resample_to_encoder_rate(&audio, rate)?;
            for (sa, sb) in a.iter().zip(&b) {
                let seg = sa.segment;
                methods[0].dim = sa.vector.len();
                methods[1].dim = sb.vector.len();
                methods[0].vectors.extend_from_slice(&sa.vector);
                methods[1].vectors.extend_from_slice(&sb.vector);
                let s16 = to_encoder_rate(seg.start, rate) as usize;
                let e16 = (to_encoder_rate(seg.end, rate) as usize).min(audio16.len());
                methods[2]
                    .vectors
                    .extend_from_slice(&describer.describe(&audio16[s16..e16]));
                let (t0, t1) = (seg.start as f64 / rate as f64, seg.end as f64 / rate as f64);
                if let Some(pc) = dominant_pitch_class(&notes, t0, t1, MIN_SOUNDING) {
                    scored.push(count);
                    pitch_labels.push(pc);
                    instrument_labels.push(stem.gm_program);
                }
                count += 1;
            }
        }
    }
    if scored.is_empty() {
        return Err(EvalError::Invalid(
            "nothing to evaluate: no segment with sounding notes".into(),
        ));
    }
    standardise(&mut methods[2].vectors, methods[2].dim);
    let names = ["default", "random", "mfcc_chroma"];
    let mut report = PerceptionReport::new();
    for &k in &options.ks {
        let mut per_method = BTreeMap::new();
        for (name, m) in names.iter().zip(&methods) {
            let config = KMeansConfig {
                restarts: options.restarts,
                seed: options.seed,
                ..KMeansConfig::new(k)
            };
            let fitted = fit(&m.vectors, m.dim, &config)?;
            let tokens: Vec<u32> = scored.iter().map(|&i| fitted.assignments[i]).collect();
            per_method.insert(
                name.to_string(),
                NmiScores {
                    pitch_class_nmi: normalized_mutual_information(&tokens, &pitch_labels),
                    instrument_nmi: normalized_mutual_information(&tokens, &instrument_labels),
                    usage: counterpart_core::perception::perplexity(&tokens, k) / k as f64,
                },
            );
        }
        report.insert(k.to_string(), per_method);
    }
    Ok((report, scored.len()))
}

/// Z-scores each dimension over all vectors.
fn standardise(vectors: &mut [f32], dim: usize) {
    let n = (vectors.len() / dim) as f64;
    for d in 0..dim {
        let vals = || vectors.iter().skip(d).step_by(dim).map(|&x| x as f64);
        let mean = vals().sum::<f64>() / n;
        let std = (vals().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-9);
        for x in vectors.iter_mut().skip(d).step_by(dim) {
            *x = ((*x as f64 - mean) / std) as f32;
        }
    }
}

/// The held-out pieces recorded next to an encoder by its training script
/// (`<encoder>.training.json`, field `held_out_pieces`), if any.
pub fn held_out_pieces(encoder: &Path) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Record {
        held_out_pieces: Vec<String>,
    }
    let path = encoder.with_extension("training.json");
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Record>(&bytes)
        .ok()
        .map(|r| r.held_out_pieces)
}
