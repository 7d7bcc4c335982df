//! The `counterpart` command-line tool.

use clap::{Parser, Subcommand};

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
    match cli.command {
        Command::Doctor => match counterpart_core::onnx_runtime::environment() {
            Ok(rt) => {
                println!("ONNX Runtime loaded from {}", rt.library_path().display());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
