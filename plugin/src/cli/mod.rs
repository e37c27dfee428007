//! The `sentio` command-line tool.

mod analyze;
mod calibrate;
pub mod decode;
pub mod eval;
mod eval_text;
pub mod features;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::emotion::onnx_model::{ModelOptions, OnnxEmotionModel};
use crate::emotion::runtime::Device;
use crate::emotion::EmotionModel;
use crate::worker::{AnalysisSettings, ModelLoader, WorkerConfig};

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
    /// Evaluate the emotion model on labelled files (CSV manifest `path,label`).
    Eval(eval::EvalArgs),
    /// Evaluate the text-emotion path on a labelled TSV corpus (dataset, split, id, text, orig_label, ekman7).
    EvalText(eval_text::EvalTextArgs),
    /// Measure a speaker's neutral voice for speaker normalisation (see --calibration).
    Calibrate(calibrate::CalibrateArgs),
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
    #[command(flatten)]
    pub model: ModelArgs,
}

/// How to run the emotion model (shared by the commands that use it).
#[derive(clap::Args, Clone)]
pub struct ModelArgs {
    /// Run without the emotion model (voice, level and pitch only).
    #[arg(long)]
    pub no_model: bool,
    /// The .onnx model, with its .json beside it (default: the installed model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Time between emotion updates.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(10..=5000))]
    pub hop_ms: u32,
    /// Time constant of the emotion smoothing (0: none).
    #[arg(long, default_value_t = 500)]
    pub smoothing_ms: u32,
    /// A calibration made by `sentio calibrate` (the speaker's neutral voice).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
}

impl ModelArgs {
    pub fn options(&self) -> anyhow::Result<ModelOptions> {
        let calibration = match &self.calibration {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read calibration {}", path.display()))?;
                Some(
                    serde_json::from_str(&text)
                        .with_context(|| format!("invalid calibration file {}", path.display()))?,
                )
            }
            None => None,
        };
        Ok(ModelOptions {
            device: self.device,
            hop_frames: (self.hop_ms / 10).max(1) as usize,
            calibration,
        })
    }

    pub fn load(&self) -> anyhow::Result<OnnxEmotionModel> {
        let options = self.options()?;
        let model = match &self.model {
            Some(path) => OnnxEmotionModel::load_from(path, &options),
            None => OnnxEmotionModel::load(&options),
        };
        model.map_err(anyhow::Error::msg)
    }

    /// The worker configuration: the model is loaded by the worker, as in the plugin.
    pub fn worker_config(&self) -> anyhow::Result<WorkerConfig> {
        let options = self.options()?;
        let path = self.model.clone();
        let smoothing_s = self.smoothing_ms as f32 / 1000.0;
        Ok(WorkerConfig {
            model: (!self.no_model).then(|| {
                Box::new(move || {
                    let m = match path {
                        Some(p) => OnnxEmotionModel::load_from(&p, &options),
                        None => OnnxEmotionModel::load(&options),
                    }?;
                    Ok(Box::new(m) as Box<dyn EmotionModel>)
                }) as ModelLoader
            }),
            settings: Box::new(move || AnalysisSettings {
                smoothing_s,
                calibrating: false,
            }),
            ..WorkerConfig::default()
        })
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Features(args) => features::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::EvalText(args) => eval_text::run(&args),
    };
    match result {
        Ok(()) => 0,
        // `sentio analyze … | head` closing the pipe is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            0
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
