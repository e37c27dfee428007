//! The release VST3 bundle: loads, exposes the contract's parameters, passes audio bit-exact.

use std::time::{Duration, Instant};

use sentio_host_tests::audio::{self, BlockPlan};
use sentio_host_tests::contract::*;
use sentio_host_tests::{paths, serial, OscListener, OscStatus, Vst3Host};

fn run(host: &mut Vst3Host, x: &[f32], plan: BlockPlan, what: &str) {
    let [l, r] = audio::stereo_from_mono(x);
    let mut out_l = vec![0.0f32; l.len()];
    let mut out_r = vec![0.0f32; r.len()];
    let mut sizes = plan.sizes();
    let mut pos = 0;
    while pos < l.len() {
        let n = sizes.next().unwrap().min(l.len() - pos);
        host.process(
            &[&l[pos..pos + n], &r[pos..pos + n]],
            &mut [&mut out_l[pos..pos + n], &mut out_r[pos..pos + n]],
        )
        .unwrap_or_else(|e| panic!("{what}: block at {pos} ({n} frames): {e:#}"));
        pos += n;
    }
    audio::assert_bit_exact(&l, &out_l, &format!("{what}, {plan}, left"));
    audio::assert_bit_exact(&r, &out_r, &format!("{what}, {plan}, right"));
}

#[test]
fn vst3_loads_and_passes_audio_bit_exact() {
    let _g = serial();
    let mut host = Vst3Host::load(&paths::release_vst3()).expect("load release .vst3");
    let ids: Vec<u32> = host.params().iter().map(|p| p.id).collect();
    for id in ALL_PARAMS {
        assert!(
            ids.contains(&hash_param_id(id)),
            "VST3 parameter {id:?} (id {}) missing; plugin has {:?}",
            hash_param_id(id),
            host.params()
                .iter()
                .map(|p| (p.id, p.name.as_str()))
                .collect::<Vec<_>>()
        );
    }
    // OSC off: nothing of this test depends on it.
    host.set_param(OSC_ON, 0.0).expect("set osc_on");
    assert_eq!(host.param_normalized(OSC_ON).unwrap(), 0.0);

    host.activate(48_000.0, 1024).expect("activate 48 kHz");
    let demo = audio::demo_at(48_000);
    let x = audio::head(&demo, 48_000, 4.0);
    run(&mut host, x, BlockPlan::Fixed(512), "VST3 48 kHz");
    run(
        &mut host,
        x,
        BlockPlan::Random {
            seed: 0x7531,
            max: 1024,
        },
        "VST3 48 kHz",
    );
    host.deactivate();

    host.activate(44_100.0, 4096).expect("activate 44.1 kHz");
    let demo = audio::demo_at(44_100);
    let x = audio::head(&demo, 44_100, 3.0);
    run(&mut host, x, BlockPlan::Fixed(4096), "VST3 44.1 kHz");
    host.deactivate();
}

/// A parameter set through the VST3 edit controller reaches the processor: OSC goes to the port
/// we set.
#[test]
fn vst3_parameters_reach_the_processor() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let mut host = Vst3Host::load(&paths::release_vst3()).expect("load release .vst3");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("set osc_port");
    host.activate(48_000.0, 480).expect("activate");
    let demo = audio::demo_at(48_000);
    let x = audio::speech_excerpt(&demo, 48_000, 1.0).to_vec();
    let mut out = [vec![0.0f32; 480], vec![0.0f32; 480]];
    let t0 = Instant::now();
    for (i, chunk) in x.chunks_exact(480).enumerate() {
        let [a, b] = &mut out;
        host.process(&[chunk, chunk], &mut [&mut a[..], &mut b[..]])
            .expect("process");
        audio::assert_bit_exact(chunk, a, "VST3 paced, left");
        let due = t0 + Duration::from_millis(10 * (i as u64 + 1));
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    let st = osc
        .wait_for(ADDR_STATUS, Duration::from_secs(2))
        .and_then(|r| OscStatus::from_record(&r))
        .unwrap_or_else(|| {
            panic!(
                "no /sentio/status on the port set through VST3 ({}); got {} messages",
                osc.port(),
                osc.all().len()
            )
        });
    eprintln!("VST3 status: {st:?}");
    assert!(st.frames_processed > 0 && st.worker_alive == 1, "{st:?}");
    let voice: Vec<f32> = osc
        .messages(ADDR_VOICE)
        .iter()
        .filter_map(|r| r.value())
        .collect();
    assert!(
        voice.iter().any(|&v| v > 0.5),
        "VST3: /sentio/voice never above 0.5 on speech: {voice:?}"
    );
}
