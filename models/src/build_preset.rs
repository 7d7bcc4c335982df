//! `counterpart build-preset`: stems set → corpus preset.
//!
//! check → encode (streaming, cached) → fit the codebook on the training pieces' segment vectors
//! → tokenise → train the decision model (validation pieces for early stopping, best checkpoint)
//! → evaluate on held-out pieces (TPP/LCP against the baselines) → pack a [`Preset`]: the corpus
//! is the target stems of the training pieces (or every audio file of `--corpus DIR`) with the
//! segments and labels perception gives them, as 16-bit PCM.
//!
//! Extra stems sets ([`BuildOptions::extra_training`]) add pieces that only train and validate:
//! they are never held out and never enter the corpus, so the preset's size and its held-out
//! pieces are those of the main set.
//!
//! The codebook is fitted by default on the *target* tracks of the training pairs
//! ([`CodebookFit::Targets`]): its labels name the corpus material the model predicts and the
//! navigator plays. Fitted on every track, a guide in a wide register (a soprano) takes most
//! centres and the targets (a bass line) crowd into a few labels: on the stems-dev primary pairs
//! at K = 16 one label held 49 % of the bass segments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::Device;
use counterpart_core::action::{find_recordings, Recording, RecordingPath};
use counterpart_core::audio_file::AudioFile;
use counterpart_core::decision::model::{CONFIG_FILE, WEIGHTS_FILE};
use counterpart_core::decision::{DecisionConfig, DecisionModel, LabelInit};
use counterpart_core::perception::{
    perplexity, Codebook, SegmentEncoderConfig, SegmentLength as PerceptionLength,
};
use counterpart_core::preset::{
    sha256_hex, CodebookData, CorpusFile, DecisionData, EncoderIdentity, NoteValue, Preset,
    PresetInfo, SegmentLength, SegmentRecord, SegmentationSettings,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::check::{check, CheckOptions};
use crate::dataset::{PairedTokenDataset, Pairing};
use crate::evaluate::{evaluate_model, EvalReport, EvalSampling};
use crate::kmeans::{fit, KMeansConfig};
use crate::layout::{LayoutKind, PairSelection, PieceSource, StemSource, StemsSet, TrackPair};
use crate::pipeline_error::PipelineError;
use crate::stems::{Manifest, ManifestPair, Piece, StemSet};
use crate::tokenise::{encode_tracks, EncodedSet, EncodingSettings, TrackJob};
use crate::train::{train, TrainConfig, TrainReport};

/// The default decision model of a preset: smaller than [`DecisionConfig::new`] so that a
/// dev-stems preset trains within minutes on two cores (d_model 128, 2 + 2 layers, FFN 512).
pub fn default_model(k: usize, lookahead: usize) -> DecisionConfig {
    DecisionConfig {
        d_model: 128,
        encoder_layers: 2,
        decoder_layers: 2,
        ffn_dim: 512,
        ..DecisionConfig::new(k, lookahead)
    }
}

/// Which segment vectors the codebook is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodebookFit {
    /// The target tracks of the training pairs (the corpus side): labels spread over what is
    /// predicted and played.
    Targets,
    /// Every single-stem track of the training pieces (the paper's choice).
    AllTracks,
}

/// Everything `build-preset` needs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Which pairs train the model.
    pub selection: PairSelection,
    /// A folder of corpus recordings instead of the training pieces' targets.
    pub corpus: Option<PathBuf>,
    /// Alphabet size K.
    pub k: usize,
    /// k-means restarts.
    pub kmeans_restarts: usize,
    /// Which tracks the codebook is fitted on.
    pub codebook_fit: CodebookFit,
    /// More stems sets whose pieces only train and validate (split by `val_fraction`): never
    /// held out, never in the corpus.
    pub extra_training: Vec<PathBuf>,
    /// Encoding (encoder, segmentation, threads, cache).
    pub encoding: EncodingSettings,
    /// The decision model (its `vocab_size` is set to K and its `lookahead` to each of
    /// `lookaheads`).
    pub model: DecisionConfig,
    /// Look-aheads to train one model each for; the first is the preset's preferred model.
    pub lookaheads: Vec<usize>,
    /// Training options (time budget, epochs, …).
    pub train: TrainConfig,
    /// Share of pieces held out for the evaluation.
    pub test_fraction: f64,
    /// Share of the remaining pieces used for validation (early stopping).
    pub val_fraction: f64,
    /// Seed of the piece split and the k-means fit.
    pub seed: u64,
    /// Preset info (name, author, description, licence; `created` is filled in if empty).
    pub info: PresetInfo,
    /// Folder for the checkpoint and loss log (a temporary folder when `None`).
    pub work_dir: Option<PathBuf>,
    /// Skip `check` (errors become failures later instead).
    pub skip_check: bool,
    /// Share of the initial label embeddings drawn from the codebook centres ([`LabelInit`]);
    /// 0 keeps them random.
    pub label_init: f64,
}

/// The training and held-out evaluation of one decision model of a build.
#[derive(Debug)]
pub struct ModelOutcome {
    /// The model's look-ahead L.
    pub lookahead: usize,
    /// Training report.
    pub train: TrainReport,
    /// Held-out evaluation: sampled unconstrained, sampled constrained, arg-max unconstrained,
    /// arg-max constrained ([`EVALUATIONS`]).
    pub eval: Vec<EvalReport>,
    /// Training wall time, in seconds.
    pub train_s: f64,
    /// Evaluation wall time, in seconds.
    pub eval_s: f64,
}

/// What a build made.
#[derive(Debug)]
pub struct BuildOutcome {
    /// The preset.
    pub preset: Preset,
    /// One entry per decision model, in [`BuildOptions::lookaheads`] order.
    pub models: Vec<ModelOutcome>,
    /// Piece ids of the training, validation and test sets (extra sets included).
    pub split: [Vec<String>; 3],
}

/// Splits piece ids into (train, validation, test) with a seeded shuffle; each gets at least one
/// piece.
pub fn split_pieces(
    ids: &[String],
    test_fraction: f64,
    val_fraction: f64,
    seed: u64,
) -> Result<[Vec<String>; 3], PipelineError> {
    let n = ids.len();
    if n < 3 {
        return Err(PipelineError::Invalid(format!(
            "{n} usable piece(s): training, validation and evaluation are split by piece, so at \
             least 3 are needed"
        )));
    }
    let mut shuffled = ids.to_vec();
    shuffled.sort();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n - 2);
    let n_val = ((val_fraction * (n - n_test) as f64).round() as usize).clamp(1, n - n_test - 1);
    let mut test = shuffled[..n_test].to_vec();
    let mut val = shuffled[n_test..n_test + n_val].to_vec();
    let mut train = shuffled[n_test + n_val..].to_vec();
    for v in [&mut train, &mut val, &mut test] {
        v.sort();
    }
    Ok([train, val, test])
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

/// Splits the pieces of an extra training set into (train, validation) with a seeded shuffle.
fn split_extra(ids: &[String], val_fraction: f64, seed: u64) -> [Vec<String>; 2] {
    let mut shuffled = ids.to_vec();
    shuffled.sort();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e87a));
    let n_val = ((val_fraction * ids.len() as f64).round() as usize).min(ids.len());
    let mut val = shuffled[..n_val].to_vec();
    let mut train = shuffled[n_val..].to_vec();
    train.sort();
    val.sort();
    [train, val]
}

/// Least optimiser steps per epoch: small sets (one pair per piece) otherwise give epochs of one
/// or two steps, where validation would cost more than training.
pub const MIN_STEPS_PER_EPOCH: usize = 20;

/// Fits the schedule to the data: at least [`MIN_STEPS_PER_EPOCH`] steps per epoch, and a
/// warm-up of at most a tenth of all steps (a fixed 200-step warm-up would outlast the whole run
/// of a small set).
pub fn scaled_schedule(
    cfg: &TrainConfig,
    model: &DecisionConfig,
    data: &PairedTokenDataset,
) -> TrainConfig {
    let len = cfg.window.unwrap_or(model.context).max(1);
    let steps = cfg.steps_per_epoch.unwrap_or_else(|| {
        data.num_tokens()
            .div_ceil(cfg.batch_size.max(1) * len)
            .max(MIN_STEPS_PER_EPOCH)
    });
    TrainConfig {
        steps_per_epoch: Some(steps),
        warmup_steps: cfg.warmup_steps.min(steps * cfg.max_epochs / 10).max(1),
        ..cfg.clone()
    }
}

/// The pairing of a token corpus that matches `selection` on `set`.
pub fn pairing_for(set: &StemsSet, selection: &PairSelection) -> Pairing {
    let side = |names: &[String]| match names {
        [one] => StemSet::One(one.clone()),
        many => StemSet::Many(many.to_vec()),
    };
    Pairing::Manifest(Manifest {
        pieces: set
            .pieces
            .iter()
            .map(|p| Piece {
                id: p.id.clone(),
                stems: Vec::new(),
                pairs: p
                    .pairs(selection)
                    .iter()
                    .map(|tp| ManifestPair {
                        a: side(&tp.guide),
                        b: side(&tp.target),
                        primary: true,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// The perception segment length of preset settings.
pub fn perception_length(length: &SegmentLength) -> PerceptionLength {
    match *length {
        SegmentLength::Uniform { seconds } => PerceptionLength::Seconds(seconds),
        SegmentLength::TempoSynced { note, bpm } => PerceptionLength::Tempo {
            bpm,
            note: counterpart_core::perception::NoteValue::new(note.numerator, note.denominator),
        },
    }
}

fn preset_length(length: &PerceptionLength) -> SegmentLength {
    match *length {
        PerceptionLength::Seconds(seconds) => SegmentLength::Uniform { seconds },
        PerceptionLength::Tempo { bpm, note } => SegmentLength::TempoSynced {
            note: NoteValue {
                numerator: note.numerator,
                denominator: note.denominator,
            },
            bpm,
        },
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Runs the whole build and returns the preset (not yet saved).
pub fn build_preset(root: &Path, options: &BuildOptions) -> Result<BuildOutcome, PipelineError> {
    let started = Instant::now();
    let set = StemsSet::open(root)?;
    let extras = options
        .extra_training
        .iter()
        .map(|d| StemsSet::open(d))
        .collect::<Result<Vec<_>, _>>()?;
    if !options.skip_check {
        for s in std::iter::once(&set).chain(&extras) {
            let report = check(
                s,
                &CheckOptions {
                    selection: options.selection.clone(),
                    ..CheckOptions::default()
                },
            );
            for d in &report.diagnostics {
                tracing::warn!("{}: {d}", s.root.display());
            }
            if report.errors() > 0 {
                return Err(PipelineError::Check(report.errors()));
            }
        }
    }
    let usable_in = |s: &StemsSet| -> Vec<String> {
        s.pieces
            .iter()
            .filter(|p| !p.pairs(&options.selection).is_empty())
            .map(|p| p.id.clone())
            .collect()
    };
    let usable = usable_in(&set);
    let split = split_pieces(
        &usable,
        options.test_fraction,
        options.val_fraction,
        options.seed,
    )?;
    // The main set's training and validation pieces (the corpus), then every set's.
    let [main_train, main_val, test_ids] = &split;
    let (mut train_all, mut val_all) = (main_train.clone(), main_val.clone());
    let mut combined = set.clone();
    let mut ids: BTreeSet<String> = set.pieces.iter().map(|p| p.id.clone()).collect();
    for extra in &extras {
        for p in &extra.pieces {
            if !ids.insert(p.id.clone()) {
                return Err(PipelineError::Invalid(format!(
                    "piece `{}` of {} is also in another stems set: extra training sets must \
                     not repeat pieces (held-out pieces would leak into training)",
                    p.id,
                    extra.root.display()
                )));
            }
        }
        let [t, v] = split_extra(&usable_in(extra), options.val_fraction, options.seed);
        train_all.extend(t);
        val_all.extend(v);
        combined.pieces.extend(extra.pieces.iter().cloned());
    }
    combined.pieces.sort_by(|a, b| a.id.cmp(&b.id));
    let usable_all: Vec<String> = train_all
        .iter()
        .chain(&val_all)
        .chain(test_ids)
        .cloned()
        .collect();
    tracing::info!(
        train = train_all.len(),
        validation = val_all.len(),
        test = test_ids.len(),
        "pieces split"
    );

    // Encode (cached).
    let t = Instant::now();
    let encoded = EncodedSet::encode(
        &combined,
        &options.selection,
        Some(&usable_all),
        &options.encoding,
    )?;
    let encode_s = t.elapsed().as_secs_f64();

    // Codebook on the training pieces' vectors.
    let t = Instant::now();
    let (vectors, dim) = match options.codebook_fit {
        CodebookFit::AllTracks => encoded.vectors(Some(&train_all)),
        CodebookFit::Targets => {
            let mut tracks = Vec::new();
            for piece in combined.pieces.iter().filter(|p| train_all.contains(&p.id)) {
                for pair in piece.pairs(&options.selection) {
                    let key = (piece.id.clone(), crate::stems::track_key(&pair.target));
                    if !tracks.contains(&key) {
                        tracks.push(key);
                    }
                }
            }
            encoded.track_vectors(&tracks)
        }
    };
    if vectors.is_empty() {
        return Err(PipelineError::Invalid(
            "no segment in the training pieces".into(),
        ));
    }
    let kmeans = KMeansConfig {
        restarts: options.kmeans_restarts,
        seed: options.seed,
        ..KMeansConfig::new(options.k)
    };
    let fitted = fit(&vectors, dim, &kmeans)?;
    let codebook = fitted.codebook.clone();
    let kmeans_s = t.elapsed().as_secs_f64();
    tracing::info!(
        k = options.k,
        vectors = vectors.len() / dim,
        usage = fitted.usage(),
        "codebook fitted"
    );

    // Tokenise and pair.
    let corpus_tokens = encoded.tokenise(&codebook)?;
    let pairing = pairing_for(&combined, &options.selection);
    let all = PairedTokenDataset::from_pieces(options.k, &corpus_tokens.pieces, &pairing)?;
    let in_set = |ids: &[String]| {
        let ids: BTreeSet<&String> = ids.iter().collect();
        all.filter(|p| ids.contains(&p.piece))
    };
    let (train_set, val_set, test_set) = (in_set(&train_all), in_set(&val_all), in_set(test_ids));

    // Corpus.
    let corpus = match &options.corpus {
        Some(dir) => corpus_from_folder(dir, &codebook, &options.encoding)?,
        None => corpus_from_targets(
            &set,
            main_train,
            main_val,
            &options.selection,
            &encoded,
            &codebook,
        )?,
    };
    let mut counts = vec![0u32; options.k];
    for f in &corpus {
        for s in &f.segments {
            counts[s.label as usize] += 1;
        }
    }

    // Train and evaluate one model per look-ahead.
    if options.lookaheads.is_empty() {
        return Err(PipelineError::Invalid("no look-ahead to train".into()));
    }
    let work = match &options.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!(
            "counterpart-build-{}-{}",
            std::process::id(),
            started.elapsed().as_nanos()
        )),
    };
    let mut models = Vec::new();
    let mut decisions = Vec::new();
    for &lookahead in &options.lookaheads {
        let mut model_config = options.model.clone();
        model_config.vocab_size = options.k;
        model_config.lookahead = lookahead;
        // The live model hears the guides' reaction windows, when they were encoded.
        model_config.reaction_s = if lookahead == 0 {
            options.encoding.config.reaction_s
        } else {
            0.0
        };
        let dir = work.join(format!("lookahead-{lookahead}"));
        let mut train_config = scaled_schedule(&options.train, &model_config, &train_set);
        if options.label_init > 0.0 {
            train_config.label_init = Some(LabelInit {
                centres: codebook.centres().to_vec(),
                dim: codebook.dim(),
                weight: options.label_init,
            });
        }
        let t = Instant::now();
        let report = train(
            &model_config,
            &train_set,
            &val_set,
            &train_config,
            &dir,
            &Device::Cpu,
        )?;
        let train_s = t.elapsed().as_secs_f64();
        let model = DecisionModel::load(&dir, &Device::Cpu)?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| PipelineError::io(p, e))
        };
        let weights = read(WEIGHTS_FILE)?;
        let config_json: serde_json::Value = serde_json::from_slice(&read(CONFIG_FILE)?)
            .map_err(|e| PipelineError::Invalid(format!("checkpoint config: {e}")))?;
        decisions.push(DecisionData {
            config: config_json,
            weights,
        });

        // Evaluate on the held-out pieces.
        let t = Instant::now();
        let eval = evaluate_all(&model, &test_set, &counts)?;
        let eval_s = t.elapsed().as_secs_f64();
        // The tables are printed as plain output when the build ends; the log keeps one line.
        tracing::info!(
            lookahead,
            decodings = eval.len(),
            seconds = eval_s,
            "held-out evaluation done"
        );
        models.push(ModelOutcome {
            lookahead,
            train: report,
            eval,
            train_s,
            eval_s,
        });
    }
    if options.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }

    // Encoder identity.
    let onnx = std::fs::read(&options.encoding.encoder)
        .map_err(|e| PipelineError::io(&options.encoding.encoder, e))?;
    let spec = counterpart_core::perception::EncoderSpec::from_sidecar(&options.encoding.encoder)?
        .ok_or_else(|| {
            PipelineError::Invalid(format!(
                "{} has no .json sidecar naming the encoder",
                options.encoding.encoder.display()
            ))
        })?;
    let layer = options.encoding.layer.unwrap_or(spec.default_layer);

    let eval_json = |e: &EvalReport| {
        let mut v = e.to_json();
        v["lcp_per_position"] = json!(e.model.lcp_per_position);
        v["pairs"] = json!(e.pairs);
        v
    };
    let metrics = json!({
        "data": {
            "stems_dir": root.display().to_string(),
            "extra_training": options.extra_training.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
            "pairs": format!("{:?}", options.selection),
            "pieces": {"train": train_all, "validation": val_all, "test": test_ids},
            "pairs_count": {"train": train_set.pairs.len(), "validation": val_set.pairs.len(), "test": test_set.pairs.len()},
            "tokens": {"train": train_set.num_tokens(), "validation": val_set.num_tokens(), "test": test_set.num_tokens()},
        },
        "codebook": {
            "k": options.k,
            "fit_on": format!("{:?}", options.codebook_fit),
            "vectors": vectors.len() / dim,
            "test_target_usage": perplexity(&test_set.pairs.iter().flat_map(|p| p.b.iter().copied()).collect::<Vec<_>>(), options.k) / options.k as f64,
            "inertia": fitted.inertia,
            "usage": fitted.usage(),
            "seed": options.seed,
        },
        "training": models.iter().map(|m| (format!("L{}", m.lookahead), json!({
            "epochs": m.train.epochs.len(),
            "best_epoch": m.train.best_epoch,
            "best_val_loss": m.train.best_val_loss,
            "best_val_accuracy": m.train.best_val_accuracy,
            "tokens_per_second": m.train.tokens_per_second,
            "seconds": m.train_s,
            "history_noise": options.train.history_noise,
            "label_init": options.label_init,
            "loss": m.train.epochs.iter().map(|e| json!({
                "epoch": e.epoch, "train_loss": e.train_loss, "val_loss": e.val_loss,
                "val_accuracy": e.val_accuracy,
            })).collect::<Vec<_>>(),
        }))).collect::<serde_json::Map<_, _>>(),
        "eval": models.iter().map(|m| (format!("L{}", m.lookahead), serde_json::Value::Object(EVALUATIONS.iter().zip(&m.eval).map(|(&(name, _, _), e)| (name.to_string(), eval_json(e))).collect()))).collect::<serde_json::Map<_, _>>(),
        "timing_s": {"encode": encode_s, "kmeans": kmeans_s,
                     "train": models.iter().map(|m| m.train_s).sum::<f64>(),
                     "eval": models.iter().map(|m| m.eval_s).sum::<f64>(),
                     "total": started.elapsed().as_secs_f64()},
    });
    let mut info = options.info.clone();
    if info.created.trim().is_empty() {
        info.created = today();
    }
    let preset = Preset {
        info,
        segmentation: SegmentationSettings {
            length: preset_length(&options.encoding.config.segmentation.length),
            onset_snap_seconds: options
                .encoding
                .config
                .segmentation
                .onset_snap
                .map(|s| s.max_shift_s),
            analysis_sample_rate: spec.sample_rate,
        },
        encoder: EncoderIdentity {
            name: spec.name.clone(),
            sha256: sha256_hex(&onnx),
            layer: layer as u32,
            context_seconds: options.encoding.config.context_s,
            embedded: None,
        },
        codebook: CodebookData {
            k: codebook.k(),
            dim: codebook.dim(),
            centres: codebook.centres().to_vec(),
        },
        decisions,
        corpus,
        metrics,
    };
    preset.validate()?;
    Ok(BuildOutcome {
        preset,
        models,
        split: [train_all, val_all, test_ids.clone()],
    })
}

/// A corpus file from decoded audio and its encoded segments' labels (stored as
/// [`Recording::corpus_file`] stores the user's recordings).
fn corpus_file(
    name: String,
    audio: AudioFile,
    segments: &[counterpart_core::perception::Segment],
    labels: &[u32],
) -> CorpusFile {
    Recording { name, audio }.corpus_file(segments.iter().zip(labels).map(|(s, &label)| {
        SegmentRecord {
            start: s.start,
            end: s.end,
            label,
        }
    }))
}

/// The corpus made of the target tracks of the training and validation pieces.
fn corpus_from_targets(
    set: &StemsSet,
    train_ids: &[String],
    val_ids: &[String],
    selection: &PairSelection,
    encoded: &EncodedSet,
    codebook: &Codebook,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let mut out = Vec::new();
    for piece in set
        .pieces
        .iter()
        .filter(|p| train_ids.contains(&p.id) || val_ids.contains(&p.id))
    {
        let mut targets: Vec<Vec<String>> = Vec::new();
        for TrackPair { target, .. } in piece.pairs(selection) {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        for target in targets {
            let key = crate::stems::track_key(&target);
            let track = encoded
                .pieces
                .get(&piece.id)
                .and_then(|t| t.get(&key))
                .ok_or_else(|| {
                    PipelineError::Invalid(format!(
                        "piece {}: track {key} was not encoded",
                        piece.id
                    ))
                })?;
            let audio = piece.load_track(&target)?;
            let labels = track.tokens(codebook)?;
            out.push(corpus_file(
                format!("{}/{key}", piece.id),
                audio,
                &track.segments,
                &labels,
            ));
        }
    }
    Ok(out)
}

/// The corpus made of every audio file under `dir` (recursively), each tokenised the streaming
/// way.
pub fn corpus_from_folder(
    dir: &Path,
    codebook: &Codebook,
    encoding: &EncodingSettings,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let (files, problems) = find_recordings(&[dir.to_path_buf()]);
    if let Some(problem) = problems.into_iter().next() {
        return Err(PipelineError::Invalid(format!("corpus folder: {problem}")));
    }
    corpus_from_files(&files, codebook, encoding)
}

/// The corpus made of `files`, each tokenised the streaming way, as `build-preset --corpus`
/// does.
pub fn corpus_from_files(
    files: &[RecordingPath],
    codebook: &Codebook,
    encoding: &EncodingSettings,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let set = StemsSet {
        root: PathBuf::new(),
        kind: LayoutKind::Folders,
        pieces: vec![PieceSource {
            id: "corpus".into(),
            stems: files
                .iter()
                .map(|f| StemSource {
                    name: f.name.clone(),
                    files: vec![f.path.clone()],
                })
                .collect(),
            pairs: Vec::new(),
        }],
    };
    let jobs: Vec<TrackJob> = names
        .iter()
        .map(|n| TrackJob {
            piece: "corpus".into(),
            stems: vec![n.clone()],
            windows: false,
        })
        .collect();
    let tracks = encode_tracks(&set, &jobs, encoding)?;
    let mut out = Vec::new();
    for (file, track) in files.iter().zip(&tracks) {
        let audio = AudioFile::read(&file.path)?;
        out.push(corpus_file(
            file.name.clone(),
            audio,
            &track.segments,
            &track.tokens(codebook)?,
        ));
    }
    Ok(out)
}

/// Loads the runtime pieces of a preset: its codebook, its decision model for `lookahead` (the
/// preferred one for `None`) and the corpus label counts.
pub fn preset_runtime(
    preset: &Preset,
    lookahead: Option<usize>,
) -> Result<(Codebook, DecisionModel, Vec<u32>), PipelineError> {
    let decision = preset.decision_for(lookahead).ok_or_else(|| {
        PipelineError::Invalid(format!(
            "the preset has no decision model for look-ahead {} (it has {:?}): build it with \
             --lookahead {0}",
            lookahead.unwrap_or(0),
            preset.lookaheads()
        ))
    })?;
    let codebook = Codebook::new(
        preset.codebook.k,
        preset.codebook.dim,
        preset.codebook.centres.clone(),
    )?;
    let config: DecisionConfig = serde_json::from_value(decision.config.clone())
        .map_err(|e| PipelineError::Invalid(format!("the preset's decision config: {e}")))?;
    let model = DecisionModel::from_bytes(&config, decision.weights.clone(), &Device::Cpu)?;
    let mut counts = vec![0u32; preset.k()];
    for f in &preset.corpus {
        for s in &f.segments {
            if let Some(c) = counts.get_mut(s.label as usize) {
                *c += 1;
            }
        }
    }
    Ok((codebook, model, counts))
}

/// Shared by `eval` and `sweep`: encoding settings matching a preset's segmentation and encoder.
pub fn preset_encoding(
    preset: &Preset,
    encoder: &Path,
    threads: usize,
    cache: Option<PathBuf>,
) -> Result<EncodingSettings, PipelineError> {
    preset.verify_encoder_file(encoder)?;
    Ok(EncodingSettings {
        encoder: encoder.to_path_buf(),
        layer: Some(preset.encoder.layer as usize),
        config: SegmentEncoderConfig {
            segmentation: counterpart_core::perception::SegmentationConfig {
                length: perception_length(&preset.segmentation.length),
                onset_snap: None,
            },
            context_s: preset.encoder.context_seconds,
            reaction_s: 0.0,
        },
        threads,
        cache,
        show_progress: true,
    })
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

/// Wall-clock budget helper: minutes as a [`Duration`].
pub fn minutes(m: f64) -> Duration {
    Duration::from_secs_f64((m * 60.0).max(0.0))
}
