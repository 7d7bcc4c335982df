//! The last stage of a build: the encoder's identity, the build's metrics (data, codebook,
//! training, held-out evaluation, timing) and the [`Preset`] that packs them with the codebook,
//! the decision models and the corpus.

use std::path::Path;
use std::time::Instant;

use counterpart_core::perception::{
    perplexity, Codebook, EncoderSpec, SegmentLength as PerceptionLength,
};
use counterpart_core::preset::{
    sha256_hex, CodebookData, CorpusFile, DecisionData, EncoderIdentity, NoteValueRecord, Preset,
    RelationCharacter, SegmentLengthRecord, SegmentationSettings,
};
use serde_json::json;

use super::split::PieceSplit;
use super::{BuildData, BuildOptions, FittedCodebook, ModelOutcome};
use crate::pipeline::encode::EncodingSettings;
use crate::pipeline::evaluate::{EvalReport, EVALUATIONS};
use crate::pipeline::PipelineError;

/// The encoder a build used, as the preset names it.
pub(super) struct EncoderFile {
    /// SHA-256 of the ONNX file.
    sha256: String,
    /// Its sidecar.
    spec: EncoderSpec,
    /// The layer read.
    layer: usize,
}

/// Reads the encoder file and its sidecar to identify it.
pub(super) fn encoder_identity(encoding: &EncodingSettings) -> Result<EncoderFile, PipelineError> {
    let onnx =
        std::fs::read(&encoding.encoder).map_err(|e| PipelineError::io(&encoding.encoder, e))?;
    let spec = EncoderSpec::from_sidecar(&encoding.encoder)?.ok_or_else(|| {
        PipelineError::Invalid(format!(
            "{} has no .json sidecar naming the encoder",
            encoding.encoder.display()
        ))
    })?;
    let layer = encoding.layer.unwrap_or(spec.default_layer);
    Ok(EncoderFile {
        sha256: sha256_hex(&onnx),
        spec,
        layer,
    })
}

/// Seconds the timed stages of a build took, and when it started.
pub(super) struct StageTimes {
    /// Encoding.
    pub encode_s: f64,
    /// Fitting the codebook.
    pub kmeans_s: f64,
    /// When the build started.
    pub started: Instant,
}

/// The metrics a preset keeps of its build.
pub(super) fn build_metrics(
    root: &Path,
    options: &BuildOptions,
    split: &PieceSplit,
    data: &BuildData,
    codebook: &FittedCodebook,
    models: &[ModelOutcome],
    times: &StageTimes,
) -> serde_json::Value {
    let (train_set, val_set, test_set) = (&data.train, &data.val, &data.test);
    let fitted = &codebook.fit;
    let eval_json = |e: &EvalReport| {
        let mut v = e.to_json();
        v["lcp_per_position"] = json!(e.model.lcp_per_position);
        v["pairs"] = json!(e.pairs);
        v
    };
    json!({
        "data": {
            "stems_dir": root.display().to_string(),
            "extra_training": options.extra_training.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
            "pairs": format!("{:?}", options.selection),
            "pieces": {"train": split.train, "validation": split.val, "test": split.test},
            "pairs_count": {"train": train_set.pairs.len(), "validation": val_set.pairs.len(), "test": test_set.pairs.len()},
            "tokens": {"train": train_set.num_tokens(), "validation": val_set.num_tokens(), "test": test_set.num_tokens()},
        },
        "codebook": {
            "k": options.k,
            "fit_on": format!("{:?}", options.codebook_fit),
            "vectors": codebook.vectors,
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
        "timing_s": {"encode": times.encode_s, "kmeans": times.kmeans_s,
                     "train": models.iter().map(|m| m.train_s).sum::<f64>(),
                     "eval": models.iter().map(|m| m.eval_s).sum::<f64>(),
                     "total": times.started.elapsed().as_secs_f64()},
    })
}

/// Packs the preset and validates it.
pub(super) fn pack_preset(
    options: &BuildOptions,
    encoder: EncoderFile,
    codebook: &Codebook,
    decisions: Vec<DecisionData>,
    corpus: Vec<CorpusFile>,
    metrics: serde_json::Value,
    character: Option<RelationCharacter>,
) -> Result<Preset, PipelineError> {
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
            analysis_sample_rate: encoder.spec.sample_rate,
        },
        encoder: EncoderIdentity {
            name: encoder.spec.name.clone(),
            sha256: encoder.sha256,
            layer: encoder.layer as u32,
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
        character,
    };
    preset.validate()?;
    Ok(preset)
}

fn preset_length(length: &PerceptionLength) -> SegmentLengthRecord {
    match *length {
        PerceptionLength::Seconds(seconds) => SegmentLengthRecord::Uniform { seconds },
        PerceptionLength::Tempo { bpm, note } => SegmentLengthRecord::TempoSynced {
            note: NoteValueRecord {
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
