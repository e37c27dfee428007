//! The computed filterbank against librosa's (fixture made by fixtures/make_mel_fixture.py).

mod common;

use sentio_speech::mel;

#[test]
fn filterbank_matches_librosa() {
    let (shape, want) = common::read_npy_f32(&common::fixtures().join("mel_filters_librosa.npy"));
    assert_eq!(shape, vec![80, 201]);
    let got = mel::filterbank(16_000, 400, 80);
    assert_eq!(got.len(), want.len());

    let peak = want.iter().fold(0f32, |m, &x| m.max(x));
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max);
    // Both are float64 computations rounded to float32: they agree to the last bits.
    assert!(
        worst <= peak * 1e-5,
        "max |diff| {worst:e} against a peak of {peak:e}"
    );
    // Same zero pattern: a triangle that leaks into a neighbouring bin would shift the features.
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(*g == 0.0, *w == 0.0, "bin {} of band {}", i % 201, i / 201);
    }
}

#[test]
fn slaney_scale_is_linear_below_1khz_and_log_above() {
    assert!((mel::hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    assert!((mel::hz_to_mel(500.0) - 7.5).abs() < 1e-12);
    for hz in [0.0, 123.0, 999.0, 1000.0, 4321.0, 8000.0] {
        assert!(
            (mel::mel_to_hz(mel::hz_to_mel(hz)) - hz).abs() < 1e-9,
            "{hz}"
        );
    }
}
