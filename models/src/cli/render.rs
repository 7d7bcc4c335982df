//! `counterpart render`: the companion track for a guide file with a preset, rendered offline
//! with the same streaming engine the plugin runs (block by block), deterministic for a seed.

use std::path::PathBuf;

use counterpart_core::decision::DEFAULT_TEMPERATURE;
use counterpart_core::engine::{EngineConfig, EngineSettings, Margin};
use counterpart_models::render::{render, RenderOptions, SampleFormat};

use super::timing_args::TimingArgs;

/// Arguments of `counterpart render`.
#[derive(clap::Args, Debug, Clone)]
pub struct RenderArgs {
    /// The preset: a file, or the name of a preset of the library (`counterpart presets`).
    #[arg(long)]
    preset: PathBuf,
    /// The guide track (WAV, FLAC, Ogg, MP3; any rate; mixed down to mono).
    #[arg(long)]
    guide: PathBuf,
    /// Where to write the companion track (WAV; stereo when the corpus is).
    #[arg(short, long)]
    out: PathBuf,
    /// Also write a stereo WAV with the guide on the left and the companion on the right.
    #[arg(long)]
    mix: Option<PathBuf>,
    /// Also write the played segments as CSV (output time, label, source file, source time).
    #[arg(long)]
    segments_out: Option<PathBuf>,
    /// Write the engine's raw stream, late by the latency the plugin reports (aligned mode),
    /// instead of lining the companion up with the guide as a DAW does.
    #[arg(long)]
    no_latency_compensation: bool,
    /// Sampling temperature (0: arg-max).
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    temperature: f32,
    /// Nucleus mass (1: off).
    #[arg(long, default_value_t = 0.9)]
    top_p: f32,
    /// Keep at most this many labels (0: off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Follow ↔ free blend in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    freedom: f32,
    /// Probability of continuing with the corpus successor when it fits.
    #[arg(long, default_value_t = 1.0)]
    continuity: f32,
    /// Seed of the sampler and the navigator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Look-ahead in segments: plays the preset's model for it (the preset's preferred model
    /// when left out).
    #[arg(long)]
    lookahead: Option<usize>,
    /// Only sample labels the corpus has (pass `--constrained false` to allow all).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    constrained: bool,
    #[command(flatten)]
    timing: TimingArgs,
    /// Frames per block, as a host would call the plugin with (the worker margin is fitted
    /// to it).
    #[arg(long, default_value_t = 512)]
    block_size: usize,
    /// Render at this rate (the guide is resampled); the guide's rate when left out.
    #[arg(long)]
    sample_rate: Option<u32>,
    /// Write 24-bit integer WAV instead of 32-bit float.
    #[arg(long)]
    int24: bool,
    /// For tempo-synced presets: segment at this tempo instead of the preset's.
    #[arg(long)]
    bpm: Option<f64>,
    /// A folder to look for the preset's encoder in first.
    #[arg(long)]
    encoder_dir: Vec<PathBuf>,
}

/// Renders the companion track (and the mix and segment list when asked) and prints what was
/// written, how fast, and how it lines up with the guide.
pub fn run(args: &RenderArgs) -> Result<(), String> {
    let options = RenderOptions {
        preset: super::presets::resolve(&args.preset)?,
        guide: args.guide.clone(),
        out: args.out.clone(),
        mix: args.mix.clone(),
        segments_out: args.segments_out.clone(),
        compensate_latency: !args.no_latency_compensation,
        config: EngineConfig {
            lookahead: args.lookahead,
            seed: args.seed,
            tempo_bpm: args.bpm,
            settings: args.timing.apply(EngineSettings {
                temperature: args.temperature,
                top_p: args.top_p,
                top_k: args.top_k,
                freedom: args.freedom,
                constrained: args.constrained,
                continuity: args.continuity,
                ..EngineSettings::default()
            }),
            worker_margin: Margin::Host {
                max_block: args.block_size,
            },
            ..EngineConfig::default()
        },
        block_size: args.block_size,
        sample_rate: args.sample_rate,
        format: if args.int24 {
            SampleFormat::Int24
        } else {
            SampleFormat::Float32
        },
        encoder_dirs: args.encoder_dir.clone(),
    };
    let report = render(&options).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {:.1} s at {} Hz, {} segments, rendered in {:.2} s ({:.1}x real time), {} late decisions",
        args.out.display(),
        report.audio_seconds,
        report.sample_rate,
        report.slots,
        report.render_seconds,
        report.speed(),
        report.late_decisions
    );
    let latency = f64::from(report.latency_samples) / f64::from(report.sample_rate);
    if report.latency_samples == 0 {
        println!("live mode: no latency, the companion answers as it plays");
    } else if report.latency_compensated {
        println!(
            "lined up with the guide: the {latency:.3} s latency the plugin reports is \
             compensated, as a DAW does (--no-latency-compensation for the raw stream)"
        );
    } else {
        println!(
            "raw stream: the companion is {latency:.3} s late, the latency the plugin \
             reports (a DAW compensates it)"
        );
    }
    if report.nonfinite_samples > 0 {
        eprintln!(
            "warning: {} guide samples were NaN or infinite and were replaced by silence",
            report.nonfinite_samples
        );
    }
    Ok(())
}
