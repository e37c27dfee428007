//! `sentio features`: the plugin's front end over audio files, written as `.npy` arrays for model
//! training, so training sees exactly the features the plugin computes live.

use std::collections::HashSet;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use npyz::WriterBuilder;

use super::decode::decode;
pub use crate::dsp::FEATURE_COLUMNS;
use crate::dsp::{Capture, FeatureFrame};

#[derive(clap::Args)]
pub struct FeaturesArgs {
    /// Audio files (WAV, FLAC, MP3; any rate and channel count).
    pub files: Vec<PathBuf>,
    /// A text file listing more audio files, one path per line (relative to the list's folder).
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// Output folder: one `<file stem>.npy` of float32 [frames, 185] per input
    /// (64 log-mel dB | 40 MFCC | energy dBFS | 80 Whisper log10 mel).
    #[arg(long)]
    pub out: PathBuf,
}

/// Feature rows of one file, as the plugin would compute them live.
pub fn extract(path: &Path) -> Result<Vec<FeatureFrame>> {
    let audio = decode(path)?;
    let mut capture = Capture::new(audio.sample_rate as f32).map_err(anyhow::Error::msg)?;
    let mut frames = Vec::new();
    capture.process(&audio.channels, |f| frames.push(*f));
    Ok(frames)
}

fn write_npy(path: &Path, frames: &[FeatureFrame]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[frames.len() as u64, FEATURE_COLUMNS as u64])
        .writer(BufWriter::new(file))
        .begin_nd()?;
    for f in frames {
        w.extend(f.columns())?;
    }
    w.finish()?;
    Ok(())
}

pub fn run(args: &FeaturesArgs) -> Result<()> {
    let mut files = args.files.clone();
    if let Some(list) = &args.list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("cannot read {}", list.display()))?;
        let base = list.parent().unwrap_or(Path::new("."));
        files.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| base.join(l)),
        );
    }
    if files.is_empty() {
        bail!("no input files (give paths or --list)");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut stems = HashSet::new();
    for path in &files {
        let stem = path
            .file_stem()
            .with_context(|| format!("{}: no file name", path.display()))?
            .to_string_lossy()
            .to_string();
        if !stems.insert(stem.clone()) {
            bail!("two inputs share the name {stem:?}; outputs would collide");
        }
        let frames = extract(path)?;
        write_npy(&args.out.join(format!("{stem}.npy")), &frames)?;
    }
    eprintln!(
        "wrote features of {} file(s) to {}",
        files.len(),
        args.out.display()
    );
    Ok(())
}
