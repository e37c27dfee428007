//! `sentio eval --manifest FILE.csv`: file-level emotion decisions against labels.
//!
//! Each file goes through the plugin's front end and voice activity; the model classifies sliding
//! windows and the file's decision is the class with the highest mean window probability (see
//! `OnnxEmotionModel::classify_clip`). When the manifest uses only some classes, the decision is
//! restricted to those classes (the cross-corpus convention; calm counts as neutral where the
//! manifest has neutral and no calm, see `decision`) unless `--all-classes`. With
//! `--live`, files are played as streams and scored as a listener sees them (`eval_live`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::decision::Decision;
use super::features::extract;
use super::ModelArgs;
use crate::analysis::Analyzer;
use crate::emotion::normalize::Calibration;
use crate::emotion::onnx_model::OnnxEmotionModel;
use crate::emotion::{class_index, CLASSES, N_CLASSES};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// CSV with a header `path,label` (more columns allowed; a `speaker` column groups files for
    /// speaker normalisation). Paths are relative to the CSV's folder; labels are class names or
    /// common synonyms (fear, surprise, happiness, joy, sadness, anger, disgusted).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Decide among all 8 classes even when the manifest uses fewer.
    #[arg(long)]
    pub all_classes: bool,
    /// When the manifest has neutral but no calm, drop calm's probability instead of counting it
    /// as neutral's (RAVDESS alone tells calm from neutral; other corpora call calm speech neutral).
    #[arg(long)]
    pub keep_calm_apart: bool,
    /// Statistics: per speaker (needs a `speaker` column), per session (the whole manifest as one
    /// unknown speaker: what the plugin's running estimate adapts to when it hears these files in
    /// a row), per file, or the model's global ones (a cold start for every file). `auto`:
    /// speaker when the column exists, else global. Per speaker or session, a model that
    /// normalises its embedding gets the group's embedding statistics over all its windows (a
    /// first pass); per file normalises only input frames (one file is too little for an
    /// embedding's).
    #[arg(long, value_enum, default_value_t = Normalize::Auto)]
    pub normalize: Normalize,
    /// Score what a listener sees instead of one decision per file: each speaker's files (with
    /// `--normalize session`, all files) played back to back as one stream through the plugin's
    /// live path from a cold start; reports the share of speaking time the right class shows
    /// and how soon it shows (see `eval_live`).
    #[arg(long)]
    pub live: bool,
    /// With `--live`: the pause (digital silence) after each file.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub gap_ms: u32,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    Auto,
    Speaker,
    Session,
    File,
    Global,
}

#[derive(Debug)]
struct Item {
    row: usize,
    path: PathBuf,
    label: usize,
    speaker: Option<String>,
}

/// Reads the manifest with the csv crate, so what spreadsheets and pandas write works: quoted
/// fields (a comma inside a path), CRLF line ends, a UTF-8 byte-order mark, blank lines.
fn read_manifest(path: &Path) -> Result<Vec<Item>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_slice());
    // The file's line number of a record (csv counts no blank lines, and a record's position is
    // where the reader started looking for it, before any blank lines).
    let line_at = |byte: u64| {
        let mut start = byte as usize;
        while text.get(start).is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            start += 1;
        }
        1 + text[..start].iter().filter(|&&b| b == b'\n').count()
    };
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    if header.iter().all(str::is_empty) {
        bail!("{}: empty manifest", path.display());
    }
    let col = |name: &str| header.iter().position(|c| c.eq_ignore_ascii_case(name));
    let (Some(pi), Some(li)) = (col("path"), col("label")) else {
        bail!(
            "{}: the header must name the columns `path` and `label`, got {:?}",
            path.display(),
            header.iter().collect::<Vec<_>>().join(",")
        );
    };
    let si = col("speaker");
    let base = path.parent().unwrap_or(Path::new("."));
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let row = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != header.len() {
            bail!(
                "{} row {row}: expected {} fields, got {}: {:?}",
                path.display(),
                header.len(),
                record.len(),
                record.iter().collect::<Vec<_>>().join(",")
            );
        }
        let label = class_index(&record[li]).with_context(|| {
            format!(
                "{} row {row}: unknown label {:?} (expected one of {}, or a synonym such as fear \
                 or surprise; leave out rows of classes the model does not have)",
                path.display(),
                &record[li],
                CLASSES.join(", ")
            )
        })?;
        if record[pi].is_empty() {
            bail!("{} row {row}: empty path", path.display());
        }
        items.push(Item {
            row,
            path: base.join(&record[pi]),
            label,
            speaker: si.map(|s| record[s].to_string()),
        });
    }
    if items.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(items)
}

/// Confusion-matrix metrics over `classes` (indices into `CLASSES`).
#[derive(Debug, Serialize, PartialEq)]
pub struct Metrics {
    pub n: usize,
    pub ua: f64,
    pub wa: f64,
    pub macro_f1: f64,
    pub classes: Vec<&'static str>,
    pub recall: BTreeMap<&'static str, f64>,
    /// Rows: true class, columns: decided class, both in `classes` order.
    pub confusion: Vec<Vec<usize>>,
}

/// The JSON `sentio eval` prints last: the metrics, and how they were obtained.
#[derive(Serialize)]
struct Report<'a, M: Serialize> {
    #[serde(flatten)]
    metrics: &'a M,
    /// Whose statistics normalised the speaker (`auto` resolved).
    normalize: Normalize,
    /// How a file's probabilities became a decision (`Decision::label`).
    decision: &'static str,
}

impl<'a, M: Serialize> Report<'a, M> {
    fn print(metrics: &'a M, normalize: Normalize, decision: &Decision) -> Result<()> {
        let report = Report {
            metrics,
            normalize,
            decision: decision.label(),
        };
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    }
}

pub fn metrics(classes: &[usize], pairs: &[(usize, usize)]) -> Metrics {
    let k = classes.len();
    let idx = |c: usize| classes.iter().position(|&x| x == c);
    let mut confusion = vec![vec![0usize; k]; k];
    for &(truth, decided) in pairs {
        if let (Some(t), Some(d)) = (idx(truth), idx(decided)) {
            confusion[t][d] += 1;
        }
    }
    let n: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let mut recall = BTreeMap::new();
    let (mut recalls, mut f1s) = (Vec::new(), Vec::new());
    for i in 0..k {
        let support: usize = confusion[i].iter().sum();
        let predicted: usize = (0..k).map(|t| confusion[t][i]).sum();
        let tp = confusion[i][i] as f64;
        let r = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let p = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        if support > 0 {
            recalls.push(r);
            recall.insert(CLASSES[classes[i]], r);
        }
        f1s.push(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        });
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Metrics {
        n,
        ua: mean(&recalls),
        wa: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1: mean(&f1s),
        classes: classes.iter().map(|&c| CLASSES[c]).collect(),
        recall,
        confusion,
    }
}

/// A file as the model reads it: its frames' columns and the plugin's voice activity.
pub(crate) struct Clip {
    pub rows: Vec<Vec<f32>>,
    pub voiced: Vec<bool>,
}

impl Clip {
    pub fn load(model: &OnnxEmotionModel, path: &Path) -> Result<Self> {
        let frames = extract(path)?;
        let mut analyzer = Analyzer::new();
        Ok(Clip {
            voiced: frames
                .iter()
                .map(|f| analyzer.push(f).voice > 0.5)
                .collect(),
            rows: frames.iter().map(|f| model.columns(f)).collect(),
        })
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let items = read_manifest(&args.manifest)?;
    let mut model = args.model.load()?;
    let has_speaker = items.iter().all(|i| i.speaker.is_some());
    let normalize = match args.normalize {
        Normalize::Auto if has_speaker => Normalize::Speaker,
        Normalize::Auto => Normalize::Global,
        Normalize::Speaker if !has_speaker => bail!("--normalize speaker needs a `speaker` column"),
        other => other,
    };

    let mut present = [false; N_CLASSES];
    for item in &items {
        present[item.label] = true;
    }
    let decision = Decision::new(&present, args.all_classes, !args.keep_calm_apart);
    if args.live {
        return run_live(args, &items, &mut model, normalize, &decision);
    }

    let mut clips = Vec::with_capacity(items.len());
    for item in &items {
        clips.push(
            Clip::load(&model, &item.path)
                .with_context(|| format!("{} row {}", args.manifest.display(), item.row))?,
        );
    }
    // The group whose statistics normalise a file: its speaker, or the whole manifest.
    let grouped = matches!(normalize, Normalize::Speaker | Normalize::Session);
    let group = |item: &Item| -> String {
        match normalize {
            Normalize::Speaker => item.speaker.clone().unwrap_or_default(),
            _ => String::new(),
        }
    };
    // Statistics over each group's voiced frames across the manifest (for models that normalise
    // their input frames per speaker; the others always read them globally normalised).
    let frames_per_speaker = model.sidecar().normalization.mode == "speaker";
    let mut speaker_stats: BTreeMap<String, Calibration> = BTreeMap::new();
    if grouped && frames_per_speaker {
        let mut by_speaker: BTreeMap<String, Vec<Vec<f32>>> = BTreeMap::new();
        for (item, clip) in items.iter().zip(&clips) {
            let voiced = clip
                .rows
                .iter()
                .zip(&clip.voiced)
                .filter(|(_, v)| **v)
                .map(|(r, _)| r.clone());
            by_speaker.entry(group(item)).or_default().extend(voiced);
        }
        for (spk, rows) in by_speaker {
            if !rows.is_empty() {
                speaker_stats.insert(spk, Calibration::estimate(&rows));
            }
        }
    }

    // Models that normalise their embedding: a first pass gives every window's embedding, and
    // each speaker's statistics over them (as training computed them) serve the second.
    let mut speaker_embedding: BTreeMap<String, Calibration> = BTreeMap::new();
    if grouped && model.has_embedding() {
        let mut by_speaker: BTreeMap<String, Vec<Vec<f32>>> = BTreeMap::new();
        for (item, clip) in items.iter().zip(&clips) {
            let spk = group(item);
            let windows = model
                .clip_windows(&clip.rows, &clip.voiced, speaker_stats.get(&spk), None)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{} row {}", args.manifest.display(), item.row))?;
            by_speaker
                .entry(spk)
                .or_default()
                .extend(windows.into_iter().map(|(_, e)| e));
        }
        for (spk, rows) in by_speaker {
            speaker_embedding.insert(spk, Calibration::estimate(&rows));
        }
    }

    let mut pairs = Vec::with_capacity(items.len());
    for (item, clip) in items.iter().zip(&clips) {
        let file_stats;
        let stats = match normalize {
            Normalize::Speaker | Normalize::Session => speaker_stats.get(&group(item)),
            Normalize::File if frames_per_speaker => {
                let voiced: Vec<Vec<f32>> = clip
                    .rows
                    .iter()
                    .zip(&clip.voiced)
                    .filter(|(_, v)| **v)
                    .map(|(r, _)| r.clone())
                    .collect();
                file_stats = Calibration::estimate(if voiced.is_empty() {
                    &clip.rows
                } else {
                    &voiced
                });
                Some(&file_stats)
            }
            _ => None,
        };
        let embedding_stats = speaker_embedding.get(&group(item));
        let probs = model
            .classify_clip(&clip.rows, &clip.voiced, stats, embedding_stats)
            .map_err(anyhow::Error::msg)
            .with_context(|| {
                format!(
                    "{} row {} ({})",
                    args.manifest.display(),
                    item.row,
                    item.path.display()
                )
            })?;
        pairs.push((item.label, decision.decide(&probs)));
    }
    let m = metrics(&decision.classes, &pairs);
    eprintln!(
        "{} files, {} classes, {} statistics: UA {:.1} %, WA {:.1} %, macro-F1 {:.3}",
        m.n,
        m.classes.len(),
        format!("{normalize:?}").to_lowercase(),
        m.ua * 100.0,
        m.wa * 100.0,
        m.macro_f1
    );
    Report::print(&m, normalize, &decision)
}

/// `--live`: one stream per speaker (or one for the session), scored as a listener sees it.
fn run_live(
    args: &EvalArgs,
    items: &[Item],
    model: &mut OnnxEmotionModel,
    normalize: Normalize,
    decision: &Decision,
) -> Result<()> {
    let mut groups: BTreeMap<String, Vec<(&Path, usize)>> = BTreeMap::new();
    for item in items {
        let group = match normalize {
            Normalize::Speaker => item.speaker.clone().unwrap_or_default(),
            Normalize::Session => String::new(),
            // `auto` without a speaker column: the manifest is one unknown speaker.
            Normalize::Global if args.normalize == Normalize::Auto => String::new(),
            _ => bail!("--live plays streams: use --normalize speaker or session"),
        };
        groups
            .entry(group)
            .or_default()
            .push((&item.path, item.label));
    }
    let smoothing_s = args.model.smoothing_ms as f32 / 1000.0;
    let m = super::eval_live::run(
        model,
        &groups,
        args.gap_ms as f32 / 1000.0,
        decision,
        smoothing_s,
    )?;
    eprintln!(
        "{} files in {} stream(s), {:.0} s of speech spans, {} classes: live UA {:.1} %, WA {:.1} %; \
         the right class first shows after {:.2} s (median; 90 %: {:.2} s), never for {:.1} % of files; \
         {:.1} changes a minute",
        m.files,
        m.streams,
        m.seconds,
        decision.classes.len(),
        m.ua * 100.0,
        m.wa * 100.0,
        m.reaction_p50_s,
        m.reaction_p90_s,
        m.never_shown * 100.0,
        m.changes_per_minute
    );
    // `auto` without a speaker column played the manifest as one session.
    let played = match normalize {
        Normalize::Speaker => Normalize::Speaker,
        _ => Normalize::Session,
    };
    Report::print(&m, played, decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_known_confusion() {
        // Two classes: 3 "happy" (2 right), 1 "sad" (right).
        let pairs = [(2, 2), (2, 2), (2, 3), (3, 3)];
        let m = metrics(&[2, 3], &pairs);
        assert_eq!(m.n, 4);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![0, 1]]);
        assert!((m.wa - 0.75).abs() < 1e-12);
        assert!((m.ua - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        // F1 happy: p=1, r=2/3 → 0.8; sad: p=0.5, r=1 → 2/3.
        assert!((m.macro_f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(m.classes, ["happy", "sad"]);
    }

    #[test]
    fn manifests_are_validated_row_by_row() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ok = read_manifest(&write(
            "ok.csv",
            "path,label,speaker\na.wav,Happy,s1\n\nb.wav,sad,s2\n",
        ))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].label, 2);
        assert_eq!(ok[1].row, 4);
        assert_eq!(ok[1].path, dir.join("b.wav"));
        let err = read_manifest(&write("bad.csv", "path,label\na.wav,boredom\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2") && err.contains("\"boredom\""),
            "{err}"
        );
        let err = read_manifest(&write("short.csv", "path,label\na.wav\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2"), "{err}");
        let err = read_manifest(&write("hdr.csv", "file,emotion\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`path` and `label`"), "{err}");
        let err = read_manifest(&write("empty.csv", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty manifest"), "{err}");
    }

    #[test]
    fn manifests_as_spreadsheets_and_pandas_write_them() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("m.csv");
        // A byte-order mark, CRLF, quoted fields (a comma in a path, a quoted label), an index
        // column, corpus label names, a blank line.
        std::fs::write(
            &p,
            "\u{feff}Path,Label,Speaker,Text\r\n\"a, b.wav\",\"Fear\",03,\"Kids are talking, by the door\"\r\n\r\nc.wav, Surprise ,03,x\r\nd.wav,anger,08,y\r\n",
        )
        .unwrap();
        let items = read_manifest(&p).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].path, tmp.path().join("a, b.wav"));
        assert_eq!(
            items.iter().map(|i| CLASSES[i.label]).collect::<Vec<_>>(),
            ["fearful", "surprised", "angry"]
        );
        assert_eq!(items[0].speaker.as_deref(), Some("03"));
        assert_eq!(items[2].row, 5);
    }
}
