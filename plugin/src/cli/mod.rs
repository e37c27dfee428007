//! The `sentio` command-line tool.

mod adapt;
mod analyze;
mod calibrate;
mod decision;
pub mod decode;
pub mod eval;
mod eval_live;
mod eval_text;
pub mod features;
mod osc_map;
pub mod transcribe;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::emotion::onnx_model::{ModelOptions, OnnxEmotionModel, DEFAULT_RESTART_AFTER_FRAMES};
use crate::emotion::runtime::{AcousticModel, Device};
use crate::emotion::EmotionModel;
use crate::speech::models::{load_transcription, load_vad, SpeechOptions, WhisperModel};
use crate::speech::worker::SpeechConfig;
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
    /// Learn one person's voice from a few labelled clips (folders named after the classes).
    Adapt(adapt::AdaptArgs),
    /// Write the front end's features of audio files as .npy arrays (for model training).
    Features(features::FeaturesArgs),
    /// Transcribe speech (Silero VAD → Whisper) with the text emotion of each utterance.
    Transcribe(transcribe::TranscribeArgs),
    /// Print a built-in OSC map as JSON, to edit and use with `analyze --osc-map` or the plugin.
    OscMap(osc_map::OscMapArgs),
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
    /// What goes to which OSC address (JSON; see `sentio osc-map`). Default: the Sentio scheme.
    #[arg(long, value_name = "FILE", conflicts_with = "osc_preset")]
    pub osc_map: Option<PathBuf>,
    /// A built-in OSC map instead of a file.
    #[arg(long, value_enum)]
    pub osc_preset: Option<crate::output::osc_map::Preset>,
    /// Serve the OBS overlay while analysing (default 127.0.0.1:9191; a LAN address only if you
    /// give one).
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9191")]
    pub overlay: Option<String>,
    /// Serve the OSCQuery namespace of the OSC addresses (default 127.0.0.1:9192).
    #[arg(long, value_name = "HOST:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9192")]
    pub oscquery: Option<String>,
    /// Announce the OSCQuery server on the local network (mDNS `_oscjson._tcp`).
    #[arg(long, requires = "oscquery")]
    pub mdns: bool,
    /// Pace the analysis at playback speed and print rows as they happen.
    #[arg(long)]
    pub realtime: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub speech: SpeechArgs,
}

/// The speech path in `analyze`.
#[derive(clap::Args, Clone)]
pub struct SpeechArgs {
    /// Transcribe the speech (Silero VAD → Whisper → text emotion), show the transcripts in the
    /// timeline and fuse the words' emotion with the voice's.
    #[arg(long)]
    pub speech: bool,
    #[arg(long, value_enum, default_value_t = WhisperModel::TinyEn)]
    pub whisper_model: WhisperModel,
    /// Spoken language: an ISO code (en, de, …) or "auto" (base model only).
    #[arg(long, default_value = "en")]
    pub language: String,
    /// How much the words count against the voice, 0 (voice only) to 1.
    #[arg(long, default_value_t = crate::worker::DEFAULT_TEXT_WEIGHT)]
    pub text_weight: f32,
}

impl SpeechArgs {
    /// The speech worker's configuration (`None` without `--speech`); `lossless` for offline
    /// analysis.
    pub fn config(&self, device: Device, lossless: bool) -> Option<SpeechConfig> {
        if !self.speech {
            return None;
        }
        let options = SpeechOptions {
            model: self.whisper_model,
            language: transcribe::language_option(&self.language),
            device,
        };
        let mut config = SpeechConfig::new(
            Box::new(move || load_vad(device)),
            Box::new(move |stop| load_transcription(&options, Some(stop))),
        );
        config.lossless = lossless;
        Some(config)
    }
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
    /// Which shipped model, when --model is not given: Whisper tiny.en's encoder blocks (fast)
    /// or Whisper base's (larger, slower).
    #[arg(long, value_enum, default_value_t = AcousticModel::TinyEn)]
    pub emotion_model: AcousticModel,
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Time between emotion updates.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(10..=5000))]
    pub hop_ms: u32,
    /// Time constant of the emotion smoothing (0: none).
    #[arg(long, default_value_t = 500)]
    pub smoothing_ms: u32,
    /// After a pause this long (no voice), the next speech is classified on its own window,
    /// 0.3 s after it starts, instead of sharing the window with what was said before: it shows
    /// sooner, and was less accurate on validation (0, the default: the 2.5 s window slides).
    #[arg(long, default_value_t = (DEFAULT_RESTART_AFTER_FRAMES * 10) as u32)]
    pub restart_after_ms: u32,
    /// A calibration made by `sentio calibrate` (the speaker's neutral voice).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// A per-user correction made by `sentio adapt` (its calibration serves when --calibration
    /// is not given).
    #[arg(long, value_name = "FILE")]
    pub adaptation: Option<PathBuf>,
}

/// The JSON file at `path` (if any) as a `T`; `what` names it in errors.
fn read_json<T: serde::de::DeserializeOwned>(
    path: Option<&std::path::Path>,
    what: &str,
) -> anyhow::Result<Option<T>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("invalid {what} file {}", path.display()))
}

impl ModelArgs {
    pub fn options(&self) -> anyhow::Result<ModelOptions> {
        let calibration = read_json(self.calibration.as_deref(), "calibration")?;
        let adaptation = read_json(self.adaptation.as_deref(), "adaptation")?;
        Ok(ModelOptions {
            acoustic: self.emotion_model,
            device: self.device,
            hop_frames: (self.hop_ms / 10).max(1) as usize,
            restart_after_frames: (self.restart_after_ms / 10) as usize,
            calibration,
            adaptation,
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
    pub fn worker_config(&self, text_weight: f32) -> anyhow::Result<WorkerConfig> {
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
                text_weight,
                ..AnalysisSettings::default()
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
        Command::Adapt(args) => adapt::run(&args),
        Command::EvalText(args) => eval_text::run(&args),
        Command::Transcribe(args) => transcribe::run(&args),
        Command::OscMap(args) => osc_map::run(&args),
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
