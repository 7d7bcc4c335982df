//! The `counterpart` command-line tool.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use counterpart_core::engine::{EngineConfig, EngineSettings};
use counterpart_core::perception::{
    EncoderOptions, OnnxEncoder, SegmentEncoderConfig, SegmentLength, SegmentationConfig,
};
use counterpart_models::eval_perception::{evaluate, held_out_pieces, EvalOptions};
use counterpart_models::fit_codebook::fit_codebook;
use counterpart_models::kmeans::KMeansConfig;
use counterpart_models::render::{render, RenderOptions, SampleFormat};

/// Counterpart: learn how a companion track follows a guide track, and play it from a corpus.
#[derive(Parser)]
#[command(name = "counterpart", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that ONNX Runtime can be found and loaded, and say where it came from.
    Doctor,
    /// Measure how much pitch class and instrument the segment tokens carry (NMI), for the default
    /// encoder, the same architecture with random weights, and MFCC+chroma descriptors.
    EvalPerception {
        /// A stems set (manifest.json, <piece>/<stem>.flac, <stem>.notes.json).
        stems_dir: PathBuf,
        /// Alphabet sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 64])]
        k: Vec<usize>,
        /// Print the scores as JSON.
        #[arg(long)]
        json: bool,
        /// The trained encoder.
        #[arg(long, default_value = DEFAULT_ENCODER)]
        encoder: PathBuf,
        /// The same architecture with random weights.
        #[arg(long, default_value = RANDOM_ENCODER)]
        random_encoder: PathBuf,
        /// Segment length in seconds.
        #[arg(long, default_value_t = 0.5)]
        segment: f64,
        /// Past context in seconds.
        #[arg(long, default_value_t = 1.5)]
        context: f64,
        /// Score every piece, not only those held out from the encoder's training.
        #[arg(long)]
        all_pieces: bool,
        /// k-means restarts.
        #[arg(long, default_value_t = 4)]
        restarts: usize,
    },
    /// Fit a k-means codebook on the pooled segment vectors of a stems set, computed exactly as at
    /// run time, and save it (safetensors).
    FitCodebook {
        /// A stems set (manifest.json, <piece>/<stem>.flac).
        stems_dir: PathBuf,
        /// Alphabet size: 16, 32, 64, 128, 256, 512 or 1024.
        #[arg(long, default_value_t = 64)]
        k: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// The encoder.
        #[arg(long, default_value = DEFAULT_ENCODER)]
        encoder: PathBuf,
        /// Encoder layer (the encoder's default when left out).
        #[arg(long)]
        layer: Option<usize>,
        /// Segment length in seconds.
        #[arg(long, default_value_t = 0.5)]
        segment: f64,
        /// Past context in seconds.
        #[arg(long, default_value_t = 1.5)]
        context: f64,
        /// k-means restarts.
        #[arg(long, default_value_t = 4)]
        restarts: usize,
        /// k-means seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Render the companion track for a guide file with a preset, offline, with the same
    /// streaming engine the plugin runs (block by block). Deterministic for a seed.
    Render {
        /// The preset file.
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
        /// Sampling temperature (0: arg-max).
        #[arg(long, default_value_t = 1.0)]
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
        /// Look-ahead in segments; must be the model's (the model's when left out).
        #[arg(long)]
        lookahead: Option<usize>,
        /// Only sample labels the corpus has (pass `--constrained false` to allow all).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        constrained: bool,
        /// Frames per block.
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
    },
    /// Print what a preset holds.
    Inspect {
        /// The preset file.
        preset: PathBuf,
    },
}

fn segment_config(segment: f64, context: f64) -> SegmentEncoderConfig {
    SegmentEncoderConfig {
        segmentation: SegmentationConfig {
            length: SegmentLength::Seconds(segment),
            onset_snap: None,
        },
        context_s: context,
    }
}

/// The committed default encoder (in this source tree).
const DEFAULT_ENCODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/encoders/counterpart-default.onnx"
);
/// The default encoder's architecture with its random initial weights.
const RANDOM_ENCODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/encoders/counterpart-random-init.onnx"
);

fn fit_codebook_command(
    stems_dir: &Path,
    out: &Path,
    encoder: &Path,
    layer: Option<usize>,
    config: &SegmentEncoderConfig,
    kmeans: &KMeansConfig,
) -> Result<(), String> {
    let options = EncoderOptions {
        layer,
        intra_threads: 1,
    };
    let mut enc = OnnxEncoder::load(encoder, &options).map_err(|e| e.to_string())?;
    let fitted =
        fit_codebook(stems_dir, None, config, &mut enc, kmeans).map_err(|e| e.to_string())?;
    fitted.codebook.save(out).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: K = {}, {} vectors, inertia {:.4e}, usage (perplexity / K) {:.3}",
        out.display(),
        fitted.codebook.k(),
        fitted.assignments.len(),
        fitted.inertia,
        fitted.usage()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Doctor => counterpart_core::onnx_runtime::environment()
            .map(|rt| println!("ONNX Runtime loaded from {}", rt.library_path().display()))
            .map_err(|e| e.to_string()),
        Command::EvalPerception {
            stems_dir,
            k,
            json,
            encoder,
            random_encoder,
            segment,
            context,
            all_pieces,
            restarts,
        } => {
            let pieces = if all_pieces {
                None
            } else {
                held_out_pieces(&encoder)
            };
            if let Some(p) = &pieces {
                eprintln!(
                    "scoring the {} pieces held out from training: {}",
                    p.len(),
                    p.join(", ")
                );
            }
            let options = EvalOptions {
                ks: k,
                config: segment_config(segment, context),
                default_encoder: encoder,
                random_encoder,
                pieces,
                restarts,
                seed: 42,
            };
            evaluate(&stems_dir, &options)
                .map(|(report, n)| {
                    if json {
                        let plain: serde_json::Value =
                            serde_json::to_value(&report).expect("scores serialise");
                        println!("{plain}");
                    } else {
                        println!("{n} scored segments");
                        println!(
                            "{:>5} {:<12} {:>10} {:>10} {:>8}",
                            "K", "method", "pitch NMI", "instr NMI", "usage"
                        );
                        for (k, methods) in &report {
                            for (name, s) in methods {
                                println!(
                                    "{:>5} {:<12} {:>10.3} {:>10.3} {:>8.3}",
                                    k, name, s.pitch_class_nmi, s.instrument_nmi, s.usage
                                );
                            }
                        }
                    }
                })
                .map_err(|e| e.to_string())
        }
        Command::FitCodebook {
            stems_dir,
            k,
            out,
            encoder,
            layer,
            segment,
            context,
            restarts,
            seed,
        } => fit_codebook_command(
            &stems_dir,
            &out,
            &encoder,
            layer,
            &segment_config(segment, context),
            &KMeansConfig {
                restarts,
                seed,
                ..KMeansConfig::new(k)
            },
        ),
        Command::Render {
            preset,
            guide,
            out,
            mix,
            segments_out,
            temperature,
            top_p,
            top_k,
            freedom,
            continuity,
            seed,
            lookahead,
            constrained,
            block_size,
            sample_rate,
            int24,
            bpm,
            encoder_dir,
        } => {
            let options = RenderOptions {
                preset,
                guide,
                out: out.clone(),
                mix,
                segments_out,
                config: EngineConfig {
                    lookahead,
                    seed,
                    tempo_bpm: bpm,
                    settings: EngineSettings {
                        temperature,
                        top_p,
                        top_k,
                        freedom,
                        constrained,
                        continuity,
                        ..EngineSettings::default()
                    },
                    ..EngineConfig::default()
                },
                block_size,
                sample_rate,
                format: if int24 {
                    SampleFormat::Int24
                } else {
                    SampleFormat::Float32
                },
                encoder_dirs: encoder_dir,
            };
            render(&options)
                .map(|report| {
                    println!(
                        "wrote {}: {:.1} s at {} Hz, {} segments, rendered in {:.2} s ({:.1}x real time), {} late decisions",
                        out.display(),
                        report.audio_seconds,
                        report.sample_rate,
                        report.slots,
                        report.render_seconds,
                        report.speed(),
                        report.late_decisions
                    );
                    if report.nonfinite_samples > 0 {
                        eprintln!(
                            "warning: {} guide samples were NaN or infinite and were replaced by silence",
                            report.nonfinite_samples
                        );
                    }
                })
                .map_err(|e| e.to_string())
        }
        Command::Inspect { preset } => counterpart_core::preset::Preset::load(&preset)
            .map(|p| print!("{}", p.summary()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
