//! Transcription of espeak-ng sentences (fixtures/speech, made by make_speech_fixtures.sh) with
//! the converted real models, bounded by word error rate; and error paths.

#![cfg(feature = "transcribe")]

mod common;

use sentio_speech::transcribe::{EncoderContext, DEFAULT_CONTEXT};
use sentio_speech::{loops, transcribe, wav, wer, Transcriber};
use std::time::Instant;

struct Utterance {
    id: String,
    text: String,
    samples: Vec<f32>,
}

fn utterances() -> Vec<Utterance> {
    let dir = common::fixtures().join("speech");
    let list = std::fs::read_to_string(dir.join("sentences.tsv")).unwrap();
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (id, text) = line.split_once('\t').expect("id<TAB>text");
            let audio = wav::read(&dir.join(format!("{id}.wav"))).unwrap();
            assert_eq!(
                audio.sample_rate as usize,
                transcribe::SAMPLE_RATE,
                "{id}.wav"
            );
            Utterance {
                id: id.to_owned(),
                text: text.to_owned(),
                samples: audio.samples,
            }
        })
        .collect()
}

/// Transcribes every fixture with `context`, prints per-sentence and overall WER and the
/// real-time factor, and returns the overall WER.
fn corpus_wer(model: &str, context: EncoderContext) -> f64 {
    let path = common::ggml_model(model);
    let mut t = Transcriber::load(&path, Some("en")).expect("loading the model");
    t.set_encoder_context(context);
    let (mut errors, mut words, mut audio_s, mut wall_s) = (0, 0, 0.0, 0.0);
    for u in utterances() {
        let start = Instant::now();
        let segments = t.transcribe(&u.samples).expect("transcription failed");
        wall_s += start.elapsed().as_secs_f64();
        audio_s += u.samples.len() as f64 / transcribe::SAMPLE_RATE as f64;

        let hyp = transcribe::join_text(&segments);
        let duration = u.samples.len() as f64 / transcribe::SAMPLE_RATE as f64;
        assert!(!loops::looks_looped(&hyp, duration), "{}: {hyp:?}", u.id);
        let (e, n) = wer::errors(&u.text, &hyp);
        println!(
            "{model} {:8} WER {:5.1} %  {hyp:?}",
            u.id,
            100.0 * e as f64 / n as f64
        );
        assert!(!segments.is_empty(), "{}: no segments", u.id);
        for s in &segments {
            assert!(s.start_s >= 0.0 && s.end_s >= s.start_s, "{s:?}");
        }
        errors += e;
        words += n;
    }
    let overall = errors as f64 / words as f64;
    println!(
        "{model} ({context:?}): WER {:.1} % ({errors}/{words} words), real-time factor {:.2}, {} loops redone",
        100.0 * overall,
        wall_s / audio_s,
        t.retries()
    );
    overall
}

// Measured on these six robotic espeak-ng sentences (62 words, greedy decoding): tiny.en
// 17.7 % (11 errors), base 12.9 % (8 errors), nearly all in two sentences. The bounds leave
// ~7 words of slack for other CPUs' kernels; a broken conversion scores near 100 %.
// The shipped context (the utterance plus a margin) is held to the same bounds as the full
// window; with no margin at all the loop guard must still leave no loop in the output.
#[test]
fn tiny_en_transcribes_espeak_sentences() {
    for context in [EncoderContext::Full, DEFAULT_CONTEXT] {
        let wer = corpus_wer("tiny.en", context);
        assert!(
            wer <= 0.30,
            "tiny.en {context:?} WER {:.1} % > 30 %",
            100.0 * wer
        );
    }
    corpus_wer("tiny.en", EncoderContext::Fit { margin_s: 0.0 });
}

#[test]
fn base_transcribes_espeak_sentences() {
    for context in [EncoderContext::Full, DEFAULT_CONTEXT] {
        let wer = corpus_wer("base", context);
        assert!(
            wer <= 0.25,
            "base {context:?} WER {:.1} % > 25 %",
            100.0 * wer
        );
    }
}

#[test]
fn unknown_language_is_an_error() {
    let err = Transcriber::load(&common::ggml_model("base"), Some("xx")).err();
    assert!(format!("{err:?}").contains("unknown language"), "{err:?}");
}

#[test]
fn missing_model_is_an_error() {
    let missing = common::models_dir().join("no-such-model/ggml-none.bin");
    let err = Transcriber::load(&missing, None)
        .err()
        .expect("loaded a missing file");
    assert!(format!("{err:#}").contains("no-such-model"), "{err:#}");
}

#[test]
fn corrupt_model_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();

    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, b"this is not a model").unwrap();
    assert!(Transcriber::load(&garbage, None).is_err());

    // A real header whose tensors are cut short: whisper.cpp would read past the end.
    let real = common::ggml_model("tiny.en");
    let bytes = std::fs::read(real).unwrap();
    let truncated = dir.join("truncated.bin");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Transcriber::load(&truncated, None)
        .err()
        .expect("loaded a truncated file");
    assert!(format!("{err:#}").contains("past the end"), "{err:#}");
}

#[test]
fn empty_and_short_input() {
    let mut t = Transcriber::load(&common::ggml_model("tiny.en"), Some("en")).unwrap();
    assert!(t.transcribe(&[]).unwrap().is_empty());
    // Half a second of silence: padded to whisper.cpp's 1 s minimum, no error.
    t.transcribe(&vec![0.0; 8_000]).unwrap();
    assert!(t.transcribe(&[f32::NAN; 100]).is_err());
}
