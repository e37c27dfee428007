//! The shipped acoustic model running live inside the release `.clap` under a real host: emotion
//! OSC messages and MIDI CC appear while someone speaks (the debug bundle's child process runs the
//! same model while `assert_process_allocs` watches `process()`).

use std::time::Duration;

use rosc::OscType;
use sentio::emotion::CLASSES;
use sentio_host_tests::audio;
use sentio_host_tests::contract::*;
use sentio_host_tests::{paths, serial, ClapHost, OscListener};

#[test]
fn emotion_reaches_osc_and_midi_while_speech_plays() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("osc_port");
    let rate = 44_100u32;
    host.activate(rate as f64, 1, 1024).expect("activate");
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 3.0).to_vec();
    let res = host.process_paced(&speech, 441).expect("process");
    std::thread::sleep(Duration::from_millis(200));
    audio::assert_bit_exact(&speech, &res.outputs[0], "speech, left");

    for class in CLASSES {
        let msgs = osc.messages(&format!("/sentio/emotion/{class}"));
        assert!(!msgs.is_empty(), "no /sentio/emotion/{class}");
        assert!(msgs
            .iter()
            .all(|m| m.value().is_some_and(|v| (0.0..=1.0).contains(&v))));
    }
    let probs = osc.messages("/sentio/probs");
    let last = probs.last().expect("/sentio/probs");
    assert_eq!(last.args.len(), 8);
    let sum: f32 = last.args.iter().map(|a| a.clone().float().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}");
    let dominant = osc.messages("/sentio/dominant");
    let d = dominant.last().expect("/sentio/dominant");
    match (&d.args[0], &d.args[1]) {
        (OscType::String(s), OscType::Float(p)) => {
            assert!(
                CLASSES.contains(&s.as_str()) && (0.0..=1.0).contains(p),
                "{d:?}"
            )
        }
        _ => panic!("/sentio/dominant args {:?}", d.args),
    }
    for addr in ["/sentio/valence", "/sentio/arousal"] {
        let v = osc.messages(addr);
        assert!(!v.is_empty(), "no {addr}");
        assert!(v
            .iter()
            .all(|m| m.value().is_some_and(|x| (-1.0..=1.0).contains(&x))));
    }
    let ccs: std::collections::BTreeSet<u8> = res.midi.iter().map(|m| m.cc).collect();
    for cc in 23..=34 {
        assert!(ccs.contains(&cc), "MIDI CC {cc} never sent; got {ccs:?}");
    }
}
