//! The speech path through the `sentio` binary: `sentio transcribe` and `sentio analyze --speech`
//! on a synthesized sentence (espeak-ng, `tests/fixtures/happy.wav`), with the real Silero VAD,
//! Whisper tiny.en and text-emotion models that `cargo xtask setup` fetches.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn sentio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(args)
        .output()
        .expect("run sentio")
}

fn happy() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/happy.wav")
        .display()
        .to_string()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "sentio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

const WORDS: [&str; 4] = ["happy", "best", "day", "life"];

#[test]
fn transcribe_prints_the_words_or_segments_with_times_and_text_emotion() {
    let text = stdout(&sentio(&["transcribe", &happy()]));
    eprintln!("text: {text:?}");
    assert_eq!(text.lines().count(), 1, "one utterance: {text:?}");
    for w in WORDS {
        assert!(text.to_lowercase().contains(w), "{w:?} missing: {text:?}");
    }

    let tmp = tempfile::tempdir().unwrap();
    let out_file = tmp.path().join("transcript.json");
    let json = stdout(&sentio(&[
        "transcribe",
        &happy(),
        "--format",
        "json",
        "--model",
        "tiny.en",
        "--out",
        out_file.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), json);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["model"], "tiny.en");
    let segments = v["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    let duration = v["duration_s"].as_f64().unwrap();
    for s in segments {
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(0.0 <= start && start < end && end <= duration + 0.01, "{s}");
        let probs = s["text_probs"].as_object().unwrap();
        assert_eq!(probs.len(), 7);
        let sum: f64 = probs.values().map(|p| p.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-3, "{s}");
    }
    assert!(
        segments[0]["text_probs"]["joy"].as_f64().unwrap() > 0.5,
        "{}",
        segments[0]
    );
}

#[test]
fn transcribe_reports_bad_input_in_one_line_and_silence_gives_no_words() {
    let out = sentio(&["transcribe", "/no/such/file.wav"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("error: ") && err.contains("/no/such/file.wav"),
        "{err:?}"
    );

    // Two seconds of digital silence: no utterance, so nothing to print (and no hallucination).
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("silence.wav");
    let mut wav = Vec::new();
    let n: u32 = 32_000;
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 1 | (1 << 16), 16_000, 32_000, 2 | (16 << 16)] {
        wav.extend_from_slice(&v.to_le_bytes());
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(2 * n).to_le_bytes());
    wav.resize(wav.len() + 2 * n as usize, 0);
    std::fs::write(&path, wav).unwrap();
    let text = stdout(&sentio(&["transcribe", path.to_str().unwrap()]));
    assert_eq!(text, "");
}

/// The last timeline row's emotion probabilities and every transcript of `analyze --speech`.
fn analyze(text_weight: &str) -> (Value, Vec<Value>) {
    let json = stdout(&sentio(&[
        "analyze",
        &happy(),
        "--speech",
        "--format",
        "json",
        "--interval-ms",
        "500",
        "--text-weight",
        text_weight,
    ]));
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    let rows = v["timeline"].as_array().unwrap();
    let transcripts: Vec<Value> = rows
        .iter()
        .flat_map(|r| r["transcripts"].as_array().cloned().unwrap_or_default())
        .collect();
    let last = rows.last().unwrap()["emotion"]["probs"].clone();
    assert!(
        v["status"]["speech_active"].as_bool().unwrap(),
        "{}",
        v["status"]
    );
    (last, transcripts)
}

#[test]
fn analyze_shows_the_transcript_and_text_weight_moves_the_emotion_outputs() {
    let (words, transcripts) = analyze("1");
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    let t = &transcripts[0];
    let text = t["text"].as_str().unwrap().to_lowercase();
    for w in WORDS {
        assert!(text.contains(w), "{w:?} missing: {t}");
    }
    assert!(t["text_probs"]["joy"].as_f64().unwrap() > 0.5, "{t}");
    let (voice, _) = analyze("0");
    eprintln!("last probs, text weight 1: {words}\nlast probs, text weight 0: {voice}");
    let happy = |p: &Value| p["happy"].as_f64().unwrap();
    let joy = t["text_probs"]["joy"].as_f64().unwrap();
    assert!(
        (happy(&words) - joy).abs() < 0.02,
        "weight 1 follows the words: {words} vs joy {joy}"
    );
    let l1: f64 = words
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, p)| (p.as_f64().unwrap() - voice[k].as_f64().unwrap()).abs())
        .sum();
    assert!(
        l1 > 0.05,
        "fusion did not change the outputs: {words} vs {voice}"
    );
}
