//! The latency an engine reports to the host, and what it is made of.
//!
//! It depends only on what is known before the engine is built: the preset's header (segment
//! length, tempo sync, the decision models' look-ahead and reaction window), the look-ahead
//! asked for, the tempo of tempo-synced segments, the host's sample rate and largest block,
//! and the margin rule. A plugin can therefore announce it when the host activates it, from
//! the header alone ([`announced_latency`]), and the engine it builds later reports the same
//! ([`SlotTiming::latency_samples`]).

use super::config::EngineConfig;
use super::loaded_preset::segmentation_config;
use super::EngineError;
use crate::perception::{OnsetDetector, SegmentLength, SegmentationConfig};
use crate::preset::{ModelTiming, SegmentationSettings};

/// Where an engine's companion slots lie against the guide's segments, in host frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotTiming {
    /// Segments of look-ahead (0: live).
    pub lookahead: usize,
    /// Segment length in host frames (not necessarily whole).
    pub period: f64,
    /// The worker margin.
    pub margin: u64,
    /// How much later than its grid slot the companion plays. With a look-ahead: so that a
    /// guide onset takes the label of the slot most of its note falls in (half a segment, and
    /// at least the onset detector's delay). Live with a reaction window: the window, which
    /// the decision waits for.
    pub shift: u64,
}

impl SlotTiming {
    /// The timing of an engine whose decision model has look-ahead `lookahead` and a reaction
    /// window of `reaction_s` seconds (0: none), cutting segments of `segment_seconds`, with
    /// the margin `config` asks for, at `host_rate` Hz.
    pub fn new(
        lookahead: usize,
        reaction_s: f64,
        segment_seconds: f64,
        config: &EngineConfig,
        host_rate: u32,
    ) -> Result<Self, EngineError> {
        let rate = f64::from(host_rate);
        let period = segment_seconds * rate;
        let shift = if reaction_s > 0.0 {
            (reaction_s * rate).round() as u64
        } else if lookahead == 0 {
            0
        } else {
            ((period / 2.0).round() as u64).max(OnsetDetector::delay_at(host_rate))
        };
        Ok(Self {
            lookahead,
            period,
            margin: (config.margin_seconds(host_rate)? * rate).round() as u64,
            shift,
        })
    }

    /// The latency to report to the host, in samples: none live; with a look-ahead, the
    /// look-ahead's segments, the worker margin and the shift.
    pub fn latency_samples(&self) -> u32 {
        if self.lookahead == 0 {
            0
        } else {
            ((self.lookahead as f64 * self.period).round() as u64 + self.margin + self.shift) as u32
        }
    }
}

/// The segmentation an engine built with `config` uses for a preset cut as `segmentation`
/// says: tempo-synced segments follow `config.tempo_bpm` when it is set.
pub fn engine_segmentation(
    mut segmentation: SegmentationConfig,
    config: &EngineConfig,
) -> SegmentationConfig {
    if let (Some(bpm), SegmentLength::Tempo { note, .. }) = (config.tempo_bpm, segmentation.length)
    {
        segmentation.length = SegmentLength::Tempo { bpm, note };
    }
    segmentation
}

/// The latency an engine built with `config` will report at `host_rate` Hz, in samples, for a
/// preset cut as `segmentation` says with decision models `models` (both from its header:
/// [`crate::preset::PresetTiming`]), known without loading the preset. The decision model is
/// the one for `config.lookahead` (the preset's preferred one when it is `None`).
pub fn announced_latency(
    segmentation: &SegmentationSettings,
    models: &[ModelTiming],
    config: &EngineConfig,
    host_rate: u32,
) -> Result<u32, EngineError> {
    let model = match config.lookahead {
        Some(wanted) => models.iter().find(|m| m.lookahead == wanted),
        None => models.first(),
    }
    .ok_or_else(|| {
        EngineError::Config(format!(
            "the preset has no decision model for look-ahead {}",
            config.lookahead.unwrap_or(0)
        ))
    })?;
    let seconds = engine_segmentation(segmentation_config(segmentation), config)
        .length
        .seconds()?;
    Ok(SlotTiming::new(
        model.lookahead,
        model.reaction_s,
        seconds,
        config,
        host_rate,
    )?
    .latency_samples())
}
