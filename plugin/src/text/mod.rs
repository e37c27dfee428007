//! Text emotion: a sentence encoder (all-MiniLM-L6-v2, int8 ONNX) and the project's head on its
//! embeddings (`models/text/`), both through ONNX Runtime on a worker — never the audio thread.

use std::path::PathBuf;

use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;

use crate::emotion::runtime::{find, session_builder, Device};

/// The head's classes (Ekman-7), in its output order.
pub const TEXT_CLASSES: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
];
pub const EMBEDDING_DIM: usize = 384;
/// Longest input the encoder sees, in tokens (the tokenizer truncates).
const MAX_TOKENS: usize = 128;

pub type Embedding = [f32; EMBEDDING_DIM];

pub struct TextEmotion {
    tokenizer: Tokenizer,
    encoder: Session,
    head: Session,
}

fn session(path: &PathBuf, device: Device) -> Result<Session, String> {
    let (mut builder, _, _) = session_builder(device)?;
    builder
        .commit_from_file(path)
        .map_err(|e| format!("cannot load {}: {e}", path.display()))
}

impl TextEmotion {
    /// The encoder and tokenizer fetched by `cargo xtask setup`, and the shipped head, on CPU.
    pub fn load() -> Result<Self, String> {
        Self::load_on(Device::Cpu)
    }

    /// As [`Self::load`], on `device` (CUDA falls back to CPU like the acoustic model).
    pub fn load_on(device: Device) -> Result<Self, String> {
        let fix = "run `cargo xtask setup` in the Sentio source tree";
        let encoder = find(
            "SENTIO_TEXT_ENCODER",
            "text-encoder/minilm-int8.onnx",
            "models/text-encoder/minilm-int8.onnx",
            "MiniLM encoder",
            fix,
        )?;
        let tok = find(
            "SENTIO_TOKENIZER",
            "text-encoder/tokenizer.json",
            "models/text-encoder/tokenizer.json",
            "MiniLM tokenizer",
            fix,
        )?;
        let head = find(
            "SENTIO_TEXT_HEAD",
            "models/text-emotion-head.onnx",
            "models/text/text-emotion-head.onnx",
            "text-emotion head",
            "run `cargo xtask install`",
        )?;
        let mut tokenizer = Tokenizer::from_file(&tok)
            .map_err(|e| format!("cannot read {}: {e}", tok.display()))?;
        // The file pads every input to 128 tokens; pad per batch instead (the mask handles it).
        tokenizer.with_padding(None);
        Ok(Self {
            tokenizer,
            encoder: session(&encoder, device)?,
            head: session(&head, device)?,
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

    /// Mean-pooled (with the attention mask) and L2-normalised sentence embeddings.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Embedding>, String> {
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
            .encoder
            .run(ort::inputs![
                "input_ids" => tensor(input_ids)?,
                "attention_mask" => tensor(mask.clone())?,
                "token_type_ids" => tensor(vec![0i64; b * s])?,
            ])
            .map_err(|e| format!("sentence encoder: {e}"))?;
        let (_, hidden) = outputs["last_hidden_state"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("sentence encoder output: {e}"))?;
        Ok((0..b)
            .map(|row| {
                let mut e = [0.0f32; EMBEDDING_DIM];
                let mut count = 0.0f32;
                for j in 0..s {
                    if mask[row * s + j] == 1 {
                        let h = &hidden[(row * s + j) * EMBEDDING_DIM..][..EMBEDDING_DIM];
                        for (acc, x) in e.iter_mut().zip(h) {
                            *acc += x;
                        }
                        count += 1.0;
                    }
                }
                let norm = e
                    .iter()
                    .map(|x| (x / count).powi(2))
                    .sum::<f32>()
                    .sqrt()
                    .max(1e-12);
                e.map(|x| x / count / norm)
            })
            .collect())
    }

    /// Class probabilities (in `TEXT_CLASSES` order) for embeddings.
    pub fn classify(&mut self, embeddings: &[Embedding]) -> Result<Vec<[f32; 7]>, String> {
        if embeddings.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = embeddings.iter().flatten().copied().collect();
        let input = Tensor::from_array(([embeddings.len(), EMBEDDING_DIM], flat))
            .map_err(|e| e.to_string())?;
        let outputs = self
            .head
            .run(ort::inputs!["embedding" => input])
            .map_err(|e| format!("text-emotion head: {e}"))?;
        let (_, probs) = outputs["probs"]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        Ok(probs
            .chunks_exact(7)
            .map(|c| std::array::from_fn(|i| c[i]))
            .collect())
    }
}
