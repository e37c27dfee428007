//! `cargo xtask bench`: the figures the README quotes, measured in one run.
//!
//! - audio-thread cost: wall time of the release `.clap`'s `process()` under a real CLAP host,
//!   per block, as a fraction of the block's real-time budget (48 kHz; 64, 128, 512 samples);
//! - front end: the Rust front end against librosa computing the same features on the same audio;
//! - model latency: one acoustic inference (2.5 s window, batch 1, one CPU thread), Rust (ort)
//!   against ONNX Runtime from Python on the same model, for both shipped models (tiny.en, and
//!   the Whisper base option under `*_base` keys);
//! - update latency: from the last sample of a hop entering the capture (as in `process()`) to
//!   the new probabilities in the shared state, with the plugin's own worker, paced in real time;
//! - transcript latency: from the end of an utterance (its last sample handed to the speech
//!   worker, paced in real time) to its transcript and text probabilities in the shared state,
//!   with the plugin's speech worker and real models (Silero VAD, Whisper, the fine-tuned MiniLM), for
//!   tiny.en and base on CPU;
//! - Whisper's encoder context: word error rate, real-time factor and per-clip latency of
//!   whisper.cpp (through whisper-rs, one thread) with the full 30 s window and with the window
//!   fitted to the clip at several margins, against faster-whisper (CTranslate2, one thread) on
//!   the same weights and clips (the committed sentences and 40 RAVDESS clips as the plugin's
//!   voice detector cuts them);
//! - text-emotion latency: the fine-tuned MiniLM graph, one sentence at a time, one thread.
//!
//! Writes `target/bench.json`.

use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sentio_host_tests::audio::{demo, demo_at};
use sentio_host_tests::clap_host::ClapHost;
use sentio_host_tests::paths::{release_clap, workspace_root};
use serde_json::{json, Value};

use sentio::dsp::FeatureFrame;
use sentio::dsp::{Capture, FrontEnd};
use sentio::emotion::onnx_model::{ModelOptions, OnnxEmotionModel};
use sentio::emotion::runtime::{AcousticModel, Device};
use sentio::emotion::EmotionModel;
use sentio::speech::models::{load_transcription, load_vad, WhisperModel};
use sentio::speech::worker::{SpeechConfig, SpeechWorker};
use sentio::state::SharedState;
use sentio::worker::{Worker, WorkerConfig, QUEUE_FRAMES};

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn process_cost() -> Result<Value> {
    let rate = 48_000u32;
    let audio = demo_at(rate);
    let mut out = Vec::new();
    for block in [64usize, 128, 512] {
        let mut host = ClapHost::load(&release_clap())?;
        host.activate(rate as f64, block as u32, block as u32)?;
        let (mut l, mut r) = (vec![0.0f32; block], vec![0.0f32; block]);
        let mut fractions = Vec::new();
        for chunk in audio.chunks_exact(block) {
            host.try_process(&[chunk, chunk], &mut [&mut l, &mut r], &[])?;
            fractions.push(host.last_process_time.as_secs_f64() / (block as f64 / rate as f64));
        }
        // The first blocks include page faults of a fresh instance.
        let steady = &mut fractions[100..];
        let mean = steady.iter().sum::<f64>() / steady.len() as f64;
        let (p50, p99) = (quantile(steady, 0.5), quantile(steady, 0.99));
        println!(
            "process() at 48 kHz, {block:>3}-sample blocks: p50 {:.3} %, p99 {:.3} %, mean {:.3} % of the block's budget ({} blocks)",
            p50 * 100.0,
            p99 * 100.0,
            mean * 100.0,
            steady.len()
        );
        out.push(json!({"block": block, "p50_fraction": p50, "p99_fraction": p99, "mean_fraction": mean, "blocks": steady.len()}));
    }
    Ok(Value::Array(out))
}

fn python(args: &[&str]) -> Result<Value> {
    let out = Command::new("python3")
        .args(args)
        .current_dir(workspace_root())
        .output()?;
    if !out.status.success() {
        bail!("python3 {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout)?;
    let last = text.lines().last().context("no output")?;
    Ok(serde_json::from_str(last)?)
}

fn frontend_speed() -> Result<Value> {
    let x = &demo().samples;
    let secs = x.len() as f64 / 16_000.0;
    let raw = workspace_root().join("target/bench-demo16k.f32");
    std::fs::write(
        &raw,
        x.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>(),
    )?;
    let mut times = Vec::new();
    let mut frames = 0;
    for _ in 0..11 {
        let t0 = Instant::now();
        let mut fe = FrontEnd::new();
        frames = 0;
        fe.push(x, |_| frames += 1);
        times.push(t0.elapsed().as_secs_f64());
    }
    let rust = quantile(&mut times[1..], 0.5);
    let mut peers = serde_json::Map::new();
    let mut line = format!(
        "front end on {secs:.1} s of audio ({frames} frames): Rust (f64) {:.2} ms ({:.0}x real time)",
        rust * 1e3,
        secs / rust
    );
    for dtype in ["float32", "float64"] {
        let librosa = python(&[
            "models/frontend_reference/bench_librosa.py",
            raw.to_str().unwrap(),
            "--repeat",
            "11",
            "--dtype",
            dtype,
        ])?;
        let lib_s = librosa["median_s"].as_f64().context("median_s")?;
        line += &format!(
            "; librosa {dtype} {:.2} ms (Rust {:.2}x its speed)",
            lib_s * 1e3,
            lib_s / rust
        );
        peers.insert(
            dtype.into(),
            json!({"librosa": librosa, "speedup_vs_librosa": lib_s / rust}),
        );
    }
    println!("{line}");
    Ok(json!({"seconds_audio": secs, "rust_median_s": rust, "librosa": peers}))
}

fn model_latency(model: &mut OnnxEmotionModel, model_path: &str) -> Result<Value> {
    let width = model.sidecar().width();
    let frames = model.sidecar().window_frames;
    let mut seed = 1u32;
    let rows: Vec<f32> = (0..frames * width)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect();
    for _ in 0..20 {
        model.infer(&rows).map_err(anyhow::Error::msg)?;
    }
    let mut times: Vec<f64> = (0..300)
        .map(|_| {
            let t0 = Instant::now();
            let _ = model.infer(&rows);
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (p50, p99) = (quantile(&mut times, 0.5), quantile(&mut times, 0.99));
    let py = python(&[
        "models/bench/ort_latency.py",
        model_path,
        "--frames",
        &frames.to_string(),
        "--width",
        &width.to_string(),
    ])?;
    let py_p50 = py["p50_ms"].as_f64().context("p50_ms")?;
    println!(
        "model latency ({frames} frames, batch 1, 1 CPU thread): Rust/ort p50 {p50:.2} ms p99 {p99:.2} ms; Python onnxruntime p50 {py_p50:.2} ms p99 {:.2} ms (ratio {:.2})",
        py["p99_ms"].as_f64().unwrap_or(f64::NAN),
        py_p50 / p50
    );
    Ok(
        json!({"window_frames": frames, "p50_ms": p50, "p99_ms": p99, "python_onnxruntime": py, "python_over_rust_p50": py_p50 / p50}),
    )
}

fn update_latency(options: &ModelOptions) -> Result<Value> {
    let rate = 48_000.0f32;
    let audio = demo_at(48_000);
    let shared = Arc::new(SharedState::new());
    let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
    let opts = options.clone();
    let _worker = Worker::spawn(
        rx,
        shared.clone(),
        WorkerConfig {
            model: Some(Box::new(move || {
                OnnxEmotionModel::load(&opts).map(|m| Box::new(m) as Box<dyn EmotionModel>)
            })),
            ..WorkerConfig::default()
        },
    )?;
    let t_load = Instant::now();
    while !shared.model_active.load(Relaxed) {
        if t_load.elapsed() > Duration::from_secs(20) {
            bail!("model did not load: {}", shared.status().model_state);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut capture = Capture::new(rate).map_err(anyhow::Error::msg)?;
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut latencies = Vec::new();
    let mut seen = shared.emotion_updates.load(Relaxed);
    let block = 480; // 10 ms
    let start = Instant::now();
    for (i, chunk) in audio.chunks_exact(block).enumerate() {
        let now = Instant::now();
        capture.process(&[chunk], |f| {
            sent_at.push(now);
            let _ = tx.try_send(*f);
        });
        let due = start + Duration::from_millis(10 * (i as u64 + 1));
        loop {
            let updates = shared.emotion_updates.load(Relaxed);
            if updates != seen {
                let t = Instant::now();
                seen = updates;
                let frame = shared.emotion_frame.load(Relaxed) as usize;
                if let Some(t0) = sent_at.get(frame) {
                    latencies.push((t - *t0).as_secs_f64() * 1e3);
                }
            }
            if Instant::now() >= due {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    if latencies.len() < 10 {
        bail!("only {} emotion updates", latencies.len());
    }
    let n = latencies.len();
    let (p50, p99) = (
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
    );
    println!("update latency (hop's last sample → shared state, real-time paced, {n} updates): p50 {p50:.2} ms, p99 {p99:.2} ms");
    Ok(json!({"updates": n, "p50_ms": p50, "p99_ms": p99, "hop_ms": options.hop_frames * 10}))
}

/// The committed espeak-ng sentences (16 kHz): the Whisper test corpus and the joyful one.
fn speech_clips() -> Result<Vec<(String, Vec<f32>)>> {
    let root = workspace_root();
    let dir = root.join("speech/tests/fixtures/speech");
    let list = std::fs::read_to_string(dir.join("sentences.tsv"))?;
    let mut paths: Vec<_> = list
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, _)| dir.join(format!("{id}.wav")))
        .collect();
    paths.push(root.join("tests/fixtures/happy.wav"));
    paths
        .into_iter()
        .map(|p| {
            let audio = sentio_speech::wav::read(&p)?;
            if audio.sample_rate != 16_000 {
                bail!("{} is not 16 kHz", p.display());
            }
            Ok((p.display().to_string(), audio.samples))
        })
        .collect()
}

/// One clip with its reference words, for word error rates.
struct Known {
    /// Where the peer reads it.
    path: String,
    corpus: &'static str,
    samples: Vec<f32>,
    words: String,
}

/// 16-bit mono 16 kHz WAV (for the Python peer).
fn write_wav(path: &std::path::Path, x: &[f32]) -> Result<()> {
    let mut b = Vec::with_capacity(44 + 2 * x.len());
    let data = (2 * x.len()) as u32;
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 1 | (1 << 16), 16_000, 32_000, 2 | (16 << 16)] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for v in x {
        b.extend_from_slice(&((v.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    Ok(std::fs::write(path, b)?)
}

/// The committed espeak-ng sentences, and, when `../shared` is beside the checkout, 40 RAVDESS
/// clips (actors 1–20, both sentences, one emotion each in rotation, strong intensity): real
/// voices reading known words, cut by the plugin's own voice detector and utterance cutter, as
/// Whisper receives them live (RAVDESS's second of silence on either side is not what a live
/// utterance carries). The cut audio is written to `target/bench-clips/` for the peer.
fn known_clips() -> Result<Vec<Known>> {
    let root = workspace_root();
    let dir = root.join("speech/tests/fixtures/speech");
    let list = std::fs::read_to_string(dir.join("sentences.tsv"))?;
    let mut out = Vec::new();
    for (id, words) in list.lines().filter_map(|l| l.split_once('\t')) {
        let path = dir.join(format!("{id}.wav"));
        out.push(Known {
            path: path.display().to_string(),
            corpus: "espeak",
            samples: sentio_speech::wav::read(&path)?.samples,
            words: words.to_owned(),
        });
    }
    let ravdess = root.join("../shared/data/ravdess");
    if !ravdess.is_dir() {
        println!(
            "RAVDESS not found at {}: WER on the espeak sentences only",
            ravdess.display()
        );
        return Ok(out);
    }
    const SENTENCES: [&str; 2] = [
        "Kids are talking by the door",
        "Dogs are sitting by the door",
    ];
    let mut vad = sentio::speech::vad::SileroVad::load(Device::Cpu).map_err(anyhow::Error::msg)?;
    let cut_dir = root.join("target/bench-clips");
    std::fs::create_dir_all(&cut_dir)?;
    for actor in 1..=20u32 {
        for statement in 1..=2u32 {
            let emotion = (actor + statement) % 8 + 1;
            let intensity = if emotion == 1 { 1 } else { 2 };
            let path = ravdess.join(format!(
                "Actor_{actor:02}/03-01-{emotion:02}-{intensity:02}-{statement:02}-01-{actor:02}.flac"
            ));
            let audio = sentio::cli::decode::decode(&path)?;
            if audio.sample_rate != 16_000 {
                bail!("{} is not 16 kHz", path.display());
            }
            // Nearly always one utterance; a sentence the cutter split is joined back.
            let samples: Vec<f32> = sentio::cli::transcribe::cut(&mut vad, &audio.channels[0], 0)
                .into_iter()
                .flat_map(|u| u.samples)
                .collect();
            if samples.is_empty() {
                bail!("{}: the voice detector found no utterance", path.display());
            }
            let cut = cut_dir.join(format!("ravdess-{actor:02}-{statement}.wav"));
            write_wav(&cut, &samples)?;
            out.push(Known {
                path: cut.display().to_string(),
                corpus: "ravdess",
                samples,
                words: SENTENCES[statement as usize - 1].to_owned(),
            });
        }
    }
    Ok(out)
}

/// Word error rate per corpus of `texts` (one per clip) against the clips' words.
fn wer_by_corpus(clips: &[Known], texts: &[String]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for corpus in ["espeak", "ravdess"] {
        let (mut e, mut n) = (0, 0);
        for (c, t) in clips.iter().zip(texts).filter(|(c, _)| c.corpus == corpus) {
            let (de, dn) = sentio_speech::wer::errors(&c.words, t);
            e += de;
            n += dn;
        }
        if n > 0 {
            out.insert(corpus.into(), json!(e as f64 / n as f64));
        }
    }
    out
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("—".into(), |x| format!("{:.1} %", 100.0 * x))
}

/// Whisper (whisper.cpp through whisper-rs, one thread) on the known clips at several encoder
/// contexts, and faster-whisper (CTranslate2, one thread, same weights, same clips) in the same
/// run: word error rate, real-time factor, per-clip latency p50/p99, and loops caught.
fn whisper_contexts(model: WhisperModel, clips: &[Known]) -> Result<Value> {
    use sentio_speech::transcribe::{EncoderContext, DEFAULT_CONTEXT};
    let path = model.find().map_err(anyhow::Error::msg)?;
    let mut t = sentio_speech::Transcriber::load(&path, Some("en"))?;
    t.set_threads(1);
    t.set_single_segment(true);
    t.transcribe(&clips[0].samples)?; // warm-up
    let audio: f64 = clips
        .iter()
        .map(|c| c.samples.len() as f64 / 16_000.0)
        .sum();
    let mut rows = Vec::new();
    println!(
        "Whisper {} over {} clips ({audio:.0} s of audio), one thread: encoder context → WER espeak / RAVDESS, RTF, per-clip p50 / p99, loops redone",
        model.name(),
        clips.len()
    );
    let contexts = [
        EncoderContext::Full,
        EncoderContext::Fit { margin_s: 5.0 },
        EncoderContext::Fit { margin_s: 4.0 },
        EncoderContext::Fit { margin_s: 3.0 },
        EncoderContext::Fit { margin_s: 2.0 },
        EncoderContext::Fit { margin_s: 1.0 },
    ];
    for context in contexts {
        t.set_encoder_context(context);
        let retries0 = t.retries();
        let (mut texts, mut ms) = (Vec::new(), Vec::new());
        for c in clips {
            let t0 = Instant::now();
            let segments = t.transcribe(&c.samples)?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            texts.push(sentio_speech::transcribe::join_text(&segments));
        }
        let wall = ms.iter().sum::<f64>() / 1e3;
        let wer = wer_by_corpus(clips, &texts);
        let label = match context {
            EncoderContext::Full => "full 30 s".to_string(),
            EncoderContext::Fit { margin_s } => format!("clip + {margin_s} s"),
        };
        let (p50, p99) = (quantile(&mut ms, 0.5), quantile(&mut ms, 0.99));
        let retries = t.retries() - retries0;
        println!(
            "  whisper.cpp {label:12}{} WER {} / {}, RTF {:.3}, p50 {p50:.0} ms, p99 {p99:.0} ms, {retries} loops redone",
            if context == DEFAULT_CONTEXT { " (shipped)" } else { "" },
            pct(&wer["espeak"]),
            wer.get("ravdess").map_or("—".into(), pct),
            wall / audio,
        );
        rows.push(json!({
            "engine": "whisper.cpp", "context": label, "shipped": context == DEFAULT_CONTEXT,
            "wer": wer, "rtf": wall / audio, "p50_ms": p50, "p99_ms": p99,
            "loops_redone": retries, "texts": texts,
        }));
    }
    // The peer: faster-whisper always encodes the full 30 s window.
    let python = std::env::var("SENTIO_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let ct2_dir = path.parent().context("model folder")?.display().to_string();
    let mut args = vec![
        "models/bench/faster_whisper_rtf.py".to_string(),
        ct2_dir,
        "--threads".into(),
        "1".into(),
    ];
    args.extend(clips.iter().map(|c| c.path.clone()));
    let peer = Command::new(&python)
        .args(&args)
        .current_dir(workspace_root())
        .output()
        .context("running faster-whisper")?;
    if peer.status.success() {
        let text = String::from_utf8(peer.stdout)?;
        let v: Value = serde_json::from_str(text.lines().last().context("no output")?)?;
        let texts: Vec<String> = v["texts"]
            .as_array()
            .context("faster-whisper texts")?
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
            .collect();
        let mut ms: Vec<f64> = v["per_clip_ms"]
            .as_array()
            .context("faster-whisper times")?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let wer = wer_by_corpus(clips, &texts);
        let rtf = v["rtf"].as_f64().unwrap_or(f64::NAN);
        let (p50, p99) = (quantile(&mut ms, 0.5), quantile(&mut ms, 0.99));
        println!(
            "  faster-whisper full 30 s    WER {} / {}, RTF {rtf:.3}, p50 {p50:.0} ms, p99 {p99:.0} ms",
            pct(&wer["espeak"]),
            wer.get("ravdess").map_or("—".into(), pct),
        );
        rows.push(json!({
            "engine": "faster-whisper", "context": "full 30 s", "wer": wer, "rtf": rtf,
            "p50_ms": p50, "p99_ms": p99, "texts": texts,
        }));
    } else {
        let err = String::from_utf8_lossy(&peer.stderr).to_string();
        println!("  faster-whisper skipped: {err}");
        rows.push(json!({"engine": "faster-whisper", "error": err}));
    }
    Ok(json!({"audio_s": audio, "clips": clips.len(), "threads": 1, "rows": rows}))
}

/// Feeds the clips (each followed by 2.5 s of silence) through the plugin's speech worker at
/// real-time pace; per utterance, the time from its last sample being handed over to its
/// transcript and text probabilities being published.
fn transcript_latency(model: WhisperModel, clips: &[(String, Vec<f32>)]) -> Result<Value> {
    let shared = Arc::new(SharedState::new());
    let options = sentio::speech::models::SpeechOptions {
        model,
        language: Some("en".into()),
        device: Device::Cpu,
    };
    let worker = SpeechWorker::spawn(
        shared.clone(),
        SpeechConfig::new(
            Box::new(|| load_vad(Device::Cpu)),
            Box::new(move |stop| load_transcription(&options, Some(stop))),
        ),
    )?;
    let t_load = Instant::now();
    while !shared.speech_active.load(Relaxed) || shared.status().speech_state.contains("loading") {
        if t_load.elapsed() > Duration::from_secs(60) {
            bail!(
                "speech models did not load: {}",
                shared.status().speech_state
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut stream = vec![0.0f32; 8_000];
    for (_, x) in clips {
        stream.extend_from_slice(x);
        stream.extend(std::iter::repeat_n(0.0, 40_000));
    }
    let input = worker.input();
    let (hop, first) = (160usize, 240usize);
    let mut fed_at: Vec<Instant> = Vec::new();
    let mut seen = 0u64;
    let mut latencies = Vec::new();
    let mut compute = Vec::new();
    let mut durations = Vec::new();
    // First words: from the first sample of an utterance (its pre-roll included) being handed
    // over to its first partial transcript.
    let (mut partial_seq, mut first_words, mut partial_of) = (0, Vec::new(), 0);
    let mut poll = |fed_at: &[Instant], latencies: &mut Vec<f64>| {
        if let Some(p) = shared.partial_since(partial_seq) {
            partial_seq = p.seq;
            if p.utterance != partial_of {
                partial_of = p.utterance;
                let at = ((p.start_s * 16_000.0) as usize).saturating_sub(first) / hop;
                if let Some(t0) = fed_at.get(at) {
                    first_words.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        for t in shared.transcripts_since(seen) {
            let now = Instant::now();
            seen = t.seq;
            let end = ((t.end_s * 16_000.0) as usize).saturating_sub(first + 1) / hop;
            if let Some(t0) = fed_at.get(end) {
                latencies.push((now - *t0).as_secs_f64() * 1e3);
                compute.push(t.compute_ms as f64);
                durations.push(t.end_s - t.start_s);
            }
        }
    };
    let start = Instant::now();
    for (i, chunk) in stream[first..].chunks_exact(hop).enumerate() {
        let mut frame = FeatureFrame {
            index: i as u64,
            ..FeatureFrame::default()
        };
        frame.pcm.copy_from_slice(chunk);
        fed_at.push(Instant::now());
        input.forward(&frame);
        let due = start + Duration::from_millis(10 * (i as u64 + 1));
        while Instant::now() < due {
            poll(&fed_at, &mut latencies);
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    worker.flush();
    let t_end = Instant::now();
    while !worker.is_idle() && t_end.elapsed() < Duration::from_secs(60) {
        poll(&fed_at, &mut latencies);
        std::thread::sleep(Duration::from_micros(500));
    }
    poll(&fed_at, &mut latencies);
    let st = shared.status();
    if latencies.is_empty() {
        bail!("no transcripts: {st}");
    }
    let n = latencies.len();
    let (p50, p99) = (
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
    );
    let (c50, c99) = (quantile(&mut compute, 0.5), quantile(&mut compute, 0.99));
    let partials = shared.speech_partials.load(Relaxed);
    let (f50, f99) = if first_words.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (
            quantile(&mut first_words, 0.5),
            quantile(&mut first_words, 0.99),
        )
    };
    println!(
        "partial transcripts, Whisper {}: {partials} published; first words of an utterance (its first sample handed over → its first partial) p50 {f50:.0} ms, p99 {f99:.0} ms over {} utterances",
        model.name(),
        first_words.len()
    );
    println!(
        "transcript latency, Whisper {} on CPU ({n} utterances of {:.1}–{:.1} s, real-time paced): end of utterance → transcript + text probabilities p50 {p50:.0} ms, p99 {p99:.0} ms (of which Whisper + text p50 {c50:.0} ms, p99 {c99:.0} ms; the cutter's 0.4 s hangover past the utterance's end is the rest); {} dropped",
        model.name(),
        durations.iter().copied().fold(f64::INFINITY, f64::min),
        durations.iter().copied().fold(0.0, f64::max),
        st.speech_dropped
    );
    Ok(json!({
        "utterances": n, "p50_ms": p50, "p99_ms": p99,
        "compute_p50_ms": c50, "compute_p99_ms": c99,
        "dropped": st.speech_dropped, "utterances_cut": st.speech_utterances,
        "partials": partials, "first_words_p50_ms": f50, "first_words_p99_ms": f99,
    }))
}

fn speech_figures() -> Result<Value> {
    let clips = speech_clips()?;
    let known = known_clips()?;
    let mut out = serde_json::Map::new();
    for model in [WhisperModel::TinyEn, WhisperModel::Base] {
        out.insert(
            model.name().into(),
            json!({
                "transcript_latency": transcript_latency(model, &clips)?,
                "encoder_context": whisper_contexts(model, &known)?,
            }),
        );
    }
    Ok(Value::Object(out))
}

/// Text-emotion latency: one transcript-sized sentence at a time (as the speech worker runs it),
/// one CPU thread, over the first 500 GoEmotions test sentences; the shipped graph, and beside it
/// the graph `SENTIO_BENCH_TEXT_INT8` names (export.py's int8 comparison), when set.
fn text_latency() -> Result<Value> {
    use sentio::text::TextEmotion;
    let tsv = workspace_root().join("../shared/data/text/goemotions.tsv");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(&tsv)
        .with_context(|| format!("cannot read {}", tsv.display()))?;
    let mut texts = Vec::new();
    for row in reader.records() {
        let row = row?;
        if row.get(1) == Some("test") && row.get(5).is_some_and(|l| !l.is_empty()) {
            texts.push(row.get(3).unwrap_or("").to_string());
        }
        if texts.len() == 500 {
            break;
        }
    }
    let mut graphs = vec![(
        "shipped (fp32, LoRA)".to_string(),
        TextEmotion::load().map_err(anyhow::Error::msg)?,
    )];
    if let Some(p) = std::env::var_os("SENTIO_BENCH_TEXT_INT8") {
        let m = TextEmotion::load_from(
            std::path::Path::new(&p),
            sentio::emotion::runtime::Device::Cpu,
        )
        .map_err(anyhow::Error::msg)?;
        graphs.push(("int8 (merged, quantize_dynamic)".to_string(), m));
    }
    let mut out = serde_json::Map::new();
    for (name, mut model) in graphs {
        let tokens: usize = texts
            .iter()
            .map(|t| model.token_ids(t).map(|v| v.len()).unwrap_or(0))
            .sum();
        for t in texts.iter().take(20) {
            model.probs(&[t]).map_err(anyhow::Error::msg)?;
        }
        let mut ms = Vec::new();
        for t in &texts {
            let t0 = Instant::now();
            model.probs(&[t]).map_err(anyhow::Error::msg)?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        println!(
            "text emotion, {name}: {} sentences ({:.1} tokens on average), one thread: p50 {:.2} ms, p99 {:.2} ms",
            ms.len(),
            tokens as f64 / texts.len() as f64,
            pct(0.5),
            pct(0.99)
        );
        out.insert(
            name,
            serde_json::json!({"sentences": ms.len(), "mean_tokens": tokens as f64 / texts.len() as f64,
                "p50_ms": pct(0.5), "p99_ms": pct(0.99)}),
        );
    }
    Ok(Value::Object(out))
}

fn main() -> Result<()> {
    let mut report = serde_json::Map::new();
    // --text-only: the text-emotion model's per-sentence latency alone.
    if std::env::args().any(|a| a == "--text-only") {
        report.insert("text_latency".into(), text_latency()?);
        let path = workspace_root().join("target/bench-text.json");
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    // --latency-only: the speech worker's transcript and first-words latency alone.
    if std::env::args().any(|a| a == "--latency-only") {
        let clips = speech_clips()?;
        for model in [WhisperModel::TinyEn, WhisperModel::Base] {
            report.insert(model.name().into(), transcript_latency(model, &clips)?);
        }
        let path = workspace_root().join("target/bench-latency.json");
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    if std::env::args().any(|a| a == "--speech-only") {
        report.insert("speech".into(), speech_figures()?);
        let path = workspace_root().join("target/bench-speech.json");
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    // --model-only: the acoustic model's figures alone (after retraining it), in their own file
    let model_only = std::env::args().any(|a| a == "--model-only");
    if !model_only {
        report.insert("process_cost".into(), process_cost()?);
        report.insert("front_end".into(), frontend_speed()?);
    }
    // Both shipped acoustic models, the default (tiny.en) under the keys earlier runs used.
    for (which, suffix) in [(AcousticModel::TinyEn, ""), (AcousticModel::Base, "_base")] {
        let options = ModelOptions {
            acoustic: which,
            ..ModelOptions::default()
        };
        match (
            OnnxEmotionModel::load(&options),
            sentio::emotion::runtime::find_model_for(which),
        ) {
            (Ok(mut model), Ok(path)) => {
                let path = path.display().to_string();
                println!("acoustic model {which:?}: {path}");
                report.insert(
                    format!("model_latency{suffix}"),
                    model_latency(&mut model, &path)?,
                );
                report.insert(format!("update_latency{suffix}"), update_latency(&options)?);
            }
            (Err(e), _) | (_, Err(e)) => println!("{which:?} model figures skipped: {e}"),
        }
    }
    if model_only {
        let path = workspace_root().join("target/bench-model.json");
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    report.insert("speech".into(), speech_figures()?);
    report.insert("text_latency".into(), text_latency()?);
    let path = workspace_root().join("target/bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
    println!("wrote {}", path.display());
    Ok(())
}
