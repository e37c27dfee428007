//! The text-emotion path (tokenizer → fine-tuned MiniLM graph → probabilities) against the values
//! the Python pipeline produced at export time (`models/text/fixtures.json`: onnxruntime and
//! PyTorch on the same graph).

use std::path::PathBuf;
use std::process::Command;

use sentio::text::TextEmotion;

const TOL: f32 = 1e-4;

fn fixtures() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/text/fixtures.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn tokens_and_probabilities_match_the_training_pipeline() {
    let mut model = TextEmotion::load().unwrap_or_else(|e| panic!("{e}"));
    let fx = fixtures();
    let sentences = fx["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 5);
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    // One padded batch, as `eval-text` runs it, and each sentence alone, as the worker runs it:
    // padding must not change any sentence's result.
    let batch = model.probs(&texts).unwrap();
    let mut worst = (0.0f32, 0.0f32);
    for (i, s) in sentences.iter().enumerate() {
        let ids: Vec<u32> = s["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            model.token_ids(texts[i]).unwrap(),
            ids,
            "token ids of {:?}",
            texts[i]
        );
        let alone = model.probs(&texts[i..=i]).unwrap()[0];
        let vs_ort =
            max_diff(&batch[i], &floats(&s["probs"])).max(max_diff(&alone, &floats(&s["probs"])));
        let vs_torch = max_diff(&alone, &floats(&s["probs_torch"]));
        worst = (worst.0.max(vs_ort), worst.1.max(vs_torch));
        assert!(
            vs_ort <= TOL && vs_torch <= TOL,
            "{:?}: onnxruntime (Python) {vs_ort}, PyTorch {vs_torch}",
            texts[i]
        );
        assert!((alone.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    println!(
        "max abs probability error: vs onnxruntime (Python) {:.1e}, vs PyTorch {:.1e}",
        worst.0, worst.1
    );
}

#[test]
fn missing_pretrained_weights_are_named_with_the_fix() {
    // The shipped graph alone, without the weights file it references beside it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let graph = dir.join("text-emotion.onnx");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/text/text-emotion.onnx"),
        &graph,
    )
    .unwrap();
    let tsv = dir.join("one.tsv");
    std::fs::write(
        &tsv,
        "dataset\tsplit\tid\ttext\torig_label\tekman7\nt\ttest\t1\thi there\tjoy\tjoy\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["eval-text", "--tsv", tsv.to_str().unwrap()])
        .env("SENTIO_TEXT_MODEL", &graph)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("minilm-l6-v2.safetensors") && err.contains("cargo xtask setup"),
        "{err}"
    );
}

#[test]
fn eval_text_skips_unlabelled_rows_and_reads_quoted_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let tsv = dir.join("tiny.tsv");
    std::fs::write(
        &tsv,
        "dataset\tsplit\tid\ttext\torig_label\tekman7\n\
         t\ttest\t1\tI am so happy for you, this is wonderful!\tjoy\tjoy\n\
         t\ttest\t2\t\"He said \"\"get out\"\" and slammed the door, I'm furious\"\tanger\tanger\n\
         t\ttest\t3\tThis row has no Ekman label\tconfusion\t\n\
         t\ttrain\t4\tNot in the test split\tjoy\tjoy\n\
         t\ttest\t5\tI miss her so much, everything feels empty\tsadness\tsadness\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args([
            "eval-text",
            "--tsv",
            tsv.to_str().unwrap(),
            "--split",
            "test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let m: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(m["n"], 3);
    assert_eq!(m["classes"], serde_json::json!(["anger", "joy", "sadness"]));
    for key in ["accuracy", "macro_f1", "weighted_f1"] {
        assert!((0.0..=1.0).contains(&m[key].as_f64().unwrap()));
    }
    assert_eq!(m["f1"].as_object().unwrap().len(), 3);

    let bad = dir.join("bad.tsv");
    std::fs::write(
        &bad,
        "dataset\tsplit\tid\ttext\torig_label\tekman7\nt\ttest\t1\thi\tx\tbored\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["eval-text", "--tsv", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("row 2") && err.contains("bored"), "{err}");
}
