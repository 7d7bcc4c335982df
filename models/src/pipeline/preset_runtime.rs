//! A built preset's runtime pieces, loaded back for offline use: its codebook, a decision model
//! and the corpus label counts, and the encoding settings that match its segmentation and
//! encoder (for `eval`, `recorpus`, `sweep`, `eval-perception` and the benches).

use std::path::{Path, PathBuf};

use candle_core::Device;
use counterpart_core::decision::{DecisionConfig, DecisionModel};
use counterpart_core::perception::{
    Codebook, SegmentEncoderConfig, SegmentLength as PerceptionLength,
};
use counterpart_core::preset::{Preset, SegmentLengthRecord};

use crate::pipeline::encode::EncodingSettings;
use crate::pipeline::PipelineError;

/// The perception segment length of preset settings.
pub fn perception_length(length: &SegmentLengthRecord) -> PerceptionLength {
    match *length {
        SegmentLengthRecord::Uniform { seconds } => PerceptionLength::Seconds(seconds),
        SegmentLengthRecord::TempoSynced { note, bpm } => PerceptionLength::Tempo {
            bpm,
            note: counterpart_core::perception::NoteValue::new(note.numerator, note.denominator),
        },
    }
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
