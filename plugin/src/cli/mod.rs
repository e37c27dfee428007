//! The `sentio` command-line tool.

mod analyze;
pub mod decode;
pub mod features;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "sentio",
    version,
    about = "Speech emotion recognition from the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the plugin's analysis on an audio file and print the timeline of its outputs.
    Analyze(AnalyzeArgs),
    /// Write the front end's features of audio files as .npy arrays (for model training).
    Features(features::FeaturesArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// WAV, FLAC or MP3 file (any sample rate, any channel count).
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Timeline resolution in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(10..=10_000))]
    pub interval_ms: u32,
    /// Also send every timeline row as an OSC bundle to HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub osc: Option<String>,
    /// OSC address prefix.
    #[arg(long, default_value = crate::output::osc::DEFAULT_PREFIX)]
    pub osc_prefix: String,
    /// Pace the analysis at playback speed and print rows as they happen.
    #[arg(long)]
    pub realtime: bool,
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Features(args) => features::run(&args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
