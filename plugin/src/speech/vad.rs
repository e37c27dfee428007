//! Voice activity for cutting utterances: Silero VAD (ONNX, fetched by `cargo xtask setup`).
//!
//! The analysis worker's energy-based voice activity is enough for prosody, but it fires on any
//! loud sound; Whisper calls are expensive and hallucinate on noise, so the speech path uses a
//! trained detector. Silero's v5/v6 graph takes 512 new samples at 16 kHz preceded by the last
//! 64 samples it saw (the context), and carries a recurrent state `[2, 1, 128]` between calls.

use std::path::Path;

use ort::session::Session;
use ort::value::Tensor;

use crate::emotion::runtime::{find, session_builder, Device};
use crate::emotion::ExecutionBackend;

/// New samples per call.
pub const CHUNK: usize = 512;
const CONTEXT: usize = 64;
const STATE: usize = 2 * 128;

/// Speech probability per chunk of [`CHUNK`] samples at 16 kHz.
pub trait VoiceDetector: Send {
    fn speech_probability(&mut self, chunk: &[f32]) -> Result<f32, String>;
    /// Forget the stream so far.
    fn reset(&mut self);
}

pub struct SileroVad {
    session: Session,
    state: Vec<f32>,
    input: Vec<f32>,
    backend: ExecutionBackend,
    note: String,
}

impl SileroVad {
    /// The model `cargo xtask setup` put in `models/vad/` (or `$SENTIO_VAD_MODEL`, or the data
    /// folder's `vad/silero_vad.onnx`).
    pub fn load(device: Device) -> Result<Self, String> {
        let path = find(
            "SENTIO_VAD_MODEL",
            "vad/silero_vad.onnx",
            "models/vad/silero_vad.onnx",
            "Silero VAD model",
            "run `cargo xtask setup` in the Sentio source tree",
        )?;
        Self::load_from(&path, device)
    }

    pub fn load_from(path: &Path, device: Device) -> Result<Self, String> {
        let (mut builder, backend, note) = session_builder(device)?;
        let session = builder
            .commit_from_file(path)
            .map_err(|e| format!("cannot load the VAD model {}: {e}", path.display()))?;
        Ok(Self {
            session,
            state: vec![0.0; STATE],
            input: vec![0.0; CONTEXT + CHUNK],
            backend,
            note,
        })
    }

    pub fn backend(&self) -> ExecutionBackend {
        self.backend
    }

    pub fn note(&self) -> &str {
        &self.note
    }
}

impl VoiceDetector for SileroVad {
    fn speech_probability(&mut self, chunk: &[f32]) -> Result<f32, String> {
        if chunk.len() != CHUNK {
            return Err(format!(
                "VAD chunks are {CHUNK} samples, got {}",
                chunk.len()
            ));
        }
        // The input buffer's first CONTEXT samples are the previous chunk's last ones.
        self.input.copy_within(CHUNK.., 0);
        for (dst, x) in self.input[CONTEXT..].iter_mut().zip(chunk) {
            *dst = if x.is_finite() {
                x.clamp(-1.0, 1.0)
            } else {
                0.0
            };
        }
        let err = |e: ort::Error| format!("VAD: {e}");
        let input =
            Tensor::from_array(([1usize, CONTEXT + CHUNK], self.input.clone())).map_err(err)?;
        let state = Tensor::from_array(([2usize, 1, 128], self.state.clone())).map_err(err)?;
        let sr = Tensor::from_array(((), vec![super::SAMPLE_RATE as i64])).map_err(err)?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
            .map_err(err)?;
        let (_, p) = outputs["output"].try_extract_tensor::<f32>().map_err(err)?;
        let p = p.first().copied().unwrap_or(0.0);
        let (_, new_state) = outputs["stateN"].try_extract_tensor::<f32>().map_err(err)?;
        if new_state.len() == STATE && new_state.iter().all(|x| x.is_finite()) {
            self.state.copy_from_slice(new_state);
        } else {
            self.state.fill(0.0);
        }
        Ok(if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        })
    }

    fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }
}
