//! `sentio calibrate FILE --out calibration.json`: the speaker's statistics (the model's embedding
//! statistics, or its input frames' for older models) from a recording of their speech, for `--calibration` (the plugin records the same thing live
//! with its "Calibrate To My Voice" switch).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::features::extract;
use super::ModelArgs;
use crate::analysis::Analyzer;
use crate::emotion::EmotionModel;

#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// A recording of the speaker talking neutrally (at least 3 s of speech).
    pub file: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: &CalibrateArgs) -> Result<()> {
    let mut model = args.model.load()?;
    let frames = extract(&args.file)?;
    let mut analyzer = Analyzer::new();
    // The plugin's own path: a take recorded while the file plays through the model.
    model.record_calibration(true);
    for f in &frames {
        let voiced = analyzer.push(f).voice > 0.5;
        model
            .push(f, voiced)
            .map_err(anyhow::Error::msg)
            .with_context(|| args.file.display().to_string())?;
    }
    let c = model
        .record_calibration(false)
        .unwrap_or_else(|| Err("no calibration take was recorded".into()))
        .map_err(anyhow::Error::msg)
        .with_context(|| args.file.display().to_string())?;
    std::fs::write(&args.out, serde_json::to_string_pretty(&c)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "calibrated on {:.1} s of speech; saved to {}",
        c.frames as f32 / 100.0,
        args.out.display()
    );
    Ok(())
}
