//! The emotion as host parameters under a real CLAP host: while the demo plays, the release
//! `.clap` reports the twelve output parameters as `CLAP_EVENT_PARAM_VALUE` events inside gestures
//! (what a DAW in write/touch mode records), at most at the chosen rate, with the values the OSC
//! sender sends; automation a host plays into them is refused, in `process()` and in `flush()`
//! alike, and answered with the value the plugin reported. (The debug bundle's allocation test runs
//! with them on, so `process()` sends them without allocating.)

use std::collections::BTreeMap;
use std::time::Duration;

use sentio::emotion::CLASSES;
use sentio_host_tests::audio;
use sentio_host_tests::contract::*;
use sentio_host_tests::{paths, serial, ClapHost, OscListener, ParamOut, RunOptions};

/// The OSC address that carries the same value as output parameter `i`, and how a parameter's
/// normalized value maps back onto the OSC value.
type ToOsc = fn(f64) -> f64;

fn osc_twin(i: usize) -> Option<(String, ToOsc)> {
    match i {
        0..=7 => Some((format!("/sentio/emotion/{}", CLASSES[i]), |v| v)),
        8 => Some(("/sentio/valence".into(), |v| v * 2.0 - 1.0)),
        9 => Some(("/sentio/arousal".into(), |v| v * 2.0 - 1.0)),
        // Voice activity changes every 10 ms frame: OSC and the host each sample it, rarely at the
        // same instant. The dominant class is compared by name below.
        _ => None,
    }
}

#[test]
fn output_parameters_reach_the_host_as_recorded_gestures_with_the_osc_values() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("osc_port");
    let ids: BTreeMap<u32, usize> = OUTPUT_PARAMS
        .iter()
        .enumerate()
        .map(|(i, id)| (host.param(id).expect(id).clap_id, i))
        .collect();
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 1024).expect("activate");
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 6.0).to_vec();
    let seconds = speech.len() as f64 / rate as f64;
    // Halfway through, the host plays automation into "happy" (as a DAW in read mode would).
    let blocks = speech.len() / 480;
    let res = host
        .process_signal(
            &[&speech, &speech],
            &mut std::iter::repeat(480),
            &mut RunOptions {
                paced: true,
                param_changes: vec![(blocks / 2, "out_happy", 0.987)],
                ..Default::default()
            },
        )
        .expect("process");
    std::thread::sleep(Duration::from_millis(300));
    audio::assert_bit_exact(&speech, &res.outputs[0], "speech, left");
    let events = host.take_param_out();

    // Every report is a whole gesture: begin, value, end, for the same parameter. The one value
    // outside a gesture is the answer to the host's automation: the value "happy" held then.
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); OUTPUT_PARAMS.len()];
    let mut answers = Vec::new();
    let mut i = 0;
    while i < events.len() {
        match events[i..] {
            [ParamOut::GestureBegin { clap_id: a }, ParamOut::Value { clap_id: b, value }, ParamOut::GestureEnd { clap_id: c }, ..]
                if a == b && b == c =>
            {
                let slot = *ids
                    .get(&a)
                    .unwrap_or_else(|| panic!("output event for a non-output parameter {a}"));
                values[slot].push(value);
                i += 3;
            }
            [ParamOut::Value { clap_id, value }, ..] => {
                answers.push((ids.get(&clap_id).copied(), value, values[2].last().copied()));
                i += 1;
            }
            _ => panic!("not a begin/value/end gesture at {i}: {:?}", &events[i..]),
        }
    }
    assert_eq!(
        answers.len(),
        1,
        "one answer to one automation point: {answers:?}"
    );
    let (slot, answered, reported) = answers[0];
    assert_eq!(slot, Some(2), "the answer is for happy");
    assert_eq!(
        Some(answered),
        reported,
        "the answer is the value the plugin last reported"
    );
    let max_updates = (seconds * 30.0).ceil() as usize + 1;
    for (i, v) in values.iter().enumerate() {
        let id = OUTPUT_PARAMS[i];
        // The dominant class changes only when the speaker's emotion does (4–5 times in this
        // excerpt); the continuous values change with nearly every analysis hop.
        let at_least = if i == 11 { 2 } else { 5 };
        assert!(
            v.len() >= at_least,
            "{id}: only {} updates in {seconds:.1} s",
            v.len()
        );
        assert!(
            v.len() <= max_updates,
            "{id}: {} updates, more than 30 Hz allows ({max_updates})",
            v.len()
        );
        let (lo, hi) = if i == 11 { (0.0, 7.0) } else { (0.0, 1.0) };
        assert!(v.iter().all(|x| (lo..=hi).contains(x)), "{id}: {v:?}");
        // Only changes are sent.
        let repeats = v.windows(2).filter(|w| w[0] == w[1]).count();
        assert_eq!(
            repeats, 0,
            "{id}: {repeats} values were sent twice in a row"
        );
        eprintln!("{id}: {} updates in {seconds:.1} s", v.len());
    }

    // The values are the ones the OSC sender sent (both read the same analysis).
    for (i, v) in values.iter().enumerate() {
        let Some((addr, to_osc)) = osc_twin(i) else {
            continue;
        };
        let sent: Vec<f64> = osc
            .messages(&addr)
            .iter()
            .filter_map(|m| m.value().map(f64::from))
            .collect();
        assert!(!sent.is_empty(), "no {addr}");
        let matched = v
            .iter()
            .filter(|x| sent.iter().any(|s| (to_osc(**x) - s).abs() < 1e-4))
            .count();
        // The host parameters and the OSC sender poll the shared state each at their own
        // moments, so a value the analysis replaced between two OSC sends reaches only the
        // host: allow one such miss, or 5 % of a longer run.
        let missed = v.len() - matched;
        assert!(
            missed <= (v.len() / 20).max(1),
            "{}: only {matched} of {} values were also sent as {addr}",
            OUTPUT_PARAMS[i],
            v.len()
        );
    }
    let names: Vec<String> = osc
        .messages("/sentio/dominant")
        .iter()
        .filter_map(|m| match &m.args[0] {
            rosc::OscType::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    for d in &values[11] {
        let name = CLASSES[*d as usize];
        assert!(
            names.iter().any(|n| n == name),
            "dominant {name} reported to the host but never sent as OSC"
        );
    }

    // The automation played into "happy" is not what the plugin reports or sends: its values
    // afterwards still follow the model.
    assert!(
        !values[2].contains(&0.987),
        "the plugin echoed the host's automation"
    );
    assert!(
        osc.messages("/sentio/emotion/happy")
            .iter()
            .all(|m| m.value().is_some_and(|x| (x - 0.987).abs() > 1e-6)),
        "host automation leaked into the analysis"
    );
    // The host's view of each parameter is the last value the plugin reported.
    let last_happy = *values[2].last().unwrap();
    let now = host.param_normalized("out_happy").expect("out_happy");
    assert!(
        (now - last_happy).abs() < 1e-6,
        "host sees {now}, last report {last_happy}"
    );
}

#[test]
fn output_parameters_can_be_switched_off() {
    let _g = serial();
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OUTPUT_PARAMS_ON, bool_normalized(false))
        .expect("off");
    host.set_param(OSC_ON, bool_normalized(false)).expect("osc");
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 1024).expect("activate");
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 3.0).to_vec();
    host.process_paced(&speech, 480).expect("process");
    assert_eq!(host.take_param_out(), vec![], "outputs off, nothing sent");
}

/// What clap-validator's `param-set-events` checks: a host write reaches the same end through
/// `params.flush()` as through `process()`. For an output the end is "refused": the plugin keeps
/// its own value (here, before any analysis, the default), while an ordinary parameter changes.
#[test]
fn host_writes_to_outputs_are_refused_in_flush_as_in_process() {
    let _g = serial();
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    let voice = "out_voice";
    let default = host.param_normalized(voice).expect("voice");
    // Inactive: delivered through params.flush().
    host.set_param(voice, 0.575).expect("set");
    host.set_param(OSC_ON, bool_normalized(false)).expect("osc");
    assert_eq!(host.param_normalized(voice).unwrap(), default, "flush");
    assert_eq!(
        host.param_normalized(OSC_ON).unwrap(),
        bool_normalized(false),
        "an ordinary parameter still takes the host's value"
    );
    // Active: once through flush, once inside a process() block of silence.
    host.activate(48_000.0, 1, 1024).expect("activate");
    host.set_param(voice, 0.575).expect("set");
    host.flush_params().expect("flush");
    assert_eq!(
        host.param_normalized(voice).unwrap(),
        default,
        "active flush"
    );
    host.set_param(voice, 0.575).expect("set");
    host.process_paced(&vec![0.0; 4800], 480).expect("process");
    assert_eq!(
        host.param_normalized(voice).unwrap(),
        0.0,
        "process: silence"
    );
    let answers: Vec<_> = host
        .take_param_out()
        .into_iter()
        .filter(|e| matches!(e, ParamOut::Value { value, .. } if *value == 0.575))
        .collect();
    assert_eq!(answers, vec![], "the host's value was never echoed");
}
