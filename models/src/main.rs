//! The `counterpart` command-line tool: parses the command line and runs the subcommand, each
//! of which lives in its own module under `cli`.

// clap turns the doc comments below into `--help` text, where `<piece>/<stem>.flac` is a
// placeholder path, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

mod cli;

use clap::{Parser, Subcommand};

/// Counterpart: learn how a companion track follows a guide track, and play it from a corpus.
#[derive(Parser)]
#[command(name = "counterpart", version, about)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Subcommand)]
enum CliCommand {
    /// Check that ONNX Runtime can be found and loaded, and say where it came from.
    Doctor,
    /// Measure how much pitch class and instrument the segment tokens carry (NMI), for the default
    /// encoder, the same architecture with random weights, and MFCC+chroma descriptors.
    EvalPerception(cli::eval_perception::EvalPerceptionArgs),
    /// Fit a k-means codebook on the pooled segment vectors of a stems set, computed exactly as at
    /// run time, and save it (safetensors).
    FitCodebook(cli::fit_codebook::FitCodebookArgs),
    /// Render the companion track for a guide file with a preset, offline, with the same
    /// streaming engine the plugin runs (block by block). Deterministic for a seed.
    Render(cli::render::RenderArgs),
    /// Print what a preset holds (`--json`: its whole header).
    Inspect(cli::inspect::InspectArgs),
    /// List the preset library: the factory presets and yours (name, relation, description,
    /// corpus length, file). `--preset` of `render` and `eval-heard` takes these names.
    Presets(cli::presets::PresetsArgs),
    /// A preset's model with your own recordings as its corpus: no training.
    Recorpus(cli::recorpus::RecorpusArgs),
    /// Health check of a stems set: formats, rates, channels, lengths, alignment, silence,
    /// duration. Exits non-zero on errors.
    Check(cli::check::CheckArgs),
    /// Build a corpus preset from a stems set: check, encode, fit the codebook, tokenise, train,
    /// evaluate on held-out pieces, pack.
    BuildPreset(Box<cli::build_preset::BuildPresetArgs>),
    /// How the companion part moves against the guide in a stems set's pairs (onset
    /// coincidence, note rate, presence, changes within a beat), from their notes: what
    /// `build-preset` stores in a preset.
    Character(cli::character::CharacterArgs),
    /// Evaluate a preset's model on a stems set: TPP and LCP against the baselines.
    Eval(cli::eval::EvalArgs),
    /// The musician's metrics: render each guide as `render` does and score the companion, as
    /// the plugin's user hears it, against the stems' notes (harmony, onset sync, rests).
    EvalHeard(cli::eval_heard::EvalHeardArgs),
    /// Train and evaluate K ∈ {16, 64, 256} × L ∈ {0, 1} on a stems set and write the table.
    Sweep(cli::sweep::SweepArgs),
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
    let result = match Cli::parse().command {
        CliCommand::Doctor => cli::doctor::run(),
        CliCommand::EvalPerception(args) => cli::eval_perception::run(&args),
        CliCommand::FitCodebook(args) => cli::fit_codebook::run(&args),
        CliCommand::Render(args) => cli::render::run(&args),
        CliCommand::Inspect(args) => cli::inspect::run(&args),
        CliCommand::Presets(args) => cli::presets::run(&args),
        CliCommand::Recorpus(args) => cli::recorpus::run(&args),
        CliCommand::Check(args) => cli::check::run(&args),
        CliCommand::BuildPreset(args) => cli::build_preset::run(&args),
        CliCommand::Character(args) => cli::character::run(&args),
        CliCommand::Eval(args) => cli::eval::run(&args),
        CliCommand::EvalHeard(args) => cli::eval_heard::run(&args),
        CliCommand::Sweep(args) => cli::sweep::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
