//! Whisper transcription through whisper-rs (whisper.cpp, CPU).

use crate::ggml::GgmlFile;
use anyhow::{ensure, Context, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

pub const SAMPLE_RATE: usize = 16_000;
/// Whisper's encoder positions: 30 s at 50 per second (two mel frames each).
pub const FULL_CONTEXT: i32 = 1500;
const POSITIONS_PER_S: f32 = 50.0;

/// How much of Whisper's 30 s encoder window a call uses.
///
/// Whisper always sees 30 s: shorter audio is padded with silence, and encoding that padding is
/// most of the cost of a short utterance. whisper.cpp can encode only the first positions
/// (`audio_ctx`); the decoder then attends to fewer frames than it was trained on, which is
/// harmless with some margin past the speech and makes it repeat or drop words without.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EncoderContext {
    /// All 1500 positions, as Whisper was trained.
    Full,
    /// The audio's length plus `margin_s` seconds (at most the full window).
    Fit { margin_s: f32 },
}

/// Chosen on word error rate and loops (README, `cargo xtask bench`): with less silence after
/// the speech than about 3 s the decoder does not see the utterance end and repeats it.
pub const DEFAULT_CONTEXT: EncoderContext = EncoderContext::Fit { margin_s: 3.0 };
/// A cap on the tokens of a shortened call, per second of audio (fast speech is ~5 words, ~7
/// tokens a second): a loop ends there instead of at Whisper's 224 and is then redone.
const MAX_TOKENS_PER_S: f32 = 8.0;
/// The margin a looped call is redone with first (no loop in the bench from +5 s on), before the
/// full window: for a 3 s utterance that is half the full window's cost.
const RETRY_MARGIN_S: f32 = 10.0;

impl EncoderContext {
    /// Encoder positions for `samples` of 16 kHz audio.
    pub fn positions(self, samples: usize) -> i32 {
        match self {
            Self::Full => FULL_CONTEXT,
            Self::Fit { margin_s } => {
                let s = samples as f32 / SAMPLE_RATE as f32 + margin_s.max(0.0);
                ((s * POSITIONS_PER_S).ceil() as i32).clamp(1, FULL_CONTEXT)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_s: f32,
    pub end_s: f32,
    pub text: String,
}

pub struct Transcriber {
    state: WhisperState,
    // Kept for the context's lifetime guarantees; the state holds its own reference too.
    _ctx: WhisperContext,
    language: String,
    single_segment: bool,
    n_threads: i32,
    abort: Option<Arc<AtomicBool>>,
    context: EncoderContext,
    /// Calls whose shortened context looped and were transcribed again with the full one.
    retries: u64,
}

impl Transcriber {
    /// Loads a ggml model. `language` is an ISO code such as `"en"`; `None` lets a multilingual
    /// model detect it, at the cost of a second encoder pass per call. English-only models
    /// ignore it.
    pub fn load(ggml_path: &Path, language: Option<&str>) -> Result<Self> {
        // Without hooks whisper.cpp prints its load and timing logs on stderr. With whisper-rs'
        // default features the hooks discard them; SENTIO_WHISPER_LOG=1 keeps them for debugging.
        if std::env::var_os("SENTIO_WHISPER_LOG").is_none() {
            whisper_rs::install_logging_hooks();
        }
        // whisper.cpp aborts the process on some malformed files instead of failing, so the file
        // is checked here first.
        GgmlFile::open(ggml_path)?;
        let path = ggml_path
            .to_str()
            .context("model path is not valid UTF-8")?;
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .with_context(|| format!("whisper.cpp could not load {}", ggml_path.display()))?;
        let state = ctx.create_state().context("creating whisper state")?;
        // English-only models have no language token, and "auto" would make whisper.cpp run a
        // (meaningless) detection pass that doubles the encoder cost.
        let language = match language {
            _ if !ctx.is_multilingual() => "en",
            None => "auto",
            Some(code) => {
                ensure!(
                    whisper_rs::get_lang_id(code).is_some(),
                    "unknown language code `{code}`"
                );
                code
            }
        };
        // One core is left free: ggml's workers spin-wait at every barrier, so when they outnumber
        // the idle cores (an audio thread, the emotion worker, anything else) they starve each
        // other. On a loaded 2-core machine 2 threads ran 5-7x slower than 1.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n_threads = cores.saturating_sub(1).clamp(1, 8) as i32;
        Ok(Self {
            state,
            _ctx: ctx,
            language: language.to_owned(),
            single_segment: false,
            n_threads,
            abort: None,
            context: DEFAULT_CONTEXT,
            retries: 0,
        })
    }

    /// Forces one segment per call (for short real-time chunks).
    pub fn set_single_segment(&mut self, on: bool) {
        self.single_segment = on;
    }

    /// Worker threads for whisper.cpp (default: one fewer than the cores, at most 8).
    pub fn set_threads(&mut self, n: usize) {
        self.n_threads = n.max(1) as i32;
    }

    /// While `flag` is set, a running transcription stops early (and fails): a plugin being
    /// deactivated must not wait seconds for a sentence nobody will read.
    pub fn set_abort_flag(&mut self, flag: Arc<AtomicBool>) {
        self.abort = Some(flag);
    }

    /// The encoder context of later calls (default [`DEFAULT_CONTEXT`]).
    pub fn set_encoder_context(&mut self, context: EncoderContext) {
        self.context = context;
    }

    /// Redone calls so far: a shortened context that produced a loop is redone with a wider one
    /// (+10 s), and if that loops too, with the full window.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Transcribes 16 kHz mono samples in [-1, 1]. With a shortened encoder context, a
    /// transcript that looks like a decoder loop ([`crate::loops`]) is redone with a wider one,
    /// then with the full window.
    pub fn transcribe(&mut self, pcm_16k_mono: &[f32]) -> Result<Vec<Segment>> {
        if pcm_16k_mono.is_empty() {
            return Ok(Vec::new());
        }
        ensure!(
            pcm_16k_mono.iter().all(|x| x.is_finite()),
            "audio contains NaN or infinite samples"
        );
        // whisper.cpp silently returns nothing for less than 1 s of audio (100 mel frames).
        let min_len = SAMPLE_RATE + SAMPLE_RATE / 10;
        let padded;
        let pcm = if pcm_16k_mono.len() < min_len {
            padded = [pcm_16k_mono, &vec![0.0; min_len - pcm_16k_mono.len()]].concat();
            &padded
        } else {
            pcm_16k_mono
        };
        let duration_s = pcm_16k_mono.len() as f64 / SAMPLE_RATE as f64;
        let first = self.context.positions(pcm.len());
        let wider = EncoderContext::Fit {
            margin_s: RETRY_MARGIN_S,
        }
        .positions(pcm.len());
        // The shipped context, then a wider one, then the full window, until no loop.
        let mut segments = self.run(pcm, first)?;
        let mut last = first;
        for positions in [wider, FULL_CONTEXT] {
            let looped = crate::loops::looks_looped(&join_text(&segments), duration_s);
            if !looped || positions <= last {
                continue;
            }
            self.retries += 1;
            segments = self.run(pcm, positions)?;
            last = positions;
        }
        Ok(segments)
    }

    /// One whisper.cpp call over `pcm` (at least 1.1 s) with `positions` encoder positions.
    fn run(&mut self, pcm: &[f32], positions: i32) -> Result<Vec<Segment>> {
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_language(Some(&self.language));
        params.set_n_threads(self.n_threads);
        params.set_no_timestamps(false);
        params.set_single_segment(self.single_segment);
        params.set_suppress_blank(true);
        // Each call stands alone: text from earlier calls must not steer (or loop) this one.
        params.set_no_context(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_audio_ctx(positions);
        if positions < FULL_CONTEXT {
            // No temperature fallback (the peer, faster-whisper at temperature 0, has none
            // either): a shortened call that goes wrong loops, which [`crate::loops`] catches and
            // the full window redoes — once, instead of up to five re-decodes here.
            params.set_temperature_inc(0.0);
            let seconds = pcm.len() as f32 / SAMPLE_RATE as f32;
            params.set_max_tokens((8.0 + MAX_TOKENS_PER_S * seconds).ceil() as i32);
        }
        if let Some(flag) = &self.abort {
            // whisper-rs 0.16's `set_abort_callback_safe` casts its boxed `dyn FnMut` back to
            // the concrete closure type (a type confusion that made encoding fail at random),
            // so the flag is passed directly: `self.abort` keeps it alive for the call.
            unsafe extern "C" fn aborted(flag: *mut std::ffi::c_void) -> bool {
                // SAFETY: `flag` is the `Arc<AtomicBool>` held by `self.abort` during `full`.
                unsafe { (*(flag as *const AtomicBool)).load(Ordering::Relaxed) }
            }
            // SAFETY: the callback only reads the flag, which outlives `self.state.full` below.
            unsafe {
                params.set_abort_callback(Some(aborted));
                params.set_abort_callback_user_data(Arc::as_ptr(flag) as *mut std::ffi::c_void);
            }
        }

        self.state
            .full(params, pcm)
            .context("whisper.cpp transcription failed")?;

        let mut segments = Vec::new();
        for seg in self.state.as_iter() {
            let text = seg
                .to_str_lossy()
                .context("reading segment text")?
                .trim()
                .to_owned();
            if text.is_empty() {
                continue;
            }
            // whisper.cpp reports times in centiseconds.
            segments.push(Segment {
                start_s: seg.start_timestamp() as f32 / 100.0,
                end_s: seg.end_timestamp() as f32 / 100.0,
                text,
            });
        }
        Ok(segments)
    }
}

/// All segments' text joined with spaces.
pub fn join_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

// Transcription runs on a worker thread, never the audio thread: keep the type movable there.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Transcriber>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fitted_context_covers_the_audio_plus_its_margin_within_the_window() {
        let fit = EncoderContext::Fit { margin_s: 1.0 };
        assert_eq!(fit.positions(2 * SAMPLE_RATE), 150);
        assert_eq!(fit.positions(SAMPLE_RATE / 100), 51); // 10 ms rounds up
        assert_eq!(fit.positions(40 * SAMPLE_RATE), FULL_CONTEXT);
        assert_eq!(EncoderContext::Full.positions(1), FULL_CONTEXT);
        // A negative margin is no margin.
        let none = EncoderContext::Fit { margin_s: -3.0 };
        assert_eq!(none.positions(SAMPLE_RATE), 50);
    }
}
