//! `sentio calibrate FILE --out calibration.json`: the speaker's feature statistics from a few
//! seconds of their neutral speech, for `--calibration` (the plugin records the same thing live
//! with its "Calibrate To My Voice" switch).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::features::extract;
use super::ModelArgs;
use crate::analysis::Analyzer;
use crate::emotion::normalize::Calibration;

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
    let model = args.model.load()?;
    let frames = extract(&args.file)?;
    let mut analyzer = Analyzer::new();
    let voiced: Vec<Vec<f32>> = frames
        .iter()
        .filter(|f| analyzer.push(f).voice > 0.5)
        .map(|f| model.columns(f))
        .collect();
    let c = Calibration::from_rows(&voiced)
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
