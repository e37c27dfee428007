//! The `sentio` binary as a user runs it.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn sentio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(args)
        .output()
        .expect("run sentio")
}

/// `sentio analyze` without the emotion model: these tests are about the prosody path.
fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentio"))
        .arg("analyze")
        .args(args)
        .arg("--no-model")
        .output()
        .expect("run sentio")
}

fn demo() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../demo/sentio-demo.flac")
        .display()
        .to_string()
}

/// `name` in a fresh temporary folder, which goes when the returned guard drops.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(name);
    (tmp, path)
}

/// A 16-bit PCM WAV file.
fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

fn one_error_line(out: &Output, needle: &str) {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {err:?}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{err:?}"
    );
}

#[test]
fn demo_timeline_as_json_has_voice_in_speech_and_silence_in_gaps() {
    let out = analyze(&[&demo(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["timeline"].as_array().unwrap();
    assert!((v["duration_s"].as_f64().unwrap() - 26.43).abs() < 0.05);
    assert_eq!(rows.len(), 265);
    let at = |t: f64| {
        rows.iter()
            .find(|r| (r["t"].as_f64().unwrap() - t).abs() < 1e-6)
            .unwrap()
    };
    // demo/segments.json: digital silence until 1 s, the first clip (neutral) follows.
    assert_eq!(at(0.5)["voice"].as_f64().unwrap(), 0.0);
    assert!(at(2.0)["voice"].as_f64().unwrap() > 0.9);
    let voiced_pitches: Vec<f64> = rows
        .iter()
        .map(|r| r["pitch_hz"].as_f64().unwrap())
        .filter(|p| *p > 0.0)
        .collect();
    assert!(voiced_pitches.len() > 20);
    assert!(voiced_pitches.iter().all(|p| (60.0..=500.0).contains(p)));
    let status = &v["status"];
    assert_eq!(status["frames_dropped"], 0);
    assert_eq!(status["worker_alive"], true);
    assert_eq!(status["frames_processed"], 2641);
}

#[test]
fn csv_and_table_formats() {
    let out = analyze(&[&demo(), "--format", "csv", "--interval-ms", "1000"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("t,voice,level_db,pitch_hz,dominant,valence,arousal,neutral,calm,happy,sad,angry,fearful,disgust,surprised")
    );
    assert_eq!(lines.count(), 27);
    assert!(String::from_utf8_lossy(&out.stderr).contains("frames processed 2641"));

    let out = analyze(&[&demo(), "--interval-ms", "1000"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("level dBFS") && text.contains("status: frames processed 2641"));
}

#[test]
fn osc_bundles_reach_a_listener() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let target = format!("127.0.0.1:{}", rx.local_addr().unwrap().port());
    // Receive while the CLI sends: it sends faster than a socket buffer holds.
    let listener = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut packets = Vec::new();
        while let Ok(n) = rx.recv(&mut buf) {
            packets.push(rosc::decoder::decode_udp(&buf[..n]).unwrap().1);
        }
        packets
    });
    let out = analyze(&[
        &demo(),
        "--osc",
        &target,
        "--format",
        "csv",
        "--osc-prefix",
        "/mic1",
    ]);
    assert!(out.status.success());
    let packets = listener.join().unwrap();
    let mut max_voice = 0.0f32;
    for packet in &packets {
        let rosc::OscPacket::Bundle(b) = packet else {
            panic!("not a bundle")
        };
        let addrs: Vec<_> = b
            .content
            .iter()
            .map(|p| match p {
                rosc::OscPacket::Message(m) => m,
                _ => panic!("nested bundle"),
            })
            .inspect(|m| {
                if m.addr == "/mic1/voice" {
                    max_voice = max_voice.max(m.args[0].clone().float().unwrap());
                }
            })
            .map(|m| m.addr.as_str())
            .collect();
        assert_eq!(
            addrs,
            ["/mic1/voice", "/mic1/level", "/mic1/pitch", "/mic1/status"]
        );
    }
    assert_eq!(packets.len(), 265, "one bundle per timeline row");
    assert!(max_voice > 0.9);
}

#[test]
fn a_refusing_osc_target_warns_once_and_the_analysis_completes() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let out = analyze(&[&demo(), "--osc", &target, "--format", "json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["status"]["osc_errors"].as_u64().unwrap() > 0);
    assert_eq!(v["timeline"].as_array().unwrap().len(), 265);
}

#[test]
fn odd_rates_and_stereo_files_work() {
    let (_tmp, path) = scratch("tone-22050-stereo.wav");
    let n = 22_050;
    let mut samples = Vec::new();
    for i in 0..n {
        let s = (8000.0 * (2.0 * std::f32::consts::PI * 150.0 * i as f32 / 22_050.0).sin()) as i16;
        samples.extend([s, s]);
    }
    write_wav(&path, 22_050, 2, &samples);
    let out = analyze(&[path.to_str().unwrap(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sample_rate"], 22_050);
    assert_eq!(v["channels"], 2);
    let last = v["timeline"].as_array().unwrap().last().unwrap().clone();
    assert!(
        (last["pitch_hz"].as_f64().unwrap() - 150.0).abs() < 3.0,
        "{last}"
    );
}

#[test]
fn bad_inputs_give_one_clear_error_line() {
    one_error_line(
        &analyze(&["/no/such/file.wav"]),
        "cannot open /no/such/file.wav",
    );
    one_error_line(
        &analyze(&[std::env::temp_dir().to_str().unwrap()]),
        "is a directory",
    );

    let (_tmp, text) = scratch("notes.wav");
    std::fs::write(&text, "this is not audio at all, just text pretending").unwrap();
    one_error_line(&analyze(&[text.to_str().unwrap()]), "unsupported");

    let (_tmp, empty) = scratch("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    one_error_line(&analyze(&[empty.to_str().unwrap()]), "empty.flac");

    let (_tmp, no_samples) = scratch("no-samples.wav");
    write_wav(&no_samples, 16_000, 1, &[]);
    one_error_line(
        &analyze(&[no_samples.to_str().unwrap()]),
        "contains no audio",
    );

    one_error_line(&analyze(&[&demo(), "--osc", "nonsense"]), "HOST:PORT");
    one_error_line(
        &analyze(&[&demo(), "--osc-prefix", "/a b"]),
        "invalid OSC prefix",
    );
}

#[test]
fn features_match_the_front_end_and_load_as_npy() {
    let (_tmp, out_dir) = scratch("features");
    let out = sentio(&["features", &demo(), "--out", out_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(out_dir.join("sentio-demo.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), [2641, 185]);
    let data: Vec<f32> = npy.into_vec().unwrap();
    let frames = sentio::cli::features::extract(Path::new(&demo())).unwrap();
    let f = &frames[200];
    let row = &data[200 * 185..201 * 185];
    assert_eq!(&row[..64], &f.logmel[..]);
    assert_eq!(&row[64..104], &f.mfcc[..]);
    assert_eq!(row[104], f.energy_db);
    assert_eq!(&row[105..], &f.whisper[..]);

    let missing = sentio(&["features", "/nope.wav", "--out", out_dir.to_str().unwrap()]);
    one_error_line(&missing, "cannot open /nope.wav");
}

/// Cut the demo's eight clips (one per class, `demo/segments.json`) into WAV files.
/// `sentio eval --manifest MANIFEST EXTRA…`, which must succeed: its last line as JSON.
fn eval_json(manifest: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["eval", "--manifest", manifest.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = sentio(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn demo_clips(dir: &Path) -> Vec<(String, String)> {
    let seg_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/segments.json");
    let segs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seg_path).unwrap()).unwrap();
    let frames = sentio::cli::decode::decode(Path::new(&demo())).unwrap();
    let x = &frames.channels[0];
    let list = segs
        .as_array()
        .or_else(|| segs["segments"].as_array())
        .expect("segments");
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let (a, b) = (s["start_s"].as_f64().unwrap(), s["end_s"].as_f64().unwrap());
            let pcm: Vec<i16> = x[(a * 16_000.0) as usize..(b * 16_000.0) as usize]
                .iter()
                .map(|v| (v * 32767.0) as i16)
                .collect();
            let name = format!("clip{i}.wav");
            write_wav(&dir.join(&name), 16_000, 1, &pcm);
            (name, s["emotion"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn the_emotion_model_flag_runs_the_whisper_base_model() {
    for (flag, name) in [("tiny.en", "Whisper tiny.en"), ("base", "Whisper base")] {
        let out = sentio(&[
            "analyze",
            &demo(),
            "--format",
            "json",
            "--emotion-model",
            flag,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let state = v["status"]["model_state"].as_str().unwrap();
        assert_eq!(state, format!("sentio-ser ({name}) on CPU"));
        let estimates = v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["emotion"].is_object())
            .count();
        assert!(estimates > 100, "{flag}: {estimates} rows with an emotion");
    }
    let out = sentio(&["analyze", &demo(), "--emotion-model", "large"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[possible values: tiny.en, base]"));
}

#[test]
fn eval_prints_metrics_json_last_and_restricts_classes() {
    let (_tmp, dir) = scratch("eval");
    std::fs::create_dir_all(&dir).unwrap();
    let clips = demo_clips(&dir);
    assert_eq!(clips.len(), 8);
    let manifest = dir.join("all.csv");
    let rows: String = clips.iter().map(|(p, l)| format!("{p},{l}\n")).collect();
    std::fs::write(&manifest, format!("path,label\n{rows}")).unwrap();
    let out = sentio(&["eval", "--manifest", manifest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let m: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(m["n"], 8);
    assert_eq!(m["classes"].as_array().unwrap().len(), 8);
    let confusion = m["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 8);
    let diagonal: u64 = (0..8).map(|i| confusion[i][i].as_u64().unwrap()).sum();
    assert!((m["wa"].as_f64().unwrap() - diagonal as f64 / 8.0).abs() < 1e-9);
    for key in ["ua", "macro_f1"] {
        assert!((0.0..=1.0).contains(&m[key].as_f64().unwrap()));
    }
    // The report says how it was obtained: no speaker column, so global statistics; all eight
    // classes present, so nothing restricted or folded.
    assert_eq!(m["normalize"], "global");
    assert_eq!(m["decision"], "all_classes");

    // No calm in the manifest (as in every corpus but RAVDESS): calm's probability counts as
    // neutral's, so folding can only move decisions into the neutral column.
    let no_calm = dir.join("no_calm.csv");
    let rows: String = clips
        .iter()
        .filter(|(_, l)| l != "calm")
        .map(|(p, l)| format!("{p},{l}\n"))
        .collect();
    std::fs::write(&no_calm, format!("path,label\n{rows}")).unwrap();
    let folded = eval_json(&no_calm, &[]);
    let apart = eval_json(&no_calm, &["--keep-calm-apart"]);
    assert_eq!(folded["decision"], "calm_as_neutral");
    assert_eq!(apart["decision"], "manifest_classes");
    assert_eq!(folded["classes"], apart["classes"]);
    let neutral = folded["classes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "neutral")
        .unwrap();
    let cell = |m: &serde_json::Value, r: usize, c: usize| m["confusion"][r][c].as_u64().unwrap();
    for r in 0..7 {
        for c in 0..7 {
            let (f, a) = (cell(&folded, r, c), cell(&apart, r, c));
            if c == neutral {
                assert!(f >= a, "row {r}: neutral {f} < {a}");
            } else {
                assert!(f <= a, "row {r}, column {c}: {f} > {a}");
            }
        }
    }

    // Two classes only: the decision is restricted to them, unless --all-classes.
    let two = dir.join("two.csv");
    let pick: String = clips
        .iter()
        .filter(|(_, l)| l == "angry" || l == "sad")
        .map(|(p, l)| format!("{p},{l}\n"))
        .collect();
    std::fs::write(&two, format!("path,label\n{pick}")).unwrap();
    let out = sentio(&["eval", "--manifest", two.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let m: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(m["classes"], serde_json::json!(["sad", "angry"]));
    assert_eq!(m["confusion"].as_array().unwrap().len(), 2);
    let out = sentio(&["eval", "--manifest", two.to_str().unwrap(), "--all-classes"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let m: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(m["classes"].as_array().unwrap().len(), 8);

    // A row naming a missing file: the error names the row.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "path,label\nclip0.wav,neutral\nmissing.wav,sad\n").unwrap();
    let out = sentio(&["eval", "--manifest", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("row 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn eval_live_plays_the_files_as_one_stream_and_scores_what_shows() {
    let (_tmp, dir) = scratch("eval-live");
    std::fs::create_dir_all(&dir).unwrap();
    let clips = demo_clips(&dir);
    let manifest = dir.join("all.csv");
    let rows: String = clips.iter().map(|(p, l)| format!("{p},{l}\n")).collect();
    std::fs::write(&manifest, format!("path,label\n{rows}")).unwrap();
    let m = eval_json(&manifest, &["--live"]);
    println!("{m}");
    // No speaker column: the eight files are one stream, each followed by a second of silence.
    assert_eq!(
        (m["streams"].as_u64(), m["files"].as_u64()),
        (Some(1), Some(8))
    );
    assert_eq!(m["recall"].as_object().unwrap().len(), 8);
    // The demo's clips are the shipped model's training data, one emotion each: live, the
    // display must follow them (a display stuck on one class scores 1/8 at best).
    let ua = m["ua"].as_f64().unwrap();
    assert!((0.4..=1.0).contains(&ua), "live UA {ua}");
    assert!(m["changes_per_minute"].as_f64().unwrap() > 0.0);
    let reaction = m["reaction_p50_s"].as_f64().unwrap();
    assert!((0.0..3.0).contains(&reaction), "{reaction}");
    // Without the pauses the spans are shorter by the eight gaps (98 frames of silence each).
    let packed = eval_json(&manifest, &["--live", "--gap-ms", "0"]);
    let shorter = m["seconds"].as_f64().unwrap() - packed["seconds"].as_f64().unwrap();
    assert!((7.0..8.5).contains(&shorter), "{shorter}");

    // Asked for by name, the session is the same one stream.
    let session = eval_json(&manifest, &["--live", "--normalize", "session"]);
    assert_eq!(session["streams"].as_u64(), Some(1));
    assert_eq!(
        (&m["normalize"], &session["normalize"]),
        (&"session".into(), &"session".into())
    );
    assert_eq!(session["ua"], m["ua"]);

    // A stream needs a group to play: one file at a time from cold is not live.
    let out = sentio(&[
        "eval",
        "--manifest",
        manifest.to_str().unwrap(),
        "--live",
        "--normalize",
        "global",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--live plays streams"));
}

#[test]
fn adapt_learns_a_voice_from_class_folders_and_eval_applies_it() {
    let (_tmp, dir) = scratch("adapt");
    let flat = dir.join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    let clips = demo_clips(&flat);
    let voice = dir.join("voice");
    for (name, label) in &clips {
        std::fs::create_dir_all(voice.join(label)).unwrap();
        std::fs::copy(flat.join(name), voice.join(label).join(name)).unwrap();
    }
    let out_json = dir.join("me.json");
    let out = sentio(&[
        "adapt",
        voice.to_str().unwrap(),
        "--out",
        out_json.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("learnt from 8 clips"), "{err}");
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).unwrap()).unwrap();
    assert_eq!(a["clips"], serde_json::json!([1, 1, 1, 1, 1, 1, 1, 1]));
    assert_eq!(a["bias"].as_array().unwrap().len(), 8);
    // The shipped model publishes its head: the whole linear layer is adapted.
    assert_eq!(a["weight"].as_array().unwrap().len() % 8, 0);
    assert!(a["weight"].as_array().unwrap().len() > 8);
    assert!(a["calibration"]["frames"].as_u64().unwrap() >= 300);

    // On the clips it learnt from, the adapted model is right at least as often as the model.
    let manifest = flat.join("all.csv");
    let rows: String = clips.iter().map(|(p, l)| format!("{p},{l}\n")).collect();
    std::fs::write(&manifest, format!("path,label\n{rows}")).unwrap();
    let ua = |extra: &[&str]| eval_json(&manifest, extra)["ua"].as_f64().unwrap();
    let (before, after) = (ua(&[]), ua(&["--adaptation", out_json.to_str().unwrap()]));
    println!("eval on the adaptation clips: UA {before:.3} → {after:.3}");
    assert!(after > 0.99 && after >= before, "{before} → {after}");

    // An adaptation for another model, a folder that is not a class, no clips: clear errors.
    let mut other = a.clone();
    other["model"] = serde_json::json!("some other model");
    let other_json = dir.join("other.json");
    std::fs::write(&other_json, other.to_string()).unwrap();
    let out = sentio(&[
        "eval",
        "--manifest",
        manifest.to_str().unwrap(),
        "--adaptation",
        other_json.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    one_error_line(&out, "run `sentio adapt` again");
    std::fs::create_dir_all(voice.join("bored")).unwrap();
    let out = sentio(&["adapt", voice.to_str().unwrap(), "--out", "/dev/null"]);
    assert!(!out.status.success());
    one_error_line(&out, "\"bored\" is not a class");
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("happy")).unwrap();
    let out = sentio(&["adapt", empty.to_str().unwrap(), "--out", "/dev/null"]);
    assert!(!out.status.success());
    one_error_line(&out, "no clips");
}
