//! The release CLAP bundle: bit-exact passthrough at 44.1/48 kHz for every block size, MIDI CC
//! output, the mono layout, and the OSC outputs on real speech followed by silence.

use std::time::{Duration, Instant};

use sentio_host_tests::audio::{self, BlockPlan};
use sentio_host_tests::clap_host::RunOptions;
use sentio_host_tests::contract::*;
use sentio_host_tests::{paths, serial, ClapHost, Layout, MidiCc, OscListener, OscRecord};

/// Longest stretch of demo audio a single block-size run processes (block size 1 gets less).
const RUN_SECS: f64 = 30.0;
const RUN_SECS_BLOCK_1: f64 = 5.0;

fn plans() -> Vec<(BlockPlan, f64)> {
    vec![
        (BlockPlan::Fixed(1), RUN_SECS_BLOCK_1),
        (BlockPlan::Fixed(64), RUN_SECS),
        (BlockPlan::Fixed(512), RUN_SECS),
        (BlockPlan::Fixed(4096), RUN_SECS),
        (
            BlockPlan::Random {
                seed: 0x5e17_0001,
                max: 8192,
            },
            RUN_SECS,
        ),
    ]
}

fn ccs_present(midi: &[MidiCc]) -> [bool; 3] {
    [CC_VOICE, CC_LEVEL, CC_PITCH].map(|cc| midi.iter().any(|m| m.cc == cc))
}

#[test]
fn passthrough_is_bit_exact_for_every_rate_and_block_size() {
    let _g = serial();
    let d = audio::demo();
    eprintln!("demo: {} ({:.1} s)", d.source, d.seconds());
    // One instance, deactivated and re-activated at the second rate.
    let mut host = ClapHost::load(&paths::release_clap()).expect("load release .clap");
    assert_eq!(host.channels(), (2, 2), "default layout must be stereo");
    for rate in [44_100u32, 48_000] {
        host.activate(rate as f64, 1, 8192).expect("activate");
        let demo = audio::demo_at(rate);
        let mut all_midi = Vec::new();
        for (plan, secs) in plans() {
            let x = audio::head(&demo, rate, secs);
            let [l, r] = audio::stereo_from_mono(x);
            let t0 = Instant::now();
            let res = host
                .process_signal(&[&l, &r], &mut plan.sizes(), &mut RunOptions::default())
                .unwrap_or_else(|e| panic!("{rate} Hz, {plan}: {e:#}"));
            eprintln!(
                "{rate} Hz, {plan}: {} blocks in {:.2} s, longest process() {:?}, {} CCs",
                res.blocks,
                t0.elapsed().as_secs_f64(),
                res.max_process_time,
                res.midi.len()
            );
            audio::assert_bit_exact(&l, &res.outputs[0], &format!("{rate} Hz, {plan}, left"));
            audio::assert_bit_exact(&r, &res.outputs[1], &format!("{rate} Hz, {plan}, right"));
            all_midi.extend(res.midi);
        }
        let present = ccs_present(&all_midi);
        assert_eq!(
            present,
            [true; 3],
            "{rate} Hz: CC 20/21/22 must each be sent at least once (first block after \
             activation); got {} CCs: {:?}",
            all_midi.len(),
            &all_midi[..all_midi.len().min(20)]
        );
        for m in &all_midi {
            assert_eq!(
                m.channel, 0,
                "default midi_channel 1 → status nibble 0: {m:?}"
            );
            assert!(m.value <= 127 && CC_ALL.contains(&m.cc), "{m:?}");
        }
        host.deactivate();
    }
}

/// The contract's parameters exist under nice-plug's hashed ids, with the CLAP ranges nice-plug
/// gives stepped parameters (plain 0..=step_count), and changes arrive by flush and by event.
#[test]
fn parameters_match_the_contract_over_clap() {
    let _g = serial();
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    for p in host.params() {
        eprintln!(
            "param {:>10} {:?} [{}] {}..={} default {} stepped {}",
            p.clap_id, p.name, p.module, p.min, p.max, p.default, p.stepped
        );
    }
    // nice-plug computes CLAP values as an f32 normalized value × step count, so a stepped
    // parameter's CLAP value can be off an integer by ~1e-3 (osc_port's default reads
    // 8998.99978): compare to within 0.01.
    let near = |a: f64, b: f64| (a - b).abs() < 0.01;
    // (id, CLAP max = step count, CLAP default)
    let expected = [
        (OSC_ON, 1.0, 1.0),
        (OSC_PORT, 65534.0, 8999.0),
        (OSC_RATE, 59.0, 29.0),
        (MIDI_ON, 1.0, 1.0),
        (MIDI_CHANNEL, 15.0, 0.0),
    ];
    for (id, max, default) in expected {
        let p = host.param(id).unwrap_or_else(|e| panic!("{e:#}")).clone();
        assert!(
            p.stepped && p.min == 0.0 && p.max == max && near(p.default, default),
            "{id}: expected stepped 0..={max} default {default}, got {p:?}"
        );
        let v = host.param_value(id).unwrap();
        assert!(
            near(v, default),
            "{id} initial value {v}, expected {default}"
        );
    }
    let text = host.param_text(OSC_PORT, 8999.0).unwrap();
    assert!(
        text.contains("9000"),
        "osc_port 8999 (plain) should read 9000: {text:?}"
    );

    // Inactive: delivered by flush.
    host.set_param(OSC_RATE, rate_normalized(10)).unwrap();
    assert!(near(host.param_value(OSC_RATE).unwrap(), 9.0));
    host.activate(48_000.0, 1, 512).unwrap();
    // Active: queued, then delivered by flush_params().
    host.set_param(OSC_PORT, port_normalized(12345)).unwrap();
    host.flush_params().unwrap();
    assert!(near(host.param_value(OSC_PORT).unwrap(), 12344.0));
    // Active: as an event in a process() call.
    let x = vec![0.0f32; 128];
    let (mut l, mut r) = (vec![0.0f32; 128], vec![0.0f32; 128]);
    host.process(
        &[&x, &x],
        &mut [&mut l, &mut r],
        &[(MIDI_CHANNEL, midi_channel_normalized(16)), (OSC_ON, 0.0)],
    );
    assert!(near(host.param_value(MIDI_CHANNEL).unwrap(), 15.0));
    assert!(near(host.param_value(OSC_ON).unwrap(), 0.0));
    assert!(!host.restart_requested(), "no restart expected");
}

#[test]
fn first_block_after_activation_sends_every_cc_on_the_configured_channel() {
    let _g = serial();
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(MIDI_CHANNEL, midi_channel_normalized(5))
        .expect("set midi_channel");
    let plain = host.param_value(MIDI_CHANNEL).unwrap();
    host.activate(48_000.0, 1, 512).expect("activate");
    let x = vec![0.0f32; 256];
    let mut l = vec![0.0f32; 256];
    let mut r = vec![0.0f32; 256];
    let midi = host.process(&[&x, &x], &mut [&mut l, &mut r], &[]);
    assert_eq!(
        ccs_present(&midi),
        [true; 3],
        "first block after activation must carry CC 20, 21 and 22 (midi_channel CLAP value \
         {plain}); got {midi:?}"
    );
    assert!(
        midi.iter().all(|m| m.channel == 4),
        "midi_channel 5 → status nibble 4; got {midi:?}"
    );
    assert!(midi.iter().all(|m| m.time == 0), "timing 0: {midi:?}");
    host.deactivate();

    host.set_param(MIDI_ON, 0.0).expect("set midi_on");
    host.activate(48_000.0, 1, 512).expect("re-activate");
    let demo = audio::demo_at(48_000);
    let x = audio::speech_excerpt(&demo, 48_000, 1.0);
    let res = host
        .process_signal(
            &[x, x],
            &mut BlockPlan::Fixed(512).sizes(),
            &mut RunOptions::default(),
        )
        .expect("process");
    assert!(
        res.midi.is_empty(),
        "midi_on = false must silence MIDI output; got {:?}",
        &res.midi[..res.midi.len().min(10)]
    );
    audio::assert_bit_exact(x, &res.outputs[0], "midi off, left");
}

#[test]
fn mono_layout_passes_audio_bit_exact() {
    let _g = serial();
    let mut host =
        ClapHost::load_with_layout(&paths::release_clap(), Layout::Mono).expect("load mono");
    assert_eq!(host.channels(), (1, 1));
    host.activate(48_000.0, 1, 4096).expect("activate");
    let demo = audio::demo_at(48_000);
    let x = audio::head(&demo, 48_000, 3.0);
    let res = host
        .process_signal(
            &[x],
            &mut BlockPlan::Random { seed: 7, max: 4096 }.sizes(),
            &mut RunOptions::default(),
        )
        .expect("process");
    audio::assert_bit_exact(x, &res.outputs[0], "mono 48 kHz");
    assert_eq!(ccs_present(&res.midi), [true; 3], "{:?}", res.midi);
}

#[test]
fn osc_reports_voice_level_pitch_and_status_for_speech_then_silence() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind OSC listener");
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("set osc_port");
    let port_plain = host.param_value(OSC_PORT).unwrap();
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 1024).expect("activate");

    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 1.2).to_vec();
    let silence = vec![0.0f32; (rate as f64 * 1.5) as usize];
    eprintln!(
        "speech excerpt: {:.2} s at {:.1} dBFS RMS (demo: {})",
        speech.len() as f64 / rate as f64,
        audio::rms_dbfs(&speech),
        audio::demo().source
    );

    let t_speech = Instant::now();
    let res_speech = host.process_paced(&speech, 480).expect("process speech");
    let t_silence = Instant::now();
    let res_silence = host.process_paced(&silence, 480).expect("process silence");
    let t_end = Instant::now();
    // Let the last updates arrive.
    std::thread::sleep(Duration::from_millis(150));
    audio::assert_bit_exact(&speech, &res_speech.outputs[0], "speech, left");
    audio::assert_bit_exact(&silence, &res_silence.outputs[1], "silence, right");

    let all = osc.all();
    assert!(
        !all.is_empty(),
        "no OSC received on 127.0.0.1:{} (osc_port CLAP value {port_plain}) in {:.1} s",
        osc.port(),
        t_end.duration_since(t_speech).as_secs_f64()
    );
    let (datagrams, bad) = osc.datagram_counts();
    assert_eq!(
        bad, 0,
        "{bad} of {datagrams} datagrams did not decode as OSC"
    );

    // Every value must be finite and in its contract range, always.
    for r in &all {
        let v = r.value();
        match r.addr.as_str() {
            ADDR_VOICE => assert!(v.is_some_and(|v| (0.0..=1.0).contains(&v)), "{r:?}"),
            ADDR_LEVEL => assert!(v.is_some_and(|v| (-100.0..=0.0).contains(&v)), "{r:?}"),
            ADDR_PITCH => assert!(
                v.is_some_and(|v| v == 0.0 || v.is_finite() && v > 0.0),
                "{r:?}"
            ),
            _ => {}
        }
    }

    // Speech window: from the first speech block to 300 ms after the last (worker + OSC latency).
    let speech_to = t_silence + Duration::from_millis(300);
    let voice_sp = osc.messages_between(ADDR_VOICE, t_speech, speech_to);
    let level_sp = osc.messages_between(ADDR_LEVEL, t_speech, speech_to);
    let pitch_sp = osc.messages_between(ADDR_PITCH, t_speech, speech_to);
    let vals = |v: &[OscRecord]| -> Vec<f32> { v.iter().filter_map(|r| r.value()).collect() };
    let (voice_v, level_v, pitch_v) = (vals(&voice_sp), vals(&level_sp), vals(&pitch_sp));
    eprintln!("voice during speech: {voice_v:?}");
    eprintln!("level during speech: {level_v:?}");
    eprintln!("pitch during speech: {pitch_v:?}");
    assert!(
        voice_v.iter().any(|&v| v > 0.5),
        "/sentio/voice never exceeded 0.5 during speech: {voice_v:?}"
    );
    assert!(
        level_v.iter().any(|&v| v > -60.0 && v <= 0.0),
        "/sentio/level never within -60..0 dBFS during speech: {level_v:?}"
    );
    assert!(
        pitch_v.iter().any(|&v| (60.0..=500.0).contains(&v)),
        "/sentio/pitch never within 60..500 Hz during speech: {pitch_v:?}"
    );

    // End of silence.
    let last_voice = osc.last(ADDR_VOICE).expect("a /sentio/voice message");
    let last_pitch = osc.last(ADDR_PITCH).expect("a /sentio/pitch message");
    let last_level = osc.last(ADDR_LEVEL).expect("a /sentio/level message");
    assert!(
        last_voice.at >= t_end - Duration::from_millis(300),
        "OSC stopped updating during silence (last voice {:?} before the end)",
        t_end.saturating_duration_since(last_voice.at)
    );
    assert!(
        last_voice.value().unwrap() < 0.2,
        "/sentio/voice after 1.5 s of digital silence: {:?}",
        last_voice.value()
    );
    assert_eq!(
        last_pitch.value(),
        Some(0.0),
        "/sentio/pitch after 1.5 s of digital silence must be 0 (unvoiced)"
    );
    eprintln!("level at the end of silence: {:?}", last_level.value());

    let st = osc
        .last_status(ADDR_STATUS)
        .expect("a decodable /sentio/status (i frames_processed, i frames_dropped, i worker_alive, i osc_errors)");
    eprintln!("status at the end: {st:?}");
    assert!(st.frames_processed > 0, "{st:?}");
    assert_eq!(st.worker_alive, 1, "{st:?}");
    assert_eq!(
        st.frames_dropped, 0,
        "real-time paced input must not drop frames: {st:?}"
    );
    // 2.7 s fed → ~268 frames; allow the worker and OSC to lag a little.
    let fed = (speech.len() + silence.len()) as u64 * 16_000 / rate as u64;
    let expected = expected_frames(fed) as i64;
    assert!(
        st.frames_processed + st.frames_dropped >= expected - 40,
        "frames {:?} far below the {expected} the front end should have produced",
        st
    );

    // MIDI agrees: CC 20 went high during speech and ended low.
    let cc20: Vec<u8> = res_speech
        .midi
        .iter()
        .chain(&res_silence.midi)
        .filter(|m| m.cc == CC_VOICE)
        .map(|m| m.value)
        .collect();
    assert!(
        cc20.iter().any(|&v| v >= 64),
        "CC 20 (voice) never reached 64 during speech: {cc20:?}"
    );
    assert!(
        *cc20.last().unwrap() <= 25,
        "CC 20 (voice) should end near 0 after silence: {cc20:?}"
    );
    host.deactivate();
}
