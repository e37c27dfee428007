//! The shipped acoustic model through ONNX Runtime (the library `cargo xtask setup` fetched).

use std::path::{Path, PathBuf};

use sentio::analysis::Analyzer;
use sentio::dsp::FrontEnd;
use sentio::emotion::normalize::Calibration;
use sentio::emotion::onnx_model::{ModelOptions, OnnxEmotionModel};
use sentio::emotion::runtime::{AcousticModel, Device};
use sentio::emotion::sidecar::EmbeddingNormalization;
use sentio::emotion::{EmotionModel, ExecutionBackend};

/// Largest acceptable difference between ONNX Runtime here and PyTorch at export.
const PARITY_TOL: f32 = 1e-5;

fn acoustic() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/acoustic")
}

/// The shipped models' folders (graph, sidecar and parity fixtures): tiny.en's (the default) and
/// base's.
fn shipped() -> [PathBuf; 2] {
    [acoustic(), acoustic().join("base")]
}

fn load(path: &Path) -> OnnxEmotionModel {
    OnnxEmotionModel::load_from(path, &ModelOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// `dir`'s graph under a copy of its sidecar with the speaker weight's floor and ceiling set
/// (`None`: the key removed, so the runtime passes the weight as it is). The folder holds the copy.
fn with_weights(
    dir: &Path,
    floor: Option<f64>,
    ceiling: Option<f64>,
) -> (tempfile::TempDir, Result<OnnxEmotionModel, String>) {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.join("sentio-ser.json")).unwrap();
    let mut sidecar: serde_json::Value = serde_json::from_str(&text).unwrap();
    let spec = sidecar["embedding"].as_object_mut().unwrap();
    for (key, value) in [
        ("min_speaker_weight", floor),
        ("max_speaker_weight", ceiling),
    ] {
        match value {
            Some(v) => spec.insert(key.into(), v.into()),
            None => spec.remove(key),
        };
    }
    let path = tmp.path().join("sentio-ser.onnx");
    std::fs::write(path.with_extension("json"), sidecar.to_string()).unwrap();
    std::fs::copy(dir.join("sentio-ser.onnx"), &path).unwrap();
    let model = OnnxEmotionModel::load_from(&path, &ModelOptions::default());
    (tmp, model)
}

/// `dir`'s graph as PyTorch exported it: the weight reaches the graph unclamped, so the parity
/// fixtures (weight 0 and 0.4) are what it must reproduce.
fn graph(dir: &Path) -> (tempfile::TempDir, OnnxEmotionModel) {
    let (tmp, model) = with_weights(dir, None, None);
    (tmp, model.unwrap_or_else(|e| panic!("{e}")))
}

/// The largest absolute difference between two equally long vectors.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

fn npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    (f.shape().to_vec(), f.into_vec().unwrap())
}

#[test]
fn onnx_runtime_reproduces_pytorch_on_the_parity_fixture() {
    for dir in shipped() {
        let (_tmp, mut model) = graph(&dir);
        let (shape, input) = npy(&dir.join("parity_input.npy"));
        let (_, want) = npy(&dir.join("parity_probs.npy"));
        assert_eq!(shape[2] as usize, model.sidecar().width());
        let got = model.infer(&input).unwrap();
        let err = max_abs_diff(&got, &want);
        println!(
            "{}: ort vs PyTorch max abs difference {err:.2e} (probabilities {got:?})",
            dir.display()
        );
        assert!(err <= PARITY_TOL, "max abs difference {err}");
        assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn the_encoder_setting_picks_the_shipped_model() {
    for (which, dir, name) in [
        (AcousticModel::TinyEn, acoustic(), "Whisper tiny.en"),
        (AcousticModel::Base, acoustic().join("base"), "Whisper base"),
    ] {
        let options = ModelOptions {
            acoustic: which,
            ..ModelOptions::default()
        };
        let mut model = OnnxEmotionModel::load(&options).unwrap_or_else(|e| panic!("{e}"));
        let described = model.sidecar().model.clone().unwrap_or_default();
        assert!(described.contains(name), "{which:?}: {described}");
        // It is the file in that folder: the folder's graph and sidecar give the same output.
        let (_, input) = npy(&dir.join("parity_input.npy"));
        let want = load(&dir.join("sentio-ser.onnx")).infer(&input).unwrap();
        let got = model.infer(&input).unwrap();
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= PARITY_TOL));
    }
}

/// The statistics of export.py's blend fixture: the global ones shifted by 0.3 deviations and
/// narrowed to 0.7.
fn blend_fixture_stats(spec: &EmbeddingNormalization) -> (Vec<f32>, Vec<f32>) {
    let mean = spec
        .global_mean
        .iter()
        .zip(&spec.global_std)
        .map(|(m, s)| m + 0.3 * s)
        .collect();
    (mean, spec.global_std.iter().map(|s| 0.7 * s).collect())
}

#[test]
fn the_speaker_weight_blends_the_two_heads_as_pytorch_does() {
    for dir in shipped() {
        speaker_weight_blends(&dir);
    }
}

fn speaker_weight_blends(dir: &Path) {
    let (_tmp, mut model) = graph(dir);
    let spec = model
        .sidecar()
        .embedding
        .clone()
        .expect("an embedding model");
    assert_eq!(
        spec.weight_input.as_deref(),
        Some("speaker_weight"),
        "the shipped model has a speaker head and a cold-start head"
    );
    let (_, input) = npy(&dir.join("parity_input.npy"));
    let (_, want) = npy(&dir.join("parity_probs_blend.npy"));
    // export.py's blend fixture: shifted statistics, the speaker's share 0.4.
    let (mean, std) = blend_fixture_stats(&spec);
    let got = model.infer_with(&input, Some((&mean, &std, 0.4))).unwrap();
    let err = max_abs_diff(&got, &want);
    println!("blend ort vs PyTorch: max abs difference {err:.2e}");
    assert!(err <= PARITY_TOL, "max abs difference {err}");
    // The weight matters: the speaker head alone (1) and the cold-start head alone (0) differ
    // from the blend, and a cold start with global statistics is the parity fixture.
    let spk = model.infer_with(&input, Some((&mean, &std, 1.0))).unwrap();
    let cold = model.infer_with(&input, Some((&mean, &std, 0.0))).unwrap();
    assert!(
        max_abs_diff(&spk, &got) > 1e-3 && max_abs_diff(&cold, &got) > 1e-3,
        "{spk:?} {got:?} {cold:?}"
    );
    let (_, parity) = npy(&dir.join("parity_probs.npy"));
    let global = model
        .infer_with(&input, Some((&spec.global_mean, &spec.global_std, 0.0)))
        .unwrap();
    assert!(global
        .iter()
        .zip(&parity)
        .all(|(a, b)| (a - b).abs() <= PARITY_TOL));
}

#[test]
fn the_speaker_weight_stays_between_the_sidecars_floor_and_ceiling() {
    // The shipped graph under sidecars that differ only in `min_` and `max_speaker_weight`.
    let dir = acoustic();
    let (_t0, mut free) = graph(&dir);
    let (_t1, capped) = with_weights(&dir, None, Some(0.6));
    let (_t2, floored) = with_weights(&dir, Some(0.3), None);
    let (mut capped, mut floored) = (capped.unwrap(), floored.unwrap());
    let (_, input) = npy(&dir.join("parity_input.npy"));
    let spec = free.sidecar().embedding.clone().unwrap();
    let (mean, std) = blend_fixture_stats(&spec);
    let at =
        |m: &mut OnnxEmotionModel, w: f32| m.infer_with(&input, Some((&mean, &std, w))).unwrap();
    // A speaker fully known (weight 1) gets the blend at the ceiling; below it nothing changes.
    assert!(max_abs_diff(&at(&mut capped, 1.0), &at(&mut free, 0.6)) <= 1e-6);
    assert!(max_abs_diff(&at(&mut free, 1.0), &at(&mut free, 0.6)) > 1e-3);
    assert!(max_abs_diff(&at(&mut capped, 0.4), &at(&mut free, 0.4)) <= 1e-6);
    // A speaker not yet heard (weight 0, or a weight that is not a number) gets the blend at the
    // floor; above it nothing changes.
    assert!(max_abs_diff(&at(&mut floored, 0.0), &at(&mut free, 0.3)) <= 1e-6);
    assert!(max_abs_diff(&at(&mut floored, f32::NAN), &at(&mut free, 0.3)) <= 1e-6);
    assert!(max_abs_diff(&at(&mut free, 0.0), &at(&mut free, 0.3)) > 1e-3);
    assert!(max_abs_diff(&at(&mut floored, 0.5), &at(&mut free, 0.5)) <= 1e-6);
    // A cold start (the global statistics, nothing heard yet) is the graph at the floor, for the
    // shipped sidecar as for this one.
    let global = |m: &mut OnnxEmotionModel, w: f32| {
        m.infer_with(&input, Some((&spec.global_mean, &spec.global_std, w)))
            .unwrap()
    };
    let cold = floored.infer(&input).unwrap();
    assert!(max_abs_diff(&cold, &global(&mut free, 0.3)) <= 1e-6);
    let mut shipped = load(&dir.join("sentio-ser.onnx"));
    let shipped_floor = shipped
        .sidecar()
        .embedding
        .as_ref()
        .unwrap()
        .min_speaker_weight;
    let cold = shipped.infer(&input).unwrap();
    assert!(max_abs_diff(&cold, &global(&mut free, shipped_floor)) <= 1e-6);
    // What the model outputs changed, so a "learn my voice" correction for one is not another's.
    let prints = [&capped, &floored, &free].map(|m| m.sidecar().fingerprint());
    assert!(prints[0] != prints[1] && prints[1] != prints[2] && prints[0] != prints[2]);
    // Weights outside 0..=1, or a floor above the ceiling, are refused with the key named.
    for (floor, ceiling, key) in [
        (None, Some(1.5), "max_speaker_weight"),
        (Some(-0.1), None, "min_speaker_weight"),
        (Some(0.7), Some(0.6), "min_speaker_weight"),
    ] {
        let err = with_weights(&dir, floor, ceiling).1.err().unwrap();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn the_embedding_output_matches_pytorch_and_a_speaker_moves_its_statistics() {
    for dir in shipped() {
        embedding_matches(&dir);
    }
}

fn embedding_matches(dir: &Path) {
    let mut model = load(&dir.join("sentio-ser.onnx"));
    assert!(
        model.has_embedding(),
        "the shipped model normalises its embedding per speaker"
    );
    let (_, input) = npy(&dir.join("parity_input.npy"));
    let (_, want) = npy(&dir.join("parity_embedding.npy"));
    model.infer(&input).unwrap();
    let got = model.last_embedding();
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = max_abs_diff(got, &want);
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
    let moved = max_abs_diff(&cold, &warm);
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
fn speech_after_a_pause_is_classified_on_its_own_window() {
    // The clip's frames with voice activity forced: 1.5 s of speech, a 0.3 s pause, speech again
    // from frame 180 to the end (261 frames).
    let mut frames = Vec::new();
    FrontEnd::new().push(&clip_samples(), |f| frames.push(*f));
    assert!(frames.len() >= 250, "{} frames", frames.len());
    let voiced = |i: usize| !(150..180).contains(&i);
    let path = acoustic().join("sentio-ser.onnx");
    let with_restart = |restart_after_frames| {
        let mut m = OnnxEmotionModel::load_from(
            &path,
            &ModelOptions {
                restart_after_frames,
                ..ModelOptions::default()
            },
        )
        .unwrap();
        // Fixed speaker statistics, so windows are comparable across models.
        let stats = m.embedding_stats().unwrap();
        m.set_calibration(Some(stats)).unwrap();
        m
    };
    let estimates_after = |m: &mut OnnxEmotionModel, from: usize| {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate().skip(from) {
            if let Some(e) = m.push(f, voiced(i)).unwrap() {
                out.push((i, e.probs));
            }
        }
        out
    };

    let mut restarting = with_restart(25);
    let heard = estimates_after(&mut restarting, 0);
    let (at, probs) = *heard.iter().find(|(i, _)| *i >= 180).unwrap();
    // The onset at frame 180 keeps 20 frames of the pause and is classified as soon as the
    // window holds the model's minimum of 50 frames: frames 160..=209.
    let min_frames = restarting.sidecar().min_frames;
    assert_eq!(at, 180 - 20 + min_frames - 1);
    // Exactly what a model that never heard the first utterance says on those frames.
    let mut fresh = with_restart(25);
    let (first_at, first) = estimates_after(&mut fresh, 160)[0];
    assert_eq!(first_at, at);
    assert!(
        max_abs_diff(&probs, &first) < 1e-6,
        "{probs:?} vs {first:?}"
    );

    // Without the restart the window slides on over both utterances, on its hop.
    let mut sliding = with_restart(0);
    let slid = estimates_after(&mut sliding, 0);
    let (next_at, next) = *slid.iter().find(|(i, _)| *i >= 180).unwrap();
    assert!(
        (next_at + 1 - min_frames) % 25 == 0 && next_at != at,
        "{next_at}"
    );
    assert!(max_abs_diff(&next, &first) > 1e-4, "{next:?} vs {first:?}");
    // A hop with no new speech is not classified: the outputs hold through the pause.
    for (name, estimates) in [("sliding", &slid), ("restarting", &heard)] {
        assert!(
            !estimates.iter().any(|(i, _)| (151..180).contains(i)),
            "{name}: {:?}",
            estimates.iter().map(|(i, _)| i).collect::<Vec<_>>()
        );
    }
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
fn a_saved_calibration_for_another_model_is_dropped_with_a_note() {
    let path = acoustic().join("sentio-ser.onnx");
    let dims = load(&path).embedding_stats().unwrap().mean.len();
    let options = |n: usize| ModelOptions {
        // 5 s of a speaker's statistics, as "Calibrate to my voice" saves them with a project.
        calibration: Some(Calibration {
            mean: vec![0.0; n],
            std: vec![1.0; n],
            frames: 500,
        }),
        ..ModelOptions::default()
    };
    // Recorded for a model with another embedding (v6 read half as many values as v7).
    let stale = options(dims / 2);
    let err = OnnxEmotionModel::load_from(&path, &stale).err().unwrap();
    assert!(err.contains("calibrate again"), "{err}");
    // What the plugin loads: the model without it, saying why.
    let model = OnnxEmotionModel::load_from_saved(&path, &stale).unwrap();
    assert!(
        model
            .note()
            .contains("your voice calibration is not applied: calibration has"),
        "{}",
        model.note()
    );
    assert_eq!(model.embedding_stats().unwrap().frames, 0, "a cold start");

    // One that fits is kept, without a note.
    let model = OnnxEmotionModel::load_from_saved(&path, &options(dims)).unwrap();
    assert!(!model.note().contains("not applied"), "{}", model.note());
    assert_eq!(model.embedding_stats().unwrap().frames, 500);

    // A model that cannot load fails with its own error, whatever was saved.
    let missing = OnnxEmotionModel::load_from_saved(&acoustic().join("nope.onnx"), &stale);
    let err = missing.err().unwrap();
    assert!(err.contains("cannot read model description"), "{err}");
}

#[test]
fn broken_model_files_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
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

/// The demo (one RAVDESS clip per class, each a different actor) and, per 10 ms frame, the
/// class of the segment it is in.
fn demo() -> (Vec<f32>, Vec<Option<usize>>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo");
    let audio = sentio::cli::decode::decode(&root.join("sentio-demo.flac")).unwrap();
    assert_eq!(audio.sample_rate, 16_000);
    let segments: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("segments.json")).unwrap())
            .unwrap();
    let frames = audio.frames() / 160 + 1;
    let mut class = vec![None; frames];
    for s in segments["segments"].as_array().unwrap() {
        let c = sentio::emotion::CLASSES
            .iter()
            .position(|&n| n == s["emotion"].as_str().unwrap())
            .unwrap();
        let (a, b) = (s["start_s"].as_f64().unwrap(), s["end_s"].as_f64().unwrap());
        for f in class
            .iter_mut()
            .take(((b * 100.0) as usize).min(frames))
            .skip((a * 100.0) as usize)
        {
            *f = Some(c);
        }
    }
    (audio.channels[0].clone(), class)
}

/// Plays the demo through `model` live; `teach` says whether each segment is taught as its class.
/// Returns the segments the model hears right (the class with the largest mean probability over
/// the segment's estimates), the mean over segments of that mean probability of their true class,
/// and what the ends of takes returned.
fn play(
    model: &mut OnnxEmotionModel,
    teach: bool,
) -> (
    usize,
    f32,
    Vec<Result<sentio::emotion::adaptation::Adaptation, String>>,
) {
    let (x, class) = demo();
    let mut fe = FrontEnd::new();
    let mut an = Analyzer::new();
    let mut sums: Vec<(usize, [f32; 8])> = Vec::new();
    let mut results = Vec::new();
    let mut frame = 0usize;
    fe.push(&x, |f| {
        let now = class.get(frame).copied().flatten();
        frame += 1;
        if teach {
            results.extend(model.teach(now));
        }
        let voiced = an.push(f).voice > 0.5;
        if let (Some(e), Some(c)) = (model.push(f, voiced).unwrap(), now) {
            if sums.last().map(|l| l.0) != Some(c) {
                sums.push((c, [0.0; 8]));
            }
            let last = sums.last_mut().unwrap();
            last.1.iter_mut().zip(e.probs).for_each(|(s, p)| *s += p);
        }
    });
    if teach {
        results.extend(model.teach(None));
    }
    let right = sums
        .iter()
        .filter(|(c, p)| (0..8).max_by(|&a, &b| p[a].total_cmp(&p[b])) == Some(*c))
        .count();
    let true_p = sums
        .iter()
        .map(|(c, p)| p[*c] / p.iter().sum::<f32>())
        .sum::<f32>()
        / sums.len() as f32;
    (right, true_p, results)
}

#[test]
fn learn_my_voice_live_teaches_the_model_and_forget_drops_it() {
    let path = acoustic().join("sentio-ser.onnx");
    let (before, before_p, _) = play(&mut load(&path), false);

    let mut model = load(&path);
    let t0 = std::time::Instant::now();
    let (_, _, results) = play(&mut model, true);
    let teaching = t0.elapsed();
    // Eight takes: the first cannot be learnt alone, each later one refits on all so far.
    assert_eq!(results.len(), 8, "{results:?}");
    assert!(results[0]
        .as_ref()
        .unwrap_err()
        .contains("teach at least one more"));
    let learnt = results.last().unwrap().as_ref().unwrap().clone();
    assert_eq!(learnt.clips, [1; 8]);
    assert!(learnt.weight.len() > 8, "the whole linear layer adapts");
    assert_eq!(learnt.model, model.sidecar().fingerprint());
    assert_eq!(
        learnt.taught(),
        "neutral 1, calm 1, happy 1, sad 1, angry 1, fearful 1, disgust 1, surprised 1"
    );

    // Heard again, the taught voices come out right more often than before.
    let t0 = std::time::Instant::now();
    let (after, after_p, _) = play(&mut model, false);
    println!(
        "demo segments heard right live: {before}/8 before, {after}/8 after learning them \
         (mean probability of the true class {before_p:.3} → {after_p:.3}); the demo took {:.1} s to play while teaching (7 refits), {:.1} s without",
        teaching.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    // Right segments can only stay or rise (all 8 may already be right); the probability of
    // the taught class must rise.
    assert!(
        after >= before && after_p > before_p + 0.05,
        "{before} → {after} ({before_p:.3} → {after_p:.3})"
    );

    // What it learnt loads with a fresh model (as from the project); Forget drops it.
    let options = ModelOptions {
        adaptation: Some(learnt),
        ..ModelOptions::default()
    };
    let mut reloaded = OnnxEmotionModel::load_from(&path, &options).unwrap();
    let (again, again_p, _) = play(&mut reloaded, false);
    assert!(
        again >= before && again_p > before_p + 0.05,
        "{before} → {again} ({before_p:.3} → {again_p:.3}) after reloading"
    );
    reloaded.forget_adaptation();
    let mut fresh = load(&path);
    // With the same speaker statistics, the forgetting model and a fresh one agree.
    let x = clip_samples();
    let rows = |m: &OnnxEmotionModel| {
        let mut fe = FrontEnd::new();
        let mut an = Analyzer::new();
        let (mut rows, mut voiced) = (Vec::new(), Vec::new());
        fe.push(&x, |f| {
            rows.push(m.columns(f));
            voiced.push(an.push(f).voice > 0.5);
        });
        (rows, voiced)
    };
    let (r, v) = rows(&fresh);
    let stats = fresh.embedding_stats();
    let a = fresh.classify_clip(&r, &v, None, stats.as_ref()).unwrap();
    let b = reloaded
        .classify_clip(&r, &v, None, stats.as_ref())
        .unwrap();
    assert!(
        a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6),
        "{a:?} vs {b:?}"
    );
}
