//! Minimal WAV reader for the test fixtures and the CLI: PCM 16-bit or IEEE float 32-bit,
//! mono, any rate (the caller checks the rate).

use anyhow::{bail, ensure, Context, Result};
use std::path::Path;

pub struct Wav {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

pub fn read(path: &Path) -> Result<Wav> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&bytes).with_context(|| format!("parsing {}", path.display()))
}

pub fn parse(bytes: &[u8]) -> Result<Wav> {
    ensure!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "not a RIFF/WAVE file"
    );
    let mut pos = 12;
    let mut format = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => {
                ensure!(body.len() >= 16, "short fmt chunk");
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                let tag = u16_at(0);
                let channels = u16_at(2);
                let rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                let bits = u16_at(14);
                // 0xFFFE (extensible) carries the real tag in its sub-format GUID.
                let tag = if tag == 0xFFFE && body.len() >= 26 {
                    u16_at(24)
                } else {
                    tag
                };
                ensure!(channels == 1, "{channels} channels; mono expected");
                format = Some((tag, rate, bits));
            }
            b"data" => {
                let (tag, sample_rate, bits) = format.context("data chunk before fmt chunk")?;
                let samples = match (tag, bits) {
                    (1, 16) => body
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0)
                        .collect(),
                    (3, 32) => body
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                    _ => bail!("unsupported WAV encoding (format {tag}, {bits} bits)"),
                };
                return Ok(Wav {
                    sample_rate,
                    samples,
                });
            }
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    bail!("no data chunk")
}
