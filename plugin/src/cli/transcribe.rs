//! `sentio transcribe FILE`: the plugin's speech path over a file — the front end's 16 kHz audio,
//! Silero VAD cutting utterances exactly as live, Whisper, and the text emotion of each utterance.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use super::decode::decode;
use crate::dsp::{Capture, HOP_LENGTH, WIN_LENGTH};
use crate::emotion::runtime::Device;
use crate::speech::models::{SpeechOptions, WhisperModel, WhisperTranscriber};
use crate::speech::utterance::{CutterConfig, Utterance, UtteranceCutter};
use crate::speech::vad::{SileroVad, VoiceDetector, CHUNK};
use crate::speech::{words, ClassifyText, SAMPLE_RATE};
use crate::text::{TextEmotion, TEXT_CLASSES};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TranscriptFormat {
    /// The words only, one utterance per line.
    Text,
    /// One JSON object: segments with start, end, text and text-emotion probabilities.
    Json,
}

#[derive(clap::Args)]
pub struct TranscribeArgs {
    /// WAV, FLAC or MP3 file (any sample rate, any channel count).
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = WhisperModel::TinyEn)]
    pub model: WhisperModel,
    /// Spoken language: an ISO code (en, de, fr, …) or "auto" (base model only; tiny.en is
    /// English).
    #[arg(long, default_value = "en")]
    pub language: String,
    #[arg(long, value_enum, default_value_t = TranscriptFormat::Text)]
    pub format: TranscriptFormat,
    /// Where the VAD and text models run.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Also write the output to this file (transcripts are otherwise never stored).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Serialize)]
struct SegmentRow {
    start: f64,
    end: f64,
    text: String,
    /// Text-emotion probabilities of the utterance the segment belongs to; absent when it has
    /// no real words.
    text_probs: Option<BTreeMap<&'static str, f32>>,
}

#[derive(Serialize)]
struct Report {
    file: String,
    model: &'static str,
    language: String,
    duration_s: f64,
    segments: Vec<SegmentRow>,
}

pub fn language_option(language: &str) -> Option<String> {
    (language != "auto").then(|| language.to_string())
}

/// The 16 kHz mono audio the plugin's speech path sees, and the stream position of its first
/// sample (the front end's first window hides `WIN_LENGTH - HOP_LENGTH` samples).
fn pcm_16k(file: &std::path::Path) -> Result<(Vec<f32>, u64, f64)> {
    let audio = decode(file)?;
    let mut capture = Capture::new(audio.sample_rate as f32).map_err(anyhow::Error::msg)?;
    let mut pcm = Vec::with_capacity(audio.frames() * SAMPLE_RATE / audio.sample_rate as usize);
    capture.process(&audio.channels, |f| pcm.extend_from_slice(&f.pcm));
    Ok((pcm, (WIN_LENGTH - HOP_LENGTH) as u64, audio.duration_s()))
}

/// Utterances as the live speech worker would cut them.
pub fn cut(vad: &mut dyn VoiceDetector, pcm: &[f32], first_sample: u64) -> Vec<Utterance> {
    let mut cutter = UtteranceCutter::new(CutterConfig::default());
    cutter.set_position(first_sample);
    let mut out = Vec::new();
    for chunk in pcm.chunks_exact(CHUNK) {
        // A failing VAD call counts as silence, as live.
        let p = vad.speech_probability(chunk).unwrap_or(0.0);
        out.extend(cutter.push(chunk, p));
    }
    out.extend(cutter.flush());
    out
}

pub fn run(args: &TranscribeArgs) -> Result<()> {
    let (pcm, first, duration_s) = pcm_16k(&args.file)?;
    let options = SpeechOptions {
        model: args.model,
        language: language_option(&args.language),
        device: args.device,
    };
    let mut vad = SileroVad::load(args.device).map_err(anyhow::Error::msg)?;
    let mut whisper = WhisperTranscriber::load(&options, None).map_err(anyhow::Error::msg)?;
    let mut text = TextEmotion::load_on(args.device).map_err(anyhow::Error::msg)?;

    let mut segments = Vec::new();
    for u in cut(&mut vad, &pcm, first) {
        let start = u.start_sample as f64 / SAMPLE_RATE as f64;
        let found = whisper.segments(&u.samples).map_err(anyhow::Error::msg)?;
        // The utterance's evidence, as the plugin computes it (laughter, unsure single words).
        let joined = sentio_speech::transcribe::join_text(&found);
        let probs = match words::read(&joined) {
            Some(w) => words::evidence(&w, |t| ClassifyText::classify(&mut text, t))
                .map_err(anyhow::Error::msg)?,
            None => None,
        };
        for s in found {
            let Some(t) = words::meaningful(&s.text) else {
                continue;
            };
            let end = (start + s.end_s as f64).min(u.end_sample() as f64 / SAMPLE_RATE as f64);
            segments.push(SegmentRow {
                start: start + s.start_s as f64,
                end,
                text: t,
                text_probs: probs.map(|p| TEXT_CLASSES.iter().copied().zip(p).collect()),
            });
        }
    }

    let mut output = Vec::new();
    match args.format {
        TranscriptFormat::Text => {
            for s in &segments {
                writeln!(output, "{}", s.text)?;
            }
        }
        TranscriptFormat::Json => {
            let report = Report {
                file: args.file.display().to_string(),
                model: args.model.name(),
                language: args.language.clone(),
                duration_s,
                segments,
            };
            serde_json::to_writer(&mut output, &report)?;
            writeln!(output)?;
        }
    }
    std::io::stdout().lock().write_all(&output)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &output)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
