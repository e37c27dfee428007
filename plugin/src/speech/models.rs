//! The real models behind the speech worker's seams: Whisper (whisper-rs) and the text-emotion
//! path, found like every other model file (see [`crate::emotion::runtime`]).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::vad::{SileroVad, VoiceDetector};
use super::{ClassifyText, LoadedTranscription, Transcribe};
use crate::emotion::runtime::{find, Device};
use crate::emotion::ExecutionBackend;
use crate::text::TextEmotion;
use crate::transcript::TextProbs;

/// The Whisper models `cargo xtask setup` converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum WhisperModel {
    /// tiny.en (39 M parameters, English only): about twice as fast as base.
    #[default]
    #[value(name = "tiny.en")]
    TinyEn,
    /// base (74 M parameters, multilingual).
    Base,
}

impl WhisperModel {
    pub fn name(self) -> &'static str {
        match self {
            Self::TinyEn => "tiny.en",
            Self::Base => "base",
        }
    }

    /// `$SENTIO_WHISPER_MODEL`, else `whisper/<name>/ggml-<name>.bin` in the data folder, else in
    /// the source tree's `models/`.
    pub fn find(self) -> Result<PathBuf, String> {
        let name = self.name();
        let rel = format!("whisper/{name}/ggml-{name}.bin");
        find(
            "SENTIO_WHISPER_MODEL",
            &rel,
            &format!("models/{rel}"),
            &format!("Whisper {name} model"),
            "run `cargo xtask setup` in the Sentio source tree",
        )
    }
}

/// What the speech worker loads.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechOptions {
    pub model: WhisperModel,
    /// ISO code ("en", "de", …); `None`: detect (multilingual models only; costs a second
    /// encoder pass per utterance). English-only models ignore it.
    pub language: Option<String>,
    /// Where the VAD and the text models run (the acoustic model's setting). Whisper runs on
    /// the CPU unless the build has the `whisper-cuda` feature.
    pub device: Device,
}

impl Default for SpeechOptions {
    fn default() -> Self {
        Self {
            model: WhisperModel::TinyEn,
            language: Some("en".into()),
            device: Device::Auto,
        }
    }
}

pub struct WhisperTranscriber(sentio_speech::Transcriber);

impl WhisperTranscriber {
    pub fn load(options: &SpeechOptions, abort: Option<Arc<AtomicBool>>) -> Result<Self, String> {
        let path = options.model.find()?;
        let mut t = sentio_speech::Transcriber::load(&path, options.language.as_deref())
            .map_err(|e| format!("{e:#}"))?;
        // Short utterances: one segment each keeps whisper.cpp from splitting mid-phrase.
        t.set_single_segment(true);
        if let Some(flag) = abort {
            t.set_abort_flag(flag);
        }
        Ok(Self(t))
    }

    /// Segments with their times (seconds from the start of `pcm`).
    pub fn segments(&mut self, pcm: &[f32]) -> Result<Vec<sentio_speech::Segment>, String> {
        self.0.transcribe(pcm).map_err(|e| format!("{e:#}"))
    }
}

impl Transcribe for WhisperTranscriber {
    fn transcribe(&mut self, pcm_16k: &[f32]) -> Result<String, String> {
        Ok(sentio_speech::transcribe::join_text(
            &self.segments(pcm_16k)?,
        ))
    }
}

impl ClassifyText for TextEmotion {
    fn classify(&mut self, text: &str) -> Result<TextProbs, String> {
        let p = self
            .probs(&[text])?
            .first()
            .copied()
            .ok_or("the text-emotion model returned nothing")?;
        if p.iter().any(|x| !x.is_finite()) {
            return Err("the text-emotion model returned non-finite probabilities".into());
        }
        Ok(p)
    }
}

fn backend_name(b: ExecutionBackend) -> &'static str {
    match b {
        ExecutionBackend::Cpu => "CPU",
        ExecutionBackend::Cuda => "CUDA",
    }
}

/// Whisper, then the text path; the label says what runs where.
pub fn load_transcription(
    options: &SpeechOptions,
    abort: Option<Arc<AtomicBool>>,
) -> Result<LoadedTranscription, String> {
    let whisper = WhisperTranscriber::load(options, abort)?;
    let text = TextEmotion::load_on(options.device)?;
    let whisper_on = if cfg!(feature = "whisper-cuda") {
        "GPU when available"
    } else {
        "CPU"
    };
    let label = format!("Whisper {} on {whisper_on}", options.model.name());
    Ok((Box::new(whisper), Box::new(text), label))
}

pub fn load_vad(device: Device) -> Result<(Box<dyn VoiceDetector>, String), String> {
    let vad = SileroVad::load(device)?;
    let mut label = format!("Silero VAD on {}", backend_name(vad.backend()));
    if !vad.note().is_empty() {
        label = format!("{label} ({})", vad.note());
    }
    Ok((Box::new(vad), label))
}
