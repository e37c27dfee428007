//! `sentio eval-text --tsv FILE [--split S]`: the text-emotion path on a labelled corpus in the
//! shared TSV format (`dataset, split, id, text, orig_label, ekman7`; rows with an empty `ekman7`
//! are skipped). Prints, as its last line, one JSON object with `n`, `accuracy`, `macro_f1`,
//! `weighted_f1`, `classes` and per-class `f1`. The decision is the arg-max over all 7 classes;
//! the macro and weighted averages run over the classes that occur in the labels (EmoryNLP has no
//! disgust or surprise).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::text::{TextEmotion, TEXT_CLASSES};

#[derive(clap::Args)]
pub struct EvalTextArgs {
    #[arg(long)]
    pub tsv: PathBuf,
    /// Only rows of this split (e.g. `test`).
    #[arg(long)]
    pub split: Option<String>,
}

#[derive(Serialize)]
struct TextMetrics {
    n: usize,
    accuracy: f64,
    macro_f1: f64,
    weighted_f1: f64,
    classes: Vec<&'static str>,
    f1: BTreeMap<&'static str, f64>,
}

fn read(args: &EvalTextArgs) -> Result<Vec<(String, usize)>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(&args.tsv)
        .with_context(|| format!("cannot read {}", args.tsv.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{}: no `{name}` column", args.tsv.display()))
    };
    let (text_i, split_i, label_i) = (col("text")?, col("split")?, col("ekman7")?);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{} row {}", args.tsv.display(), i + 2))?;
        let label = record.get(label_i).unwrap_or("").trim();
        if label.is_empty()
            || args
                .split
                .as_deref()
                .is_some_and(|s| record.get(split_i) != Some(s))
        {
            continue;
        }
        let class = TEXT_CLASSES
            .iter()
            .position(|c| *c == label)
            .with_context(|| {
                format!(
                    "{} row {}: unknown ekman7 label {label:?}",
                    args.tsv.display(),
                    i + 2
                )
            })?;
        rows.push((record.get(text_i).unwrap_or("").to_string(), class));
    }
    if rows.is_empty() {
        bail!(
            "{}: no labelled rows{}",
            args.tsv.display(),
            args.split
                .as_ref()
                .map(|s| format!(" in split {s:?}"))
                .unwrap_or_default()
        );
    }
    Ok(rows)
}

fn metrics(pairs: &[(usize, usize)]) -> TextMetrics {
    let k = TEXT_CLASSES.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for &(t, p) in pairs {
        confusion[t][p] += 1;
    }
    let n = pairs.len();
    let support: Vec<usize> = confusion.iter().map(|r| r.iter().sum()).collect();
    let f1: Vec<f64> = (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: usize = (0..k).map(|t| confusion[t][c]).sum();
            let (p, r) = (
                if predicted > 0 {
                    tp / predicted as f64
                } else {
                    0.0
                },
                if support[c] > 0 {
                    tp / support[c] as f64
                } else {
                    0.0
                },
            );
            if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            }
        })
        .collect();
    let present: Vec<usize> = (0..k).filter(|&c| support[c] > 0).collect();
    TextMetrics {
        n,
        accuracy: (0..k).map(|c| confusion[c][c]).sum::<usize>() as f64 / n as f64,
        macro_f1: present.iter().map(|&c| f1[c]).sum::<f64>() / present.len() as f64,
        weighted_f1: present
            .iter()
            .map(|&c| f1[c] * support[c] as f64)
            .sum::<f64>()
            / n as f64,
        classes: present.iter().map(|&c| TEXT_CLASSES[c]).collect(),
        f1: present.iter().map(|&c| (TEXT_CLASSES[c], f1[c])).collect(),
    }
}

pub fn run(args: &EvalTextArgs) -> Result<()> {
    let rows = read(args)?;
    let mut model = TextEmotion::load().map_err(anyhow::Error::msg)?;
    // Batches of similar length waste little padding.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].0.len());
    let mut decided = vec![0usize; rows.len()];
    for batch in order.chunks(64) {
        let texts: Vec<&str> = batch.iter().map(|&i| rows[i].0.as_str()).collect();
        let probs = model.probs(&texts).map_err(anyhow::Error::msg)?;
        for (&i, p) in batch.iter().zip(probs) {
            decided[i] = (0..7).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        }
    }
    let pairs: Vec<(usize, usize)> = rows
        .iter()
        .zip(&decided)
        .map(|((_, t), &d)| (*t, d))
        .collect();
    let m = metrics(&pairs);
    eprintln!(
        "{} sentences: accuracy {:.3}, macro-F1 {:.3}, weighted-F1 {:.3}",
        m.n, m.accuracy, m.macro_f1, m.weighted_f1
    );
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_runs_over_the_classes_present() {
        // joy ×2 (one right), anger ×1 (right, plus one joy predicted as anger).
        let m = metrics(&[(3, 3), (3, 0), (0, 0)]);
        assert_eq!(m.classes, ["anger", "joy"]);
        // anger: p = 1/2, r = 1 → 2/3; joy: p = 1, r = 1/2 → 2/3.
        assert!((m.macro_f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.weighted_f1 - 2.0 / 3.0).abs() < 1e-12);
    }
}
