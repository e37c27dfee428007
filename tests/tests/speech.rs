//! The words, live in the release `.clap` under a real host: a synthesized spoken sentence
//! (espeak-ng, `tests/fixtures/happy.wav`) produces `/sentio/transcript` with its words and the
//! seven `/sentio/text/*` probabilities over OSC, and with Text Weight 1 the emotion outputs follow
//! the words where Text Weight 0 leaves them to the voice. While the sentence is still being
//! spoken, `/sentio/transcript/partial` carries its first words.

use std::time::{Duration, Instant};

use rosc::OscType;
use sentio::emotion::CLASSES;
use sentio::text::TEXT_CLASSES;
use sentio_host_tests::contract::*;
use sentio_host_tests::{audio, paths, serial, ClapHost, OscListener};

const RATE: u32 = 48_000;

/// The fixture at the host rate, with silence around it so the VAD can close the utterance.
fn sentence() -> Vec<f32> {
    let path = paths::workspace_root().join("tests/fixtures/happy.wav");
    let (x, rate) = audio::decode_to_mono(&path).expect("tests/fixtures/happy.wav");
    let x = audio::resample(&x, rate, RATE).expect("resample");
    let pad = |secs: f64| vec![0.0f32; (secs * RATE as f64) as usize];
    [pad(0.5), x, pad(1.5)].concat()
}

struct Run {
    transcript: String,
    /// `/sentio/transcript/partial` texts received before the transcript.
    partials: Vec<String>,
    text: Vec<f32>,
    /// `/sentio/probs` of the last bundle.
    probs: Vec<f32>,
}

/// Plays the sentence into a fresh plugin with `text_weight` and waits for its transcript.
fn run(text_weight: f64) -> Run {
    let osc = OscListener::bind().expect("bind");
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("osc_port");
    host.set_param(TEXT_WEIGHT, text_weight)
        .expect("text_weight");
    host.activate(RATE as f64, 1, 1024).expect("activate");
    let x = sentence();
    let res = host.process_paced(&x, 480).expect("process");
    audio::assert_bit_exact(&x, &res.outputs[0], "speech, left");
    let t = osc
        .wait_for(ADDR_TRANSCRIPT, Duration::from_secs(60))
        .unwrap_or_else(|| {
            panic!(
                "no {ADDR_TRANSCRIPT} within 60 s; /sentio/speech: {:?}",
                osc.last(ADDR_SPEECH)
            )
        });
    let transcript = match &t.args[..] {
        [OscType::String(s)] => s.clone(),
        other => panic!("{ADDR_TRANSCRIPT} args {other:?}"),
    };
    let partials = osc
        .messages(ADDR_TRANSCRIPT_PARTIAL)
        .into_iter()
        .filter(|m| m.at <= t.at)
        .map(|m| match &m.args[..] {
            [OscType::String(s)] => s.clone(),
            other => panic!("{ADDR_TRANSCRIPT_PARTIAL} args {other:?}"),
        })
        .collect();
    // The analysis worker folds the text in within a tick; the next bundles carry it.
    let since = Instant::now() + Duration::from_millis(300);
    std::thread::sleep(Duration::from_millis(600));
    let text = TEXT_CLASSES
        .iter()
        .map(|c| {
            osc.last(&format!("/sentio/text/{c}"))
                .and_then(|m| m.value())
                .unwrap_or_else(|| panic!("no /sentio/text/{c}"))
        })
        .collect();
    let probs = osc
        .messages_between("/sentio/probs", since, Instant::now())
        .last()
        .expect("/sentio/probs after the transcript")
        .args
        .iter()
        .map(|a| a.clone().float().unwrap())
        .collect();
    assert_eq!(
        osc.count(ADDR_TRANSCRIPT),
        1,
        "one utterance, one transcript (each is sent once)"
    );
    Run {
        transcript,
        partials,
        text,
        probs,
    }
}

#[test]
fn a_spoken_sentence_gives_its_transcript_text_emotion_and_moves_the_fused_outputs() {
    let _g = serial();
    let words = run(1.0);
    eprintln!("transcript {:?}", words.transcript);
    eprintln!("text probs {:?}", words.text);
    eprintln!("fused probs (Text Weight 1) {:?}", words.probs);
    let lower = words.transcript.to_lowercase();
    for w in ["happy", "best", "day", "life"] {
        assert!(
            lower.contains(w),
            "{w:?} missing from {:?}",
            words.transcript
        );
    }
    // The 3.4 s sentence was heard while it was spoken: at least one partial, sent once each,
    // beginning as the transcript begins.
    eprintln!("partials {:?}", words.partials);
    assert!(!words.partials.is_empty(), "no {ADDR_TRANSCRIPT_PARTIAL}");
    let first_word = |t: &str| {
        t.split_whitespace().next().map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
    };
    assert_eq!(
        first_word(&words.partials[0]),
        first_word(&words.transcript),
        "{:?} vs {:?}",
        words.partials,
        words.transcript
    );
    // One per second of new speech at most, each sent once (not repeated with every bundle).
    assert!(words.partials.len() <= 4, "{:?}", words.partials);
    let joy = TEXT_CLASSES.iter().position(|c| *c == "joy").unwrap();
    assert!(words.text[joy] > 0.5, "text probs {:?}", words.text);
    assert!((words.text.iter().sum::<f32>() - 1.0).abs() < 1e-3);

    let voice = run(0.0);
    eprintln!("fused probs (Text Weight 0) {:?}", voice.probs);
    let happy = CLASSES.iter().position(|c| *c == "happy").unwrap();
    // Weight 1: the words decide (joy → happy, the other classes likewise).
    assert!(
        (words.probs[happy] - words.text[joy]).abs() < 0.02,
        "Text Weight 1 should follow the words: {:?} vs text {:?}",
        words.probs,
        words.text
    );
    // Weight 0: the voice alone, whatever the acoustic model makes of espeak's voice, which is
    // not the words' near-certain joy.
    let l1: f32 = words
        .probs
        .iter()
        .zip(&voice.probs)
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(
        l1 > 0.05,
        "fusion did not change the outputs: weight 1 {:?} vs weight 0 {:?}",
        words.probs,
        voice.probs
    );
    assert!((voice.probs.iter().sum::<f32>() - 1.0).abs() < 1e-3);
}
