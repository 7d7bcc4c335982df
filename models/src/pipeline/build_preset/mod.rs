//! `counterpart build-preset`: stems set → corpus preset.
//!
//! check → encode (streaming, cached) → fit the codebook on the training pieces' segment vectors
//! → tokenise → train the decision model (validation pieces for early stopping, best checkpoint)
//! → evaluate on held-out pieces (TPP/LCP against the baselines) → pack a [`Preset`]: the corpus
//! is the target stems of the training pieces (or every audio file of `--corpus DIR`) with the
//! segments and labels perception gives them, as 16-bit PCM.
//!
//! The relation's character ([`RelationCharacter`]) is measured on the training pairs' note
//! annotations and stored in the preset; a build from stems without notes stores none.
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

mod pack;
mod split;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::Device;
use counterpart_core::decision::model::{CONFIG_FILE, WEIGHTS_FILE};
use counterpart_core::decision::{DecisionConfig, DecisionModel, LabelInit};
use counterpart_core::perception::Codebook;
use counterpart_core::perception::SegmentLength;
use counterpart_core::preset::{CorpusFile, DecisionData, Preset, PresetInfo, RelationCharacter};

pub use pack::today;
pub use split::split_pieces;

use crate::data::check::{check, CheckOptions};
use crate::data::dataset::{pairing_for, PairedTokenDataset};
use crate::data::layout::{PairSelection, StemsSet};
use crate::pipeline::character::{manifest_tempi, measure_set, Tempi};
use crate::pipeline::corpus::{corpus_from_folder, corpus_from_targets};
use crate::pipeline::encode::{EncodedSet, EncodingSettings};
use crate::pipeline::evaluate::{evaluate_all, EvalReport};
use crate::pipeline::kmeans::{fit, KMeansConfig, KMeansFit};
use crate::pipeline::train::{train, TrainConfig, TrainReport};
use crate::pipeline::PipelineError;
use split::PieceSplit;

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
    /// arg-max constrained ([`EVALUATIONS`](crate::pipeline::evaluate::EVALUATIONS)).
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

/// Wall-clock budget helper: minutes as a [`Duration`].
pub fn minutes(m: f64) -> Duration {
    Duration::from_secs_f64((m * 60.0).max(0.0))
}

/// Runs the whole build and returns the preset (not yet saved): the stages below, in order.
pub fn build_preset(root: &Path, options: &BuildOptions) -> Result<BuildOutcome, PipelineError> {
    let started = Instant::now();
    let (set, extras) = open_and_check(root, options)?;
    let split = split::split_build_pieces(&set, &extras, options)?;
    let character = measure_character(&set, &extras, &split, options);

    let t = Instant::now();
    let encoded = EncodedSet::encode(
        &split.combined,
        &options.selection,
        Some(&split.usable()),
        &options.encoding,
    )?;
    let encode_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let codebook = fit_build_codebook(&encoded, &split, options)?;
    let kmeans_s = t.elapsed().as_secs_f64();

    let data = tokenise_and_pair(&encoded, &codebook.fit.codebook, &split, options)?;
    let corpus = build_corpus(&set, &split, &encoded, &codebook.fit.codebook, options)?;
    let counts = corpus_label_counts(&corpus, options.k);
    let (models, decisions) =
        train_and_evaluate(&codebook.fit.codebook, &data, &counts, options, started)?;

    let encoder = pack::encoder_identity(&options.encoding)?;
    let times = pack::StageTimes {
        encode_s,
        kmeans_s,
        started,
    };
    let metrics = pack::build_metrics(root, options, &split, &data, &codebook, &models, &times);
    let preset = pack::pack_preset(
        options,
        encoder,
        &codebook.fit.codebook,
        decisions,
        corpus,
        metrics,
        character,
    )?;
    Ok(BuildOutcome {
        preset,
        models,
        split: [split.train, split.val, split.test],
    })
}

/// Opens the main stems set and the extra ones and, unless told not to, checks them all: every
/// diagnostic is logged, and errors stop the build.
fn open_and_check(
    root: &Path,
    options: &BuildOptions,
) -> Result<(StemsSet, Vec<StemsSet>), PipelineError> {
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
    Ok((set, extras))
}

/// The relation's character on the training pairs (every set's training pieces), with each
/// piece's manifest tempo, else the tempo of tempo-synced segments; `None`, with a warning, when
/// a training stem has no notes.
fn measure_character(
    set: &StemsSet,
    extras: &[StemsSet],
    split: &PieceSplit,
    options: &BuildOptions,
) -> Option<RelationCharacter> {
    let mut tempi = Tempi {
        fallback_bpm: match options.encoding.config.segmentation.length {
            SegmentLength::Tempo { bpm, .. } => Some(bpm),
            SegmentLength::Seconds(_) => None,
        },
        ..Tempi::default()
    };
    for s in std::iter::once(set).chain(extras) {
        match manifest_tempi(&s.root) {
            Ok(by_piece) => tempi.by_piece.extend(by_piece),
            Err(e) => tracing::warn!("no tempo for the relation's character: {e}"),
        }
    }
    match measure_set(
        &split.combined,
        Some(&split.train),
        &options.selection,
        &tempi,
    ) {
        Ok(counts) => {
            let character = counts.character();
            tracing::info!("relation's character: {}", character.one_line());
            Some(character)
        }
        Err(e) => {
            tracing::warn!("the preset gets no relation's character: {e}");
            None
        }
    }
}

/// A build's codebook and what it was fitted on.
struct FittedCodebook {
    /// The k-means fit.
    fit: KMeansFit,
    /// How many segment vectors it was fitted on.
    vectors: usize,
}

/// Fits the codebook on the training pieces' segment vectors ([`BuildOptions::codebook_fit`]).
fn fit_build_codebook(
    encoded: &EncodedSet,
    split: &PieceSplit,
    options: &BuildOptions,
) -> Result<FittedCodebook, PipelineError> {
    let (vectors, dim) = match options.codebook_fit {
        CodebookFit::AllTracks => encoded.vectors(Some(&split.train)),
        CodebookFit::Targets => {
            let mut tracks = Vec::new();
            for piece in split
                .combined
                .pieces
                .iter()
                .filter(|p| split.train.contains(&p.id))
            {
                for pair in piece.pairs(&options.selection) {
                    let key = (
                        piece.id.clone(),
                        crate::data::stems::track_key(&pair.target),
                    );
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
    tracing::info!(
        k = options.k,
        vectors = vectors.len() / dim,
        usage = fitted.usage(),
        "codebook fitted"
    );
    Ok(FittedCodebook {
        fit: fitted,
        vectors: vectors.len() / dim,
    })
}

/// The paired-token datasets of a build.
struct BuildData {
    /// Training pairs (every set's training pieces).
    train: PairedTokenDataset,
    /// Validation pairs, for early stopping.
    val: PairedTokenDataset,
    /// Held-out pairs, for the evaluation.
    test: PairedTokenDataset,
}

/// Tokenises every encoded track with the codebook and pairs the tokens as
/// [`BuildOptions::selection`] says, split by piece.
fn tokenise_and_pair(
    encoded: &EncodedSet,
    codebook: &Codebook,
    split: &PieceSplit,
    options: &BuildOptions,
) -> Result<BuildData, PipelineError> {
    let corpus_tokens = encoded.tokenise(codebook)?;
    let pairing = pairing_for(&split.combined, &options.selection);
    let all = PairedTokenDataset::from_pieces(options.k, &corpus_tokens.pieces, &pairing)?;
    let in_set = |ids: &[String]| {
        let ids: BTreeSet<&String> = ids.iter().collect();
        all.filter(|p| ids.contains(&p.piece))
    };
    Ok(BuildData {
        train: in_set(&split.train),
        val: in_set(&split.val),
        test: in_set(&split.test),
    })
}

/// The preset's corpus: the main set's training and validation targets, or `--corpus DIR`.
fn build_corpus(
    set: &StemsSet,
    split: &PieceSplit,
    encoded: &EncodedSet,
    codebook: &Codebook,
    options: &BuildOptions,
) -> Result<Vec<CorpusFile>, PipelineError> {
    match &options.corpus {
        Some(dir) => corpus_from_folder(dir, codebook, &options.encoding),
        None => corpus_from_targets(
            set,
            &split.main_train,
            &split.main_val,
            &options.selection,
            encoded,
            codebook,
        ),
    }
}

/// How many segments of `corpus` carry each of the `k` labels.
fn corpus_label_counts(corpus: &[CorpusFile], k: usize) -> Vec<u32> {
    let mut counts = vec![0u32; k];
    for f in corpus {
        for s in &f.segments {
            counts[s.label as usize] += 1;
        }
    }
    counts
}

/// Trains and evaluates one decision model per look-ahead, in a work folder (removed after
/// unless [`BuildOptions::work_dir`] names it).
fn train_and_evaluate(
    codebook: &Codebook,
    data: &BuildData,
    counts: &[u32],
    options: &BuildOptions,
    started: Instant,
) -> Result<(Vec<ModelOutcome>, Vec<DecisionData>), PipelineError> {
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
        let dir = work.join(format!("lookahead-{lookahead}"));
        let (model, decision) = train_model(lookahead, codebook, data, counts, options, &dir)?;
        models.push(model);
        decisions.push(decision);
    }
    if options.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok((models, decisions))
}

/// The decision model config of look-ahead `lookahead`.
fn model_config(options: &BuildOptions, lookahead: usize) -> DecisionConfig {
    let mut model_config = options.model.clone();
    model_config.vocab_size = options.k;
    model_config.lookahead = lookahead;
    // The live model hears the guides' reaction windows, when they were encoded.
    model_config.reaction_s = if lookahead == 0 {
        options.encoding.config.reaction_s
    } else {
        0.0
    };
    model_config
}

/// Trains the model of look-ahead `lookahead` into `dir`, evaluates its best checkpoint on the
/// held-out pairs, and reads the checkpoint back for the preset.
fn train_model(
    lookahead: usize,
    codebook: &Codebook,
    data: &BuildData,
    counts: &[u32],
    options: &BuildOptions,
    dir: &Path,
) -> Result<(ModelOutcome, DecisionData), PipelineError> {
    let model_config = model_config(options, lookahead);
    let mut train_config = scaled_schedule(&options.train, &model_config, &data.train);
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
        &data.train,
        &data.val,
        &train_config,
        dir,
        &Device::Cpu,
    )?;
    let train_s = t.elapsed().as_secs_f64();
    let model = DecisionModel::load(dir, &Device::Cpu)?;
    let decision = read_checkpoint(dir)?;

    // Evaluate on the held-out pieces.
    let t = Instant::now();
    let eval = evaluate_all(&model, &data.test, counts)?;
    let eval_s = t.elapsed().as_secs_f64();
    // The tables are printed as plain output when the build ends; the log keeps one line.
    tracing::info!(
        lookahead,
        decodings = eval.len(),
        seconds = eval_s,
        "held-out evaluation done"
    );
    let outcome = ModelOutcome {
        lookahead,
        train: report,
        eval,
        train_s,
        eval_s,
    };
    Ok((outcome, decision))
}

/// The checkpoint in `dir` as a preset stores it: its config (JSON) and its weights.
fn read_checkpoint(dir: &Path) -> Result<DecisionData, PipelineError> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| PipelineError::io(p, e))
    };
    let weights = read(WEIGHTS_FILE)?;
    let config_json: serde_json::Value = serde_json::from_slice(&read(CONFIG_FILE)?)
        .map_err(|e| PipelineError::Invalid(format!("checkpoint config: {e}")))?;
    Ok(DecisionData {
        config: config_json,
        weights,
    })
}
