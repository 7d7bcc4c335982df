//! `counterpart render`: the companion track for a guide file, rendered offline by the same
//! streaming engine the plugin runs, block by block.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use counterpart_core::action::resample_channels;
use counterpart_core::engine::{
    build, EncoderSearch, EngineConfig, EngineError, LoadedPreset, OfflineRenderer, PlayedSlot,
};
use counterpart_core::preset::{Preset, PresetError};

use crate::audio_file::{self, AudioFile, AudioFileError};

/// Sample format of the rendered files (the one of [`crate::audio_file::write_wav`]).
pub use crate::audio_file::SampleFormat;

/// What to render and how.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The preset file.
    pub preset: PathBuf,
    /// The guide track.
    pub guide: PathBuf,
    /// Where to write the companion track.
    pub out: PathBuf,
    /// Where to write guide (left) and companion (right) together, if wanted.
    pub mix: Option<PathBuf>,
    /// Where to write the played segments as CSV, if wanted.
    pub segments_out: Option<PathBuf>,
    /// Line the companion up with the guide, as a host that compensates the plugin's reported
    /// latency does: the output, the mix and the CSV times are all in the guide's time (the
    /// tail is rendered to the end). Off: the engine's raw stream, late by the latency.
    pub compensate_latency: bool,
    /// The engine's settings.
    pub config: EngineConfig,
    /// Frames per block.
    pub block_size: usize,
    /// Render at this rate (the guide is resampled); the guide's rate when `None`.
    pub sample_rate: Option<u32>,
    /// Sample format of the written files.
    pub format: SampleFormat,
    /// Extra folders to look for the preset's encoder in (before the default ones).
    pub encoder_dirs: Vec<PathBuf>,
}

/// What a render did.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderReport {
    /// Seconds of audio rendered.
    pub audio_seconds: f64,
    /// Wall-clock seconds it took (loading excluded).
    pub render_seconds: f64,
    /// Companion segments decided.
    pub slots: usize,
    /// Decisions that came late (always 0 offline).
    pub late_decisions: u64,
    /// Guide samples that were NaN or infinite.
    pub nonfinite_samples: u64,
    /// The sample rate rendered at.
    pub sample_rate: u32,
    /// The latency the plugin would report, in frames (0 in live mode).
    pub latency_samples: u32,
    /// Whether the output was moved back by that latency.
    pub latency_compensated: bool,
}

impl RenderReport {
    /// Audio seconds rendered per wall-clock second.
    pub fn speed(&self) -> f64 {
        self.audio_seconds / self.render_seconds.max(1e-9)
    }
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The preset could not be read.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// The guide could not be read.
    #[error(transparent)]
    Guide(#[from] AudioFileError),
    /// The preset could not be turned into runtime objects, or the engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The options are wrong (the message says which).
    #[error("{0}")]
    Options(String),
    /// An output file could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Renders the companion for `options.guide` and writes the requested files.
pub fn render(options: &RenderOptions) -> Result<RenderReport, RenderError> {
    let preset = Preset::load(&options.preset)?;
    let file = AudioFile::read(&options.guide)?;
    let rate = options.sample_rate.unwrap_or(file.sample_rate);
    let guide = resample_channels(vec![file.to_mono()], file.sample_rate, rate)
        .map_err(|e| RenderError::Options(format!("cannot resample the guide: {e}")))?
        .remove(0);
    let rendered = render_guide(
        &preset,
        &guide,
        rate,
        &EngineRun {
            config: &options.config,
            block_size: options.block_size,
            encoder_dirs: &options.encoder_dirs,
            play_out_latency: options.compensate_latency,
        },
    )?;
    let latency = rendered.latency_samples;
    let (out, slots) = if options.compensate_latency {
        // What starts after the guide's end (the play-out's own rest) is not heard.
        let shifted: Vec<PlayedSlot> = rendered
            .slots
            .iter()
            .map(|slot| PlayedSlot {
                at: slot.at.saturating_sub(u64::from(latency)),
                ..slot.clone()
            })
            .filter(|slot| slot.at < guide.len() as u64)
            .collect();
        (
            compensate_latency(&rendered.channels, latency as usize),
            shifted,
        )
    } else {
        (rendered.channels, rendered.slots)
    };
    let channels = out.len();
    let frames = guide.len();

    write_wav(&options.out, rate, &out, options.format)?;
    if let Some(mix) = &options.mix {
        let companion: Vec<f32> = (0..frames)
            .map(|i| out.iter().map(|c| c[i]).sum::<f32>() / channels as f32)
            .collect();
        write_wav(mix, rate, &[guide.clone(), companion], options.format)?;
    }
    if let Some(path) = &options.segments_out {
        write_segments(path, rate, &slots)?;
    }
    Ok(RenderReport {
        audio_seconds: frames as f64 / f64::from(rate),
        render_seconds: rendered.render_seconds,
        slots: slots.len(),
        late_decisions: rendered.late_decisions,
        nonfinite_samples: rendered.nonfinite_samples,
        sample_rate: rate,
        latency_samples: latency,
        latency_compensated: options.compensate_latency,
    })
}

/// How [`render_guide`] runs the engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineRun<'a> {
    /// The engine's settings.
    pub config: &'a EngineConfig,
    /// Frames per block.
    pub block_size: usize,
    /// Extra folders to look for the preset's encoder in (before the default ones).
    pub encoder_dirs: &'a [PathBuf],
    /// Keep rendering, on silence, for the latency the engine reports after the guide ends, so
    /// that the output covers the whole guide once shifted back by [`compensate_latency`] (as a
    /// host that compensates the plugin's latency plays it).
    pub play_out_latency: bool,
}

/// The companion of one guide, as the engine played it.
#[derive(Debug, Clone)]
pub struct RenderedGuide {
    /// The output, one vector per corpus channel: the guide's length, plus the latency when
    /// [`EngineRun::play_out_latency`] is set.
    pub channels: Vec<Vec<f32>>,
    /// Every slot the engine decided, with where its segment comes from.
    pub slots: Vec<PlayedSlot>,
    /// The latency the engine's audio side reports to the host, in frames (0 in live mode; one
    /// segment plus the worker margin with look-ahead 1).
    pub latency_samples: u32,
    /// Wall-clock seconds the rendering took (loading excluded).
    pub render_seconds: f64,
    /// Decisions that came late (always 0 offline).
    pub late_decisions: u64,
    /// Guide samples that were NaN or infinite.
    pub nonfinite_samples: u64,
}

/// Renders the companion of the mono `guide` at `rate` with the streaming engine the plugin
/// runs, block by block, recording the played slots.
pub fn render_guide(
    preset: &Preset,
    guide: &[f32],
    rate: u32,
    run: &EngineRun<'_>,
) -> Result<RenderedGuide, RenderError> {
    if !(1..=1 << 20).contains(&run.block_size) {
        return Err(RenderError::Options(format!(
            "block size {} must be between 1 and {}",
            run.block_size,
            1 << 20
        )));
    }
    let mut search = EncoderSearch::default();
    search.dirs.splice(0..0, run.encoder_dirs.iter().cloned());
    let loaded = LoadedPreset::load_for(preset, rate, &search, run.config.lookahead)?;
    let channels = loaded.corpus.channel_count();
    let engine = build(loaded, run.config, rate)?;
    let telemetry = std::sync::Arc::clone(engine.control.telemetry());
    let latency_samples = engine.audio.latency_samples();
    let mut renderer = OfflineRenderer::new(engine.audio, engine.worker);
    renderer.worker_mut().record_played(true);

    let input: Cow<'_, [f32]> = if run.play_out_latency {
        let tail = std::iter::repeat_n(0.0, latency_samples as usize);
        Cow::Owned(guide.iter().copied().chain(tail).collect())
    } else {
        Cow::Borrowed(guide)
    };
    let frames = input.len();
    let mut out = vec![vec![0.0f32; frames]; channels];
    let started = Instant::now();
    let mut position = 0;
    while position < frames {
        let n = run.block_size.min(frames - position);
        let mut views: Vec<&mut [f32]> = out
            .iter_mut()
            .map(|channel| &mut channel[position..position + n])
            .collect();
        renderer.process(&[&input[position..position + n]], &mut views)?;
        position += n;
    }
    Ok(RenderedGuide {
        channels: out,
        slots: renderer.worker_mut().take_played(),
        latency_samples,
        render_seconds: started.elapsed().as_secs_f64(),
        late_decisions: telemetry.late_decisions(),
        nonfinite_samples: telemetry.nonfinite_samples(),
    })
}

/// The output as the plugin's user hears it when the host compensates the reported latency:
/// every channel shifted back by `latency` frames, so that frame `i` is what sounds with guide
/// frame `i`. The result is `latency` frames shorter (empty when the output is shorter).
pub fn compensate_latency(channels: &[Vec<f32>], latency: usize) -> Vec<Vec<f32>> {
    channels
        .iter()
        .map(|c| c.get(latency..).unwrap_or_default().to_vec())
        .collect()
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> RenderError {
    RenderError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes de-interleaved `channels` as a WAV file; a failure is a [`RenderError::Write`].
fn write_wav(
    path: &Path,
    rate: u32,
    channels: &[Vec<f32>],
    format: SampleFormat,
) -> Result<(), RenderError> {
    audio_file::write_wav(path, rate, channels, format).map_err(|e| match e {
        AudioFileError::Write { path, reason } => RenderError::Write { path, reason },
        other => RenderError::Guide(other),
    })
}

/// Writes one CSV row per played slot: output time, label, source file, source time.
fn write_segments(path: &Path, rate: u32, slots: &[PlayedSlot]) -> Result<(), RenderError> {
    let mut text = String::from("output_s,label,source_file,source_s\n");
    for slot in slots {
        let at = slot.at as f64 / f64::from(rate);
        match &slot.origin {
            Some(origin) => text.push_str(&format!(
                "{at:.6},{},{},{:.6}\n",
                origin.label,
                csv_field(&origin.file),
                origin.start_seconds
            )),
            None => text.push_str(&format!("{at:.6},,,\n")),
        }
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| write_error(path, e))
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
