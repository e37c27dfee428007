//! The Rust front end against librosa on committed clips (`models/frontend_reference`, made by
//! `make_reference.py`): same samples in, same log-mel / MFCC / energy / Whisper log-mel out.

use std::path::PathBuf;

use sentio::dsp::{FrontEnd, N_MELS, N_MFCC, WHISPER_MELS};

/// Tolerances, in dB for log-mel and energy and in MFCC units (a DCT of dB values).
const LOGMEL_TOL_DB: f64 = 1e-4;
const MFCC_TOL: f64 = 2e-4;
const ENERGY_TOL_DB: f64 = 1e-4;
/// Whisper's log-mel is log10 of the power (bels): 1e-5 is 1e-4 dB, as for the log-mel.
const WHISPER_TOL: f64 = 1e-5;

fn load(path: &PathBuf) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f64>().unwrap())
}

fn max_abs_err(ours: impl Iterator<Item = f64>, reference: &[f64]) -> f64 {
    ours.zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn check_clip(name: &str) -> (f64, f64, f64, f64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/frontend_reference/clips");
    let file = |kind: &str| dir.join(format!("{name}.{kind}.npy"));
    let (_, samples) = load(&file("samples"));
    let (lm_shape, logmel) = load(&file("logmel"));
    let (mf_shape, mfcc) = load(&file("mfcc"));
    let (_, energy) = load(&file("energy"));
    let (wh_shape, whisper) = load(&file("whisper"));

    let x: Vec<f32> = samples.iter().map(|&s| s as f32).collect();
    assert!(
        x.iter().zip(&samples).all(|(a, b)| *a as f64 == *b),
        "samples must be exact in f32"
    );
    let mut frames = Vec::new();
    let mut fe = FrontEnd::new();
    // Odd block sizes on purpose: framing must not depend on them.
    for block in x.chunks(333) {
        fe.push(block, |f| frames.push(*f));
    }
    assert_eq!(
        lm_shape,
        [frames.len() as u64, N_MELS as u64],
        "{name}: frame count"
    );
    assert_eq!(mf_shape, [frames.len() as u64, N_MFCC as u64]);
    assert_eq!(wh_shape, [frames.len() as u64, WHISPER_MELS as u64]);

    let lm = max_abs_err(frames.iter().flat_map(|f| f.logmel.map(f64::from)), &logmel);
    let mf = max_abs_err(frames.iter().flat_map(|f| f.mfcc.map(f64::from)), &mfcc);
    let en = max_abs_err(frames.iter().map(|f| f.energy_db as f64), &energy);
    let wh = max_abs_err(
        frames.iter().flat_map(|f| f.whisper.map(f64::from)),
        &whisper,
    );
    println!(
        "{name}: {} frames, max abs error log-mel {lm:.2e} dB, MFCC {mf:.2e}, energy {en:.2e} dB, \
         Whisper log10-mel {wh:.2e}",
        frames.len()
    );
    assert!(lm <= LOGMEL_TOL_DB, "{name}: log-mel error {lm} dB");
    assert!(mf <= MFCC_TOL, "{name}: MFCC error {mf}");
    assert!(en <= ENERGY_TOL_DB, "{name}: energy error {en} dB");
    assert!(wh <= WHISPER_TOL, "{name}: Whisper log-mel error {wh}");
    (lm, mf, en, wh)
}

#[test]
fn ravdess_angry_matches_librosa() {
    check_clip("ravdess_angry_a01.wav");
}

#[test]
fn ravdess_sad_matches_librosa() {
    check_clip("ravdess_sad_a02.wav");
}

#[test]
fn synthetic_chirp_with_digital_silence_matches_librosa() {
    check_clip("synthetic_chirp_noise.wav");
}
