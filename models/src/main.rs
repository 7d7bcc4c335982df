//! The `counterpart` command-line tool.

mod cli;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use counterpart_core::decision::{DecisionConfig, SamplerSettings, DEFAULT_TEMPERATURE};
use counterpart_core::engine::{EngineConfig, EngineSettings, Margin};
use counterpart_core::perception::{
    EncoderOptions, OnnxEncoder, SegmentEncoderConfig, SegmentLength, SegmentationConfig,
};
use counterpart_core::preset::{Preset, PresetInfo};
use counterpart_models::build_preset::{
    build_preset, default_model, evaluate_preset, minutes, preset_encoding, BuildOptions,
    CodebookFit,
};
use counterpart_models::check::{check, CheckOptions};
use counterpart_models::eval_perception::{evaluate, held_out_pieces, EvalOptions};
use counterpart_models::evaluate::{EvalCorpus, EvalSampling, BASELINES};
use counterpart_models::fit_codebook::fit_codebook;
use counterpart_models::kmeans::KMeansConfig;
use counterpart_models::layout::{PairSelection, StemsSet};
use counterpart_models::plot::SERIES_COLOURS;
use counterpart_models::render::{render, RenderOptions, SampleFormat};
use counterpart_models::sweep::{sweep, SweepOptions};
use counterpart_models::tokenise::EncodingSettings;
use counterpart_models::train::TrainConfig;

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
        timing: cli::timing::TimingArgs,
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
    },
    /// Print what a preset holds (`--json`: its whole header).
    Inspect(cli::inspect::InspectArgs),
    /// A preset's model with your own recordings as its corpus: no training.
    Recorpus(cli::recorpus::RecorpusArgs),
    /// Health check of a stems set: formats, rates, channels, lengths, alignment, silence,
    /// duration. Exits non-zero on errors.
    Check {
        /// A stems folder (manifest.json, <piece>/<stem>.<ext> or <piece>/<instrument>/*.<ext>).
        stems_dir: PathBuf,
        #[command(flatten)]
        pairs: PairArgs,
        /// Shortest usable piece, in seconds.
        #[arg(long, default_value_t = 5.0)]
        min_seconds: f64,
    },
    /// Build a corpus preset from a stems set: check, encode, fit the codebook, tokenise, train,
    /// evaluate on held-out pieces, pack.
    BuildPreset(Box<BuildArgs>),
    /// Evaluate a preset's model on a stems set: TPP and LCP against the baselines.
    Eval {
        /// The preset.
        #[arg(long)]
        preset: PathBuf,
        /// A stems folder.
        stems_dir: PathBuf,
        #[command(flatten)]
        pairs: PairArgs,
        /// Evaluate the preset's model for this look-ahead (its preferred model when left out).
        #[arg(long)]
        lookahead: Option<usize>,
        /// Sample only labels present in a corpus (see `--corpus`).
        #[arg(long)]
        constrained: bool,
        /// The corpus of `--constrained`: each pair's target track (the memory B is played
        /// from, the paper's protocol), or the preset's corpus (as in the plugin).
        #[arg(long, value_enum, default_value_t = EvalCorpus::Target)]
        corpus: EvalCorpus,
        /// Sampling temperature (0: arg-max decoding, compared with the majority-label baseline).
        #[arg(long, default_value_t = 1.0)]
        temperature: f32,
        /// Nucleus mass of the sampling.
        #[arg(long, default_value_t = 0.9)]
        top_p: f32,
        /// Print the scores as JSON.
        #[arg(long)]
        json: bool,
        /// PNG plot of the mean LCP per position.
        #[arg(long, default_value = "lcp.png")]
        plot: PathBuf,
        /// The encoder file (must match the preset's hash).
        #[arg(long, default_value = DEFAULT_ENCODER)]
        encoder: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The musician's metrics: render each guide as `render` does and score the companion, as
    /// the plugin's user hears it, against the stems' notes (harmony, onset sync, rests).
    EvalHeard(cli::eval_heard::EvalHeardArgs),
    /// Train and evaluate K ∈ {16, 64, 256} × L ∈ {0, 1} on a stems set and write the table.
    Sweep {
        /// A stems folder.
        stems_dir: PathBuf,
        /// Alphabet sizes.
        #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 64, 256])]
        k: Vec<usize>,
        /// Look-aheads.
        #[arg(long, value_delimiter = ',', default_values_t = vec![0usize, 1])]
        lookahead: Vec<usize>,
        /// Markdown table output.
        #[arg(long, default_value = "docs/results.md")]
        out: PathBuf,
        /// Folder for the presets of the sweep.
        #[arg(long, default_value = "target/sweep")]
        presets: PathBuf,
        /// Re-evaluate the runs whose preset is already in `--presets` instead of training them
        /// again (finishes an interrupted sweep; rescores after an evaluation change).
        #[arg(long)]
        reuse: bool,
        #[command(flatten)]
        common: CommonBuildArgs,
    },
}

/// Which pairs to use.
#[derive(clap::Args, Debug, Clone)]
struct PairArgs {
    /// `primary`: the manifest's primary pair per piece; `all`: every pair it names (every
    /// ordered pair of stems without a manifest).
    #[arg(long, default_value = "primary", value_parser = ["primary", "all"])]
    pairs: String,
    /// Guide stem name (with --target).
    #[arg(long, requires = "target")]
    guide: Option<String>,
    /// Target stem name (with --guide).
    #[arg(long, requires = "guide")]
    target: Option<String>,
}

impl PairArgs {
    fn selection(&self) -> PairSelection {
        match (&self.guide, &self.target) {
            (Some(guide), Some(target)) => PairSelection::Named {
                guide: guide.clone(),
                target: target.clone(),
            },
            _ if self.pairs == "all" => PairSelection::All,
            _ => PairSelection::Primary,
        }
    }
}

/// Encoding resources.
#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    /// Encoding threads (0: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Folder of the segment-vector cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Do not cache segment vectors.
    #[arg(long)]
    no_cache: bool,
}

impl RunArgs {
    fn cache(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache.clone().or_else(EncodingSettings::default_cache)
        }
    }
}

/// Settings shared by build-preset and sweep.
#[derive(clap::Args, Debug, Clone)]
struct CommonBuildArgs {
    #[command(flatten)]
    pairs: PairArgs,
    /// Segment length in seconds.
    #[arg(long, default_value_t = 0.5)]
    segment: f64,
    /// Past context of the encoder, in seconds.
    #[arg(long, default_value_t = 1.5)]
    context: f64,
    /// The live model's reaction window W in milliseconds (0: none): the decision for each
    /// segment also hears the guide's first W ms of it. See docs/results.md for the choice.
    #[arg(long, default_value_t = 60.0)]
    reaction_ms: f64,
    /// Training time limit, in minutes.
    #[arg(long, default_value_t = 30.0)]
    minutes_limit: f64,
    /// Most training epochs.
    #[arg(long, default_value_t = 60)]
    max_epochs: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Model width (d_model).
    #[arg(long, default_value_t = 128)]
    d_model: usize,
    /// Encoder and decoder layers (each).
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Feed-forward width.
    #[arg(long, default_value_t = 512)]
    ffn: usize,
    /// Seed of the split, k-means and training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Probability of replacing each label of B's past by a random one while training (against
    /// the model copying B's past and ignoring A when it generates: when it plays, B's past is
    /// its own output, which says nothing about the true B). See docs/results.md.
    #[arg(long, default_value_t = 0.95)]
    history_noise: f64,
    /// Share in [0, 1] of the initial label embeddings drawn from the codebook centres (0:
    /// random), so that labels with close centres start close. See docs/results.md.
    #[arg(long, default_value_t = 0.8)]
    label_init: f64,
    /// The encoder.
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// Skip the stems check.
    #[arg(long)]
    skip_check: bool,
    /// More stems sets for training and validation only (repeatable): never held out, never in
    /// the corpus. Their piece ids must differ from the main set's.
    #[arg(long = "extra-stems")]
    extra_stems: Vec<PathBuf>,
    /// Fit the codebook on the training pairs' target tracks (the corpus side) or on every
    /// track.
    #[arg(long, default_value = "targets", value_parser = ["targets", "all"])]
    codebook_fit: String,
    #[command(flatten)]
    run: RunArgs,
}

/// `build-preset` arguments.
#[derive(clap::Args, Debug, Clone)]
struct BuildArgs {
    /// A stems folder.
    stems_dir: PathBuf,
    /// Output preset file.
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
    /// Corpus recordings (default: the target stems of the training pieces).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Alphabet size K.
    #[arg(long, default_value_t = 16)]
    k: usize,
    /// Look-aheads L in segments (0 = live, 1 = aligned), comma-separated: one decision model
    /// is trained for each, the first being the preset's preferred one.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u8, 0],
          value_parser = clap::value_parser!(u8).range(0..=1))]
    lookahead: Vec<u8>,
    /// Preset name.
    #[arg(long, default_value = "Untitled corpus")]
    name: String,
    /// Author.
    #[arg(long, default_value = "")]
    author: String,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Licence of the preset and its corpus audio (SPDX identifier).
    #[arg(long, default_value = "CC0-1.0")]
    licence: String,
    /// Keep the checkpoint and loss log here.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    common: CommonBuildArgs,
}

fn build_options(c: &CommonBuildArgs, k: usize, lookahead: usize) -> BuildOptions {
    BuildOptions {
        selection: c.pairs.selection(),
        corpus: None,
        k,
        kmeans_restarts: 4,
        codebook_fit: if c.codebook_fit == "all" {
            CodebookFit::AllTracks
        } else {
            CodebookFit::Targets
        },
        extra_training: c.extra_stems.clone(),
        encoding: EncodingSettings {
            encoder: c.encoder.clone(),
            layer: None,
            config: SegmentEncoderConfig {
                reaction_s: c.reaction_ms / 1000.0,
                ..segment_config(c.segment, c.context)
            },
            threads: c.run.threads,
            cache: c.run.cache(),
            show_progress: true,
        },
        model: DecisionConfig {
            d_model: c.d_model,
            encoder_layers: c.layers,
            decoder_layers: c.layers,
            ffn_dim: c.ffn,
            ..default_model(k, lookahead)
        },
        lookaheads: vec![lookahead],
        train: TrainConfig {
            batch_size: c.batch_size,
            max_epochs: c.max_epochs,
            seed: c.seed,
            history_noise: c.history_noise,
            time_budget: Some(minutes(c.minutes_limit)),
            ..TrainConfig::default()
        },
        test_fraction: 0.15,
        val_fraction: 0.15,
        seed: c.seed,
        info: PresetInfo {
            name: "sweep".into(),
            author: String::new(),
            description: String::new(),
            licence: "CC0-1.0".into(),
            created: String::new(),
        },
        work_dir: None,
        skip_check: c.skip_check,
        label_init: c.label_init,
    }
}

fn check_command(stems_dir: &Path, pairs: &PairArgs, min_seconds: f64) -> Result<(), String> {
    let set = StemsSet::open(stems_dir).map_err(|e| e.to_string())?;
    let report = check(
        &set,
        &CheckOptions {
            min_seconds,
            selection: pairs.selection(),
        },
    );
    for d in &report.diagnostics {
        println!("{d}");
    }
    println!(
        "{} pieces, {} files, {:.1} min of pieces: {} error(s), {} warning(s)",
        report.pieces,
        report.files,
        report.seconds / 60.0,
        report.errors(),
        report.warnings()
    );
    if report.errors() > 0 {
        Err(format!(
            "{} error(s) in {}",
            report.errors(),
            stems_dir.display()
        ))
    } else {
        Ok(())
    }
}

fn build_command(a: &BuildArgs) -> Result<(), String> {
    let mut options = build_options(&a.common, a.k, 0);
    options.lookaheads = a.lookahead.iter().map(|&l| usize::from(l)).collect();
    options.corpus = a.corpus.clone();
    options.work_dir = a.work_dir.clone();
    options.info = PresetInfo {
        name: a.name.clone(),
        author: a.author.clone(),
        description: a.description.clone(),
        licence: a.licence.clone(),
        created: String::new(),
    };
    let outcome = build_preset(&a.stems_dir, &options).map_err(|e| e.to_string())?;
    outcome.preset.save(&a.out).map_err(|e| e.to_string())?;
    let s = outcome.preset.summary();
    println!("wrote {}", a.out.display());
    println!("{s}");
    for m in &outcome.models {
        println!(
            "L = {}: {} epochs in {:.0} s, best {} (val loss {:.4}, accuracy {:.2}%), {:.0} \
             tokens/s",
            m.lookahead,
            m.train.epochs.len(),
            m.train_s,
            m.train.best_epoch,
            m.train.best_val_loss,
            m.train.best_val_accuracy * 100.0,
            m.train.tokens_per_second
        );
        for e in &m.eval {
            println!(
                "L = {}, held-out pieces {}:\n{}",
                m.lookahead,
                outcome.split[2].join(", "),
                e.table()
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn eval_command(
    preset_path: &Path,
    stems_dir: &Path,
    pairs: &PairArgs,
    lookahead: Option<usize>,
    sampling: &EvalSampling,
    json: bool,
    plot: &Path,
    encoder: &Path,
    run: &RunArgs,
) -> Result<(), String> {
    let preset = Preset::load(preset_path).map_err(|e| e.to_string())?;
    let encoding =
        preset_encoding(&preset, encoder, run.threads, run.cache()).map_err(|e| e.to_string())?;
    let report = evaluate_preset(
        &preset,
        lookahead,
        stems_dir,
        &pairs.selection(),
        &encoding,
        sampling,
    )
    .map_err(|e| e.to_string())?;
    report.plot(plot).map_err(|e| e.to_string())?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
        let key: Vec<String> = std::iter::once("model")
            .chain(
                BASELINES
                    .iter()
                    .copied()
                    .filter(|n| report.baselines.contains_key(n)),
            )
            .zip(SERIES_COLOURS)
            .map(|(n, (c, _))| format!("{n} = {c}"))
            .collect();
        println!("LCP per position: {} ({})", plot.display(), key.join(", "));
    }
    Ok(())
}

fn segment_config(segment: f64, context: f64) -> SegmentEncoderConfig {
    SegmentEncoderConfig {
        segmentation: SegmentationConfig {
            length: SegmentLength::Seconds(segment),
            onset_snap: None,
        },
        context_s: context,
        reaction_s: 0.0,
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
    // Like other command-line tools, stop quietly when the reader of our output goes away
    // (`counterpart inspect P | head`) instead of panicking on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
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
            no_latency_compensation,
            temperature,
            top_p,
            top_k,
            freedom,
            continuity,
            seed,
            lookahead,
            constrained,
            timing,
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
                compensate_latency: !no_latency_compensation,
                config: EngineConfig {
                    lookahead,
                    seed,
                    tempo_bpm: bpm,
                    settings: timing.apply(EngineSettings {
                        temperature,
                        top_p,
                        top_k,
                        freedom,
                        constrained,
                        continuity,
                        ..EngineSettings::default()
                    }),
                    worker_margin: Margin::Host {
                        max_block: block_size,
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
                })
                .map_err(|e| e.to_string())
        }
        Command::Inspect(args) => cli::inspect::run(&args),
        Command::Recorpus(args) => cli::recorpus::run(&args),
        Command::Check {
            stems_dir,
            pairs,
            min_seconds,
        } => check_command(&stems_dir, &pairs, min_seconds),
        Command::BuildPreset(args) => build_command(&args),
        Command::Eval {
            preset,
            stems_dir,
            pairs,
            lookahead,
            constrained,
            corpus,
            temperature,
            top_p,
            json,
            plot,
            encoder,
            run,
        } => eval_command(
            &preset,
            &stems_dir,
            &pairs,
            lookahead,
            &EvalSampling {
                settings: SamplerSettings {
                    temperature,
                    top_p,
                    ..EvalSampling::new(constrained).settings
                },
                corpus,
                seed: 0,
            },
            json,
            &plot,
            &encoder,
            &run,
        ),
        Command::EvalHeard(args) => cli::eval_heard::run(&args),
        Command::Sweep {
            stems_dir,
            k,
            lookahead,
            out,
            presets,
            reuse,
            common,
        } => sweep(
            &stems_dir,
            &SweepOptions {
                ks: k,
                lookaheads: lookahead,
                out,
                presets,
                base: build_options(&common, 16, 0),
                reuse,
            },
        )
        .map(|table| print!("{table}"))
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
