//! `sentio adapt CLIPS_DIR --out adaptation.json`: learn one person's voice from a few labelled
//! clips (`CLIPS_DIR/<class>/*.wav|flac|mp3`; the folder names are the classes, or synonyms such as `fear`).
//!
//! Two passes, as `sentio eval` with a speaker column: the clips' windows give the person's
//! statistics (the model's embedding statistics, or its input frames' for older models), which
//! the model mixes with its global prior exactly as it does live with a calibration; with those,
//! every window's probabilities and its clip's label fit the per-class offsets
//! (`emotion/adaptation.rs`). Use the file with `--adaptation` (analyze, eval, calibrate).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::eval::Clip;
use super::ModelArgs;
use crate::emotion::adaptation::{Adaptation, Example, DEFAULT_PENALTY};
use crate::emotion::normalize::{Calibration, MIN_CALIBRATION_FRAMES};
use crate::emotion::{class_index, EmotionModel, CLASSES, N_CLASSES};

#[derive(clap::Args)]
pub struct AdaptArgs {
    /// A folder with one sub-folder per class (neutral, calm, happy, sad, angry, fearful, disgust,
    /// surprised; any subset), each holding a few clips of the same person.
    pub dir: PathBuf,
    /// Where to write the adaptation (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// L2 penalty on the change of the layer: larger trusts the clips less.
    #[arg(long, default_value_t = DEFAULT_PENALTY)]
    pub penalty: f32,
    #[command(flatten)]
    pub model: ModelArgs,
}

const AUDIO: [&str; 3] = ["wav", "flac", "mp3"];

/// `(class, path)` of every clip under `dir`, sorted.
fn labelled_clips(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let Some(class) = class_index(&name) else {
            bail!(
                "{}: folder {name:?} is not a class (expected one of {}, or a synonym such as fear or surprise)",
                dir.display(),
                CLASSES.join(", ")
            );
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read folder {}", folder.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| AUDIO.iter().any(|a| x.eq_ignore_ascii_case(a)))
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (class, f)));
    }
    if out.is_empty() {
        bail!(
            "{}: no clips (expected sub-folders named after classes holding WAV, FLAC or MP3 files)",
            dir.display()
        );
    }
    Ok(out)
}

pub fn run(args: &AdaptArgs) -> Result<()> {
    if args.model.adaptation.is_some() {
        bail!("--adaptation: `sentio adapt` learns from the model itself, not from an adaptation");
    }
    let items = labelled_clips(&args.dir)?;
    let mut model = args.model.load()?;
    let mut clips = Vec::with_capacity(items.len());
    for (_, path) in &items {
        clips.push(Clip::load(&model, path).with_context(|| path.display().to_string())?);
    }
    let voiced_frames: usize = clips
        .iter()
        .map(|c| c.voiced.iter().filter(|v| **v).count())
        .sum();
    if voiced_frames < MIN_CALIBRATION_FRAMES {
        bail!(
            "the clips hold {:.1} s of voiced speech; adaptation needs at least {:.1} s",
            voiced_frames as f32 / 100.0,
            MIN_CALIBRATION_FRAMES as f32 / 100.0
        );
    }

    // The person's statistics over all the clips.
    let calibration = if model.has_embedding() {
        let mut embeddings = Vec::new();
        for (clip, (_, path)) in clips.iter().zip(&items) {
            let windows = model
                .clip_windows(&clip.rows, &clip.voiced, None, None)
                .map_err(anyhow::Error::msg)
                .with_context(|| path.display().to_string())?;
            embeddings.extend(windows.into_iter().map(|(_, e)| e));
        }
        Calibration {
            frames: voiced_frames,
            ..Calibration::estimate(&embeddings)
        }
    } else {
        let voiced: Vec<Vec<f32>> = clips
            .iter()
            .flat_map(|c| c.rows.iter().zip(&c.voiced).filter(|(_, v)| **v))
            .map(|(r, _)| r.clone())
            .collect();
        Calibration::estimate(&voiced)
    };
    model
        .set_calibration(Some(calibration.clone()))
        .map_err(anyhow::Error::msg)?;
    // What the model applies with that calibration (mixed with its prior), as live.
    let embedding = model.embedding_stats();
    let frames = (!model.has_embedding()).then_some(&calibration);
    // Models that publish their head's statistics get their linear layer fine-tuned; others
    // offsets only.
    let spec = model.sidecar().embedding.clone();
    let layer = match (&spec, &embedding) {
        (Some(s), Some(stats)) if !s.head_mean.is_empty() => Some((s, stats)),
        _ => None,
    };

    let mut examples = Vec::new();
    let mut clip_of = Vec::new();
    let mut counts = [0usize; N_CLASSES];
    for (k, (clip, (label, path))) in clips.iter().zip(&items).enumerate() {
        // The model's own statistics (the calibration just set, mixed with its prior, and the
        // speaker weight that goes with them), as live.
        let windows = model
            .clip_windows(&clip.rows, &clip.voiced, frames, None)
            .map_err(anyhow::Error::msg)
            .with_context(|| path.display().to_string())?;
        let weight = 1.0 / windows.len() as f32;
        clip_of.extend(std::iter::repeat_n(k, windows.len()));
        examples.extend(windows.into_iter().map(|(probs, e)| {
            let mut z = Vec::new();
            if let Some((s, stats)) = layer {
                s.head_input(&e, &stats.mean, &stats.std, &mut z);
            }
            Example {
                probs,
                z,
                label: *label,
                weight,
            }
        }));
        counts[*label] += 1;
    }
    let (bias, weight) = Adaptation::fit(&examples, args.penalty).map_err(anyhow::Error::msg)?;
    let adaptation = Adaptation {
        model: model.sidecar().fingerprint(),
        bias,
        weight,
        clips: counts,
        penalty: args.penalty,
        calibration: Some(calibration),
    };

    // How the clips themselves are heard before and after (the clips it learnt from: not a test).
    let seen: Vec<usize> = (0..N_CLASSES).filter(|&c| counts[c] > 0).collect();
    let right = |adapt: bool| {
        let mut mean = vec![[0.0f32; N_CLASSES]; items.len()];
        for (e, &c) in examples.iter().zip(&clip_of) {
            let mut p = e.probs;
            if adapt {
                adaptation.apply(&mut p, &e.z);
            }
            for (m, p) in mean[c].iter_mut().zip(p) {
                *m += p;
            }
        }
        mean.iter()
            .zip(&items)
            .filter(|(m, (label, _))| {
                seen.iter().max_by(|&&a, &&b| m[a].total_cmp(&m[b])) == Some(label)
            })
            .count()
    };
    let (before, after) = (right(false), right(true));

    std::fs::write(&args.out, serde_json::to_string_pretty(&adaptation)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let taught: Vec<String> = seen
        .iter()
        .map(|&c| format!("{} {}", CLASSES[c], counts[c]))
        .collect();
    eprintln!(
        "learnt from {} clips ({}), {:.1} s of voiced speech; offsets {}; on these clips (not a test) {} → {} of {} right; wrote {}",
        items.len(),
        taught.join(", "),
        voiced_frames as f32 / 100.0,
        seen.iter()
            .map(|&c| format!("{} {:+.2}", CLASSES[c], adaptation.bias[c]))
            .collect::<Vec<_>>()
            .join(", "),
        before,
        after,
        items.len(),
        args.out.display()
    );
    Ok(())
}
