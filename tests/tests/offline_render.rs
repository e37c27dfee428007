//! A host bouncing faster than real time in CLAP's offline render mode: the plugin may wait for its
//! worker, so no frame is dropped and the outputs match what real-time playback would produce.

use std::time::{Duration, Instant};

use sentio_host_tests::audio;
use sentio_host_tests::contract::*;
use sentio_host_tests::{paths, serial, ClapHost, OscListener, OscStatus};

#[test]
fn offline_render_analyses_every_frame_even_far_faster_than_real_time() {
    let _g = serial();
    let rate = 48_000u32;
    let osc = OscListener::bind().expect("bind");
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("osc_port");
    host.set_render_offline(true).expect("offline mode");
    host.activate(rate as f64, 1, 4096).expect("activate");

    // 4 × the demo (≈106 s), unpaced: ≈10,600 frames, five times the worker's queue.
    let demo = audio::demo_at(rate);
    let signal: Vec<f32> = (0..4).flat_map(|_| demo.iter().copied()).collect();
    let (mut l, mut r) = (vec![0.0f32; 4096], vec![0.0f32; 4096]);
    let t0 = Instant::now();
    for chunk in signal.chunks(4096) {
        let n = chunk.len();
        host.process(&[chunk, chunk], &mut [&mut l[..n], &mut r[..n]], &[]);
        assert!(audio::first_bit_mismatch(chunk, &l[..n]).is_none());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let n16 = signal.len() as u64 * FRONTEND_RATE as u64 / rate as u64;
    let expected = expected_frames(n16) as i64;
    // Offline, the analysis also waits for the speech worker (no utterance is dropped), which
    // pauses the frame count while Whisper works: wait for the count, then for it to settle.
    osc.wait_until(ADDR_STATUS, Duration::from_secs(120), |m| {
        OscStatus::from_record(m)
            .is_some_and(|s| s.frames_processed + s.frames_dropped >= expected - 5)
    });
    let st = osc
        .wait_status_settled(
            ADDR_STATUS,
            Duration::from_millis(400),
            Duration::from_secs(30),
        )
        .expect("a /sentio/status message");
    eprintln!(
        "offline: {:.0} s of audio in {elapsed:.1} s; status {st:?}, expected ≈{expected} frames",
        signal.len() as f64 / rate as f64
    );
    assert_eq!(
        st.frames_dropped, 0,
        "offline rendering must not drop frames: {st:?}"
    );
    assert!(
        (st.frames_processed - expected).abs() <= 5,
        "{st:?} vs {expected}"
    );
    // No timing assertion: the bounce's speed is set by transcription (the analysis waits for the
    // speech worker) and by the machine's load. That the host really ran ahead of the worker is
    // shown by the count: five queues' worth of frames arrived unpaced and none was dropped.
    assert!(expected > 5 * sentio::worker::QUEUE_FRAMES as i64);
}
