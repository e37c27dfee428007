//! The audio-thread half of the analysis (mono mix, resampler, front end, queue send) must not
//! allocate, at any rate and any block size. `assert_no_alloc` aborts this test binary if it does.

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use sentio::dsp::Capture;

#[cfg(debug_assertions)]
#[global_allocator]
static A: AllocDisabler = AllocDisabler;

fn signal(rate: f32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / rate).sin())
        .collect()
}

#[test]
fn capture_and_queue_send_do_not_allocate() {
    let mut seed = 7u32;
    for rate in [
        8_000.0, 16_000.0, 22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0,
    ] {
        let mut capture = Capture::new(rate).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(64);
        let left = signal(rate, rate as usize);
        let right = left.clone();
        let mut sizes = vec![1usize, 64, 512, 4096, 8192];
        for _ in 0..20 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            sizes.push(1 + (seed >> 16) as usize % 8192);
        }
        let mut sent = 0usize;
        let mut start = 0;
        for size in sizes {
            let end = (start + size).min(left.len());
            if start >= end {
                break;
            }
            let block = [&left[start..end], &right[start..end]];
            assert_no_alloc(|| {
                capture.process(&block, |f| {
                    // Full queue: the frame is dropped, as on the audio thread.
                    if tx.try_send(*f).is_ok() {
                        sent += 1;
                    }
                });
            });
            while rx.try_recv().is_ok() {}
            start = end;
        }
        assert!(sent > 0, "rate {rate}: no frames");
    }
}
