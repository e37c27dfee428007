//! Whisper's token strings as raw bytes, which is what whisper.cpp's vocabulary holds.
//!
//! CTranslate2 and Hugging Face store GPT-2 byte-level strings: every byte is shown as a
//! printable character (`Ġ` for a space, `Ċ` for a newline…), so those characters are mapped
//! back to the bytes they stand for.

use anyhow::{bail, ensure, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// Token strings in id order, from `vocabulary.txt` (one token a line) or else `tokenizer.json`.
pub fn load(ct2_dir: &Path) -> Result<Vec<Vec<u8>>> {
    let txt = ct2_dir.join("vocabulary.txt");
    let json = ct2_dir.join("tokenizer.json");
    let strings = if txt.exists() {
        from_vocabulary_txt(
            &std::fs::read_to_string(&txt).with_context(|| txt.display().to_string())?,
        )
    } else if json.exists() {
        from_tokenizer_json(
            &std::fs::read_to_string(&json).with_context(|| json.display().to_string())?,
        )
        .with_context(|| format!("parsing {}", json.display()))?
    } else {
        bail!(
            "{} has neither vocabulary.txt nor tokenizer.json",
            ct2_dir.display()
        );
    };
    Ok(strings.iter().map(|s| decode_byte_level(s)).collect())
}

pub fn from_vocabulary_txt(text: &str) -> Vec<String> {
    // Every token line ends with '\n'; one multilingual token (id 50256) is the empty string,
    // so empty lines are kept and only the piece after the final newline is dropped.
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    lines
}

pub fn from_tokenizer_json(text: &str) -> Result<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let mut by_id: HashMap<u64, String> = HashMap::new();
    let vocab = v["model"]["vocab"]
        .as_object()
        .context("no model.vocab object")?;
    for (tok, id) in vocab {
        by_id.insert(id.as_u64().context("non-integer token id")?, tok.clone());
    }
    for added in v["added_tokens"].as_array().into_iter().flatten() {
        let id = added["id"].as_u64().context("added token without id")?;
        let content = added["content"]
            .as_str()
            .context("added token without content")?;
        by_id.insert(id, content.to_owned());
    }
    let n = by_id.len() as u64;
    // Ids must be dense: whisper.cpp indexes the vocabulary by position.
    (0..n)
        .map(|id| {
            by_id
                .remove(&id)
                .with_context(|| format!("token id {id} missing (ids not dense)"))
        })
        .collect::<Result<Vec<_>>>()
        .and_then(|v| {
            ensure!(by_id.is_empty(), "token ids are not 0..{n}");
            Ok(v)
        })
}

/// Reverse of GPT-2's `bytes_to_unicode`. Characters outside that table (none in a real
/// byte-level vocabulary) are kept as their UTF-8 bytes.
pub fn decode_byte_level(token: &str) -> Vec<u8> {
    let table = unicode_to_byte();
    let mut out = Vec::with_capacity(token.len());
    for c in token.chars() {
        match table.get(&c) {
            Some(&b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

fn unicode_to_byte() -> &'static HashMap<char, u8> {
    static TABLE: std::sync::OnceLock<HashMap<char, u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        // Printable Latin-1 bytes stand for themselves; the rest are shifted to U+0100 onwards
        // in byte order.
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let mut shifted = 0u32;
        (0..=255u8)
            .map(|b| {
                let c = if printable(b) {
                    char::from(b)
                } else {
                    shifted += 1;
                    char::from_u32(255 + shifted).unwrap()
                };
                (c, b)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_round_trip() {
        assert_eq!(decode_byte_level("Ġhello"), b" hello");
        assert_eq!(decode_byte_level("Ċ"), b"\n");
        // "é" is C3 A9 in UTF-8, shown as "Ã©" in byte-level form.
        assert_eq!(decode_byte_level("Ã©"), "é".as_bytes());
        assert_eq!(decode_byte_level("<|endoftext|>"), b"<|endoftext|>");
    }

    #[test]
    fn vocabulary_txt_keeps_empty_tokens() {
        assert_eq!(from_vocabulary_txt("a\n\nb\n"), vec!["a", "", "b"]);
    }
}
