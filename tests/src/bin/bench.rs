//! `cargo xtask bench`: the figures the README quotes, measured in one run.
//!
//! - audio-thread cost: wall time of the release `.clap`'s `process()` under a real CLAP host,
//!   per block, as a fraction of the block's real-time budget (48 kHz; 64, 128, 512 samples);
//! - front end: the Rust front end against librosa computing the same features on the same audio;
//! - model latency: one acoustic inference (2.5 s window, batch 1, one CPU thread), Rust (ort)
//!   against ONNX Runtime from Python on the same model;
//! - update latency: from the last sample of a hop entering the capture (as in `process()`) to
//!   the new probabilities in the shared state, with the plugin's own worker, paced in real time.
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

use sentio::dsp::{Capture, FrontEnd};
use sentio::emotion::onnx_model::{ModelOptions, OnnxEmotionModel};
use sentio::emotion::EmotionModel;
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

fn main() -> Result<()> {
    let mut report = serde_json::Map::new();
    report.insert("process_cost".into(), process_cost()?);
    report.insert("front_end".into(), frontend_speed()?);
    let options = ModelOptions::default();
    match (
        OnnxEmotionModel::load(&options),
        sentio::emotion::runtime::find_model(),
    ) {
        (Ok(mut model), Ok(path)) => {
            let path = path.display().to_string();
            report.insert("model_latency".into(), model_latency(&mut model, &path)?);
            report.insert("update_latency".into(), update_latency(&options)?);
        }
        (Err(e), _) | (_, Err(e)) => println!("model figures skipped: {e}"),
    }
    let path = workspace_root().join("target/bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
    println!("wrote {}", path.display());
    Ok(())
}
