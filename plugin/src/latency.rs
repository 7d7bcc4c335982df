//! The latency the plugin reports to the host, fixed for each activation.
//!
//! CLAP lets a plugin announce a new latency only while it is being activated
//! (`clap_host_latency.changed()`), and VST3 only through `restartComponent(kLatencyChanged)`,
//! after which the host re-activates it. So the latency is computed in `activate`, from what is
//! known then: the preset's header (segment length, tempo sync, the decision models'
//! look-ahead and reaction window; read without the corpus), the Look-ahead and Segment
//! controls, the host's tempo for tempo-dependent segments, the host's sample rate and largest
//! block, and the margin rule. Every engine built during the activation must report the same;
//! when a control or the host's tempo asks for one that would not, the plugin asks the host to
//! restart it (`request_restart`), and until the host does, keeps playing at the latency it
//! announced (see [`Announced::fit`]).

use crate::error::PluginError;
use counterpart_core::engine::{announced_latency, EngineConfig, Margin, WorkerMargin};
use counterpart_core::preset::{PresetTiming, SegmentLengthRecord, SegmentationSettings};

use crate::library::LoadKey;
use crate::params::{CounterpartParams, SegmentChoice};
use crate::preset_source::PresetSource;

/// Everything a built engine's latency depends on, besides the host's setup.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyKey {
    /// The preset.
    pub source: PresetSource,
    /// The segment control.
    pub segment: SegmentChoice,
    /// Segments of look-ahead.
    pub lookahead: usize,
    /// The host's tempo in hundredths of a BPM, when the segments follow it (note values, or a
    /// tempo-synced preset); `None` otherwise or when the host reports none.
    pub tempo_centi_bpm: Option<u64>,
}

impl LatencyKey {
    /// What the parameters and the host's tempo (`host_tempo` BPM, if it reports one) ask
    /// for now, for the preset `source` (read from the parameters once by the caller, so that
    /// the key and the header it was timed from are of the same file) whose header says
    /// `timing` (`None`: unreadable).
    pub fn wanted(
        source: PresetSource,
        params: &CounterpartParams,
        host_tempo: Option<f64>,
        timing: Option<&PresetTiming>,
    ) -> Self {
        let segment = params.segment.value();
        let follows_tempo = segment.note().is_some() || timing.is_some_and(tempo_synced);
        Self {
            source,
            segment,
            lookahead: params.lookahead.value().segments(),
            tempo_centi_bpm: host_tempo
                .map(|bpm| (bpm * 100.0).round().max(1.0) as u64)
                .filter(|_| follows_tempo),
        }
    }
}

/// What the host was told at activation, and what it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    /// The latency reported, in samples.
    pub latency: u32,
    /// What it was computed from (`None`: the preset's header could not be read; the engine
    /// then fails to load with the reason, and the latency is 0).
    pub key: Option<LatencyKey>,
    /// The host's sample rate in Hz.
    pub rate: u32,
    /// The worker margin in seconds, fitted at activation to the host's largest block and the
    /// crossfade then set; engines built later in the activation keep it.
    pub margin_s: f64,
}

impl Announced {
    /// The latency to announce for `key` at `rate` Hz, with blocks of up to `max_block` frames
    /// and a crossfade of `crossfade_s` seconds, from the preset's header `timing`.
    pub fn compute(
        timing: Result<&PresetTiming, &PluginError>,
        key: LatencyKey,
        rate: u32,
        max_block: usize,
        crossfade_s: f32,
    ) -> Self {
        let margin_s = WorkerMargin::for_host(max_block, rate, crossfade_s)
            .map_or(0.0, |margin| margin.seconds());
        let mut announced = Self {
            latency: 0,
            key: None,
            rate,
            margin_s,
        };
        if let Ok(timing) = timing {
            if let Some(latency) = announced.latency_of(timing, &key) {
                announced.latency = latency;
                announced.key = Some(key);
            }
        }
        announced
    }

    /// The margin rule engines of this activation are built with.
    pub fn margin(&self) -> Margin {
        Margin::Seconds(self.margin_s)
    }

    /// The latency an engine for `key` would report, from the preset's header `timing`; `None`
    /// when no engine can be built for it (the build says why).
    pub fn latency_of(&self, timing: &PresetTiming, key: &LatencyKey) -> Option<u32> {
        let recut;
        let segmentation = match key.segment.note() {
            // The corpus is re-cut into the note value at the host's tempo (the library's
            // default when it reports none).
            Some(note) => {
                recut = SegmentationSettings {
                    length: SegmentLengthRecord::TempoSynced {
                        note,
                        bpm: LoadKey::bpm_of(key.tempo_centi_bpm),
                    },
                    ..timing.segmentation.clone()
                };
                &recut
            }
            None => &timing.segmentation,
        };
        let config = EngineConfig {
            lookahead: Some(key.lookahead),
            worker_margin: self.margin(),
            tempo_bpm: key.tempo_centi_bpm.map(|c| c as f64 / 100.0),
            ..EngineConfig::default()
        };
        announced_latency(segmentation, &timing.models, &config, self.rate).ok()
    }

    /// The engine to build when `wanted` is asked for, given the preset's header `timing`:
    /// `wanted` itself when its latency is the one announced (or unknown: its build then
    /// fails and says why); else `wanted` with the look-ahead, segment and tempo announced,
    /// when that keeps the latency; else `None` (the engine playing goes on). The second
    /// value says whether `wanted` needs a restart of the plugin.
    pub fn fit(
        &self,
        timing: Result<&PresetTiming, &PluginError>,
        wanted: &LatencyKey,
    ) -> (Option<LatencyKey>, bool) {
        let Ok(timing) = timing else {
            return (Some(wanted.clone()), false);
        };
        match self.latency_of(timing, wanted) {
            Some(latency) if latency != self.latency => {
                let fallback = self.key.as_ref().map(|announced| LatencyKey {
                    source: wanted.source.clone(),
                    ..announced.clone()
                });
                let kept =
                    fallback.filter(|key| self.latency_of(timing, key) == Some(self.latency));
                (kept, true)
            }
            _ => (Some(wanted.clone()), false),
        }
    }
}

/// Whether segments cut as `timing` says follow the host's tempo (a tempo-synced preset).
pub fn tempo_synced(timing: &PresetTiming) -> bool {
    matches!(
        timing.segmentation.length,
        SegmentLengthRecord::TempoSynced { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_timing() -> PresetTiming {
        PresetSource::Default
            .timing()
            .expect("the default preset's header")
    }

    fn key(lookahead: usize, segment: SegmentChoice, tempo: Option<u64>) -> LatencyKey {
        LatencyKey {
            source: PresetSource::Default,
            segment,
            lookahead,
            tempo_centi_bpm: tempo,
        }
    }

    #[test]
    fn the_announced_latency_is_the_built_engines() {
        use counterpart_core::engine::{build, LoadedPreset};
        let timing = default_timing();
        for (lookahead, rate, block) in [(1, 48_000, 512), (1, 44_100, 4096), (0, 48_000, 128)] {
            let announced = Announced::compute(
                Ok(&timing),
                key(lookahead, SegmentChoice::Preset, None),
                rate,
                block,
                0.01,
            );
            let (preset, _) = PresetSource::Default.read().unwrap();
            let runtime = LoadedPreset::load_for(
                &preset,
                rate,
                &counterpart_core::engine::EncoderSearch::default(),
                Some(lookahead),
            )
            .unwrap();
            let config = EngineConfig {
                lookahead: Some(lookahead),
                worker_margin: announced.margin(),
                settings: counterpart_core::engine::EngineSettings {
                    crossfade_seconds: 0.01,
                    ..Default::default()
                },
                ..EngineConfig::default()
            };
            let engine = build(runtime, &config, rate).unwrap();
            assert_eq!(
                engine.audio.latency_samples(),
                announced.latency,
                "L={lookahead} at {rate} Hz, {block}-frame blocks"
            );
            assert_eq!(announced.latency == 0, lookahead == 0);
        }
    }

    #[test]
    fn a_change_that_moves_the_latency_keeps_what_was_announced_and_asks_for_a_restart() {
        let timing = default_timing();
        let announced = Announced::compute(
            Ok(&timing),
            key(1, SegmentChoice::Preset, None),
            48_000,
            512,
            0.01,
        );
        // The seed or another preset with the same timing: no restart.
        let same = key(1, SegmentChoice::Preset, None);
        assert_eq!(
            announced.fit(Ok(&timing), &same),
            (Some(same.clone()), false)
        );
        // Live: a restart; meanwhile the aligned engine goes on.
        let live = key(0, SegmentChoice::Preset, None);
        assert_eq!(
            announced.fit(Ok(&timing), &live),
            (Some(same.clone()), true)
        );
        // Eighth notes at the host's tempo: a restart too.
        let eighths = key(1, SegmentChoice::Eighth, Some(12_000));
        assert_eq!(announced.fit(Ok(&timing), &eighths), (Some(same), true));
        // Live mode reports no latency, whatever the segments.
        let live_announced = Announced::compute(
            Ok(&timing),
            key(0, SegmentChoice::Preset, None),
            48_000,
            512,
            0.01,
        );
        let live_eighths = key(0, SegmentChoice::Eighth, Some(9_000));
        assert_eq!(
            live_announced.fit(Ok(&timing), &live_eighths),
            (Some(live_eighths.clone()), false)
        );
    }
}
