//! The shipped acoustic model through ONNX Runtime (the library `cargo xtask setup` fetched).

use std::path::{Path, PathBuf};

use sentio::analysis::Analyzer;
use sentio::dsp::FrontEnd;
use sentio::emotion::onnx_model::{ModelOptions, OnnxEmotionModel};
use sentio::emotion::runtime::Device;
use sentio::emotion::{EmotionModel, ExecutionBackend};

/// Largest acceptable difference between ONNX Runtime here and PyTorch at export.
const PARITY_TOL: f32 = 1e-5;

fn acoustic() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/acoustic")
}

fn load(path: &Path) -> OnnxEmotionModel {
    OnnxEmotionModel::load_from(path, &ModelOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    (f.shape().to_vec(), f.into_vec().unwrap())
}

#[test]
fn onnx_runtime_reproduces_pytorch_on_the_parity_fixture() {
    let mut model = load(&acoustic().join("sentio-ser.onnx"));
    let (shape, input) = npy(&acoustic().join("parity_input.npy"));
    let (_, want) = npy(&acoustic().join("parity_probs.npy"));
    assert_eq!(shape[2] as usize, model.sidecar().width());
    let got = model.infer(&input).unwrap();
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("ort vs PyTorch: max abs difference {err:.2e} (probabilities {got:?})");
    assert!(err <= PARITY_TOL, "max abs difference {err}");
    assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn the_embedding_output_matches_pytorch_and_a_speaker_moves_its_statistics() {
    let mut model = load(&acoustic().join("sentio-ser.onnx"));
    assert!(
        model.has_embedding(),
        "the shipped model normalises its embedding per speaker"
    );
    let (_, input) = npy(&acoustic().join("parity_input.npy"));
    let (_, want) = npy(&acoustic().join("parity_embedding.npy"));
    model.infer(&input).unwrap();
    let got = model.last_embedding();
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("embedding ort vs PyTorch: max abs difference {err:.2e} (largest value {scale:.2})");
    assert!(err <= 1e-4 * scale.max(1.0), "max abs difference {err}");

    // Live, the speaker's statistics follow the embeddings heard: the same window classified
    // before and after a few seconds of one voice differs (and stays a distribution).
    let cold = model.infer(&input).unwrap();
    let (mut fe, mut an) = (FrontEnd::new(), Analyzer::new());
    let x = clip_samples();
    let mut estimates = 0;
    fe.push(&x, |f| {
        let voiced = an.push(f).voice > 0.5;
        estimates += model.push(f, voiced).unwrap().is_some() as usize;
    });
    assert!(estimates > 4);
    let warm = model.infer(&input).unwrap();
    let moved = cold
        .iter()
        .zip(&warm)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        moved > 1e-3,
        "speaker statistics had no effect: {cold:?} vs {warm:?}"
    );
    assert!((warm.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    model.reset();
    let again = model.infer(&input).unwrap();
    assert!(cold.iter().zip(&again).all(|(a, b)| (a - b).abs() < 1e-6));
}

fn clip_samples() -> Vec<f32> {
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../models/frontend_reference/clips/ravdess_angry_a01.wav.samples.npy"),
    )
    .unwrap();
    npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<f64>()
        .unwrap()
        .iter()
        .map(|&s| s as f32)
        .collect()
}

#[test]
fn live_push_gives_an_estimate_every_hop_of_speech() {
    let mut model = load(&acoustic().join("sentio-ser.onnx"));
    let (hop, min_frames) = (25, model.sidecar().min_frames as u64);
    let x = clip_samples();
    let mut fe = FrontEnd::new();
    let mut an = Analyzer::new();
    let mut estimates = Vec::new();
    let mut frames = 0u64;
    fe.push(&x, |f| {
        frames += 1;
        let voiced = an.push(f).voice > 0.5;
        if let Some(e) = model.push(f, voiced).unwrap() {
            estimates.push(e);
        }
    });
    assert!(!estimates.is_empty());
    let first = estimates[0].frame_index;
    assert!(
        first + 1 >= min_frames,
        "no estimate before {min_frames} frames"
    );
    for pair in estimates.windows(2) {
        assert_eq!((pair[1].frame_index - pair[0].frame_index) % hop, 0);
    }
    for e in &estimates {
        assert!((e.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(e.probs.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    // Speech fills most of this clip: most hops after the first window produce an estimate.
    let possible = (frames - first) / hop;
    assert!(
        estimates.len() as u64 >= possible * 2 / 3,
        "{} of {possible}",
        estimates.len()
    );
}

#[test]
fn cuda_requests_fall_back_to_cpu_and_say_so() {
    let options = ModelOptions {
        device: Device::Cuda,
        ..ModelOptions::default()
    };
    let model = OnnxEmotionModel::load_from(&acoustic().join("sentio-ser.onnx"), &options).unwrap();
    // No GPU on the machines this runs on: whatever the build, the model must run, on the CPU,
    // and the status must explain why.
    assert_eq!(model.backend(), ExecutionBackend::Cpu);
    assert!(model.note().contains("CUDA requested"), "{}", model.note());
}

#[test]
fn broken_model_files_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("sentio-bad-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sidecar = std::fs::read_to_string(acoustic().join("sentio-ser.json")).unwrap();

    let missing = OnnxEmotionModel::load_from(&dir.join("nope.onnx"), &ModelOptions::default());
    assert!(missing
        .err()
        .unwrap()
        .contains("cannot read model description"));

    std::fs::write(dir.join("garbage.onnx"), b"\x08\x07 this is not a protobuf").unwrap();
    std::fs::write(dir.join("garbage.json"), &sidecar).unwrap();
    let err = OnnxEmotionModel::load_from(&dir.join("garbage.onnx"), &ModelOptions::default())
        .err()
        .unwrap();
    assert!(err.contains("cannot load the emotion model"), "{err}");

    std::fs::copy(acoustic().join("sentio-ser.onnx"), dir.join("wrong.onnx")).unwrap();
    std::fs::write(
        dir.join("wrong.json"),
        sidecar.replace("\"surprised\"", "\"bored\""),
    )
    .unwrap();
    let err = OnnxEmotionModel::load_from(&dir.join("wrong.onnx"), &ModelOptions::default())
        .err()
        .unwrap();
    assert!(err.contains("classes"), "{err}");

    std::fs::write(dir.join("cut.json"), &sidecar[..sidecar.len() / 2]).unwrap();
    std::fs::copy(acoustic().join("sentio-ser.onnx"), dir.join("cut.onnx")).unwrap();
    let err = OnnxEmotionModel::load_from(&dir.join("cut.onnx"), &ModelOptions::default())
        .err()
        .unwrap();
    assert!(err.contains("invalid model description"), "{err}");
}
