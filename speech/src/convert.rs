//! CTranslate2 Whisper (`model.bin` + vocabulary) → whisper.cpp ggml file.

use crate::ct2::{self, Variable};
use crate::ggml::{self, GgmlFile, GgmlType, Hparams};
use crate::{mel, vocab};
use anyhow::{bail, ensure, Context, Result};
use half::f16;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Converts the CTranslate2 model in `ct2_dir` (model.bin plus vocabulary.txt or
/// tokenizer.json) into a ggml file at `out`. The file appears only once it is complete and
/// has been read back and checked.
pub fn convert(ct2_dir: &Path, out: &Path) -> Result<()> {
    let model = ct2::Model::load(&ct2_dir.join("model.bin"))?;
    let vocab = vocab::load(ct2_dir)?;
    let partial = out.with_extension("partial");
    let result = (|| {
        let file =
            File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
        write_ggml(&model, &vocab, BufWriter::new(file))?
            .into_inner()?
            .sync_all()?;
        GgmlFile::open(&partial).context("reading back the converted file")?;
        std::fs::rename(&partial, out).with_context(|| format!("renaming to {}", out.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("converting {} to {}", ct2_dir.display(), out.display()))
}

pub fn write_ggml<W: Write>(model: &ct2::Model, vocab: &[Vec<u8>], w: W) -> Result<W> {
    ensure!(
        model.spec_name == "WhisperSpec",
        "not a Whisper model (spec {})",
        model.spec_name
    );
    check_flags(model)?;
    let h = hparams(model)?;
    ensure!(
        vocab.len() == h.n_vocab as usize,
        "vocabulary has {} tokens, the embedding {}",
        vocab.len(),
        h.n_vocab
    );
    let filters = mel::filterbank(mel::SAMPLE_RATE, mel::N_FFT, h.n_mels as usize);
    let mut w = ggml::Writer::new(w, &h, &filters, mel::N_FFT / 2 + 1, vocab)?;

    let d = h.n_audio_state as usize;
    let expected = ggml::expected_tensors(&h);
    let mut written = 0;
    for t in tensors(model, &h)? {
        let (_, ne, ttype) = expected
            .iter()
            .find(|(name, ..)| *name == t.name)
            .with_context(|| {
                format!("produced tensor {} that whisper.cpp does not know", t.name)
            })?;
        ensure!(
            same_layout(&t.var.shape, ne),
            "{} has shape {:?}, whisper.cpp expects {ne:?} (d = {d})",
            t.name,
            t.var.shape
        );
        w.tensor(&t.name, ne, *ttype, &encode(&t.var, *ttype)?)?;
        written += 1;
    }
    ensure!(
        written == expected.len(),
        "wrote {written} tensors, whisper.cpp expects {}",
        expected.len()
    );
    w.finish()
}

struct Tensor {
    name: String,
    var: Variable,
}

/// Every ggml tensor with its source data, in the order written.
fn tensors(m: &ct2::Model, h: &Hparams) -> Result<Vec<Tensor>> {
    let d = h.n_audio_state as usize;
    let mut out = Vec::new();
    let mut put = |name: String, var: Variable| out.push(Tensor { name, var });
    let get = |name: &str| m.get(name).cloned();

    put(
        "encoder.positional_embedding".into(),
        get("encoder/position_encodings/encodings")?,
    );
    for conv in ["conv1", "conv2"] {
        put(
            format!("encoder.{conv}.weight"),
            get(&format!("encoder/{conv}/weight"))?,
        );
        put(
            format!("encoder.{conv}.bias"),
            get(&format!("encoder/{conv}/bias"))?,
        );
    }
    put(
        "encoder.ln_post.weight".into(),
        get("encoder/layer_norm/gamma")?,
    );
    put(
        "encoder.ln_post.bias".into(),
        get("encoder/layer_norm/beta")?,
    );

    for i in 0..h.n_audio_layer {
        let (src, dst) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        ffn(m, &src, &dst, &mut put)?;
        self_attention(m, &src, &format!("{dst}.attn"), d, &mut put)?;
    }

    put(
        "decoder.positional_embedding".into(),
        get("decoder/position_encodings/encodings")?,
    );
    // Also the output projection: whisper.cpp ties the two, as CTranslate2 does with an alias.
    put(
        "decoder.token_embedding.weight".into(),
        get("decoder/embeddings/weight")?,
    );
    put("decoder.ln.weight".into(), get("decoder/layer_norm/gamma")?);
    put("decoder.ln.bias".into(), get("decoder/layer_norm/beta")?);

    for i in 0..h.n_text_layer {
        let (src, dst) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        ffn(m, &src, &dst, &mut put)?;
        self_attention(m, &src, &format!("{dst}.attn"), d, &mut put)?;

        let a = format!("{src}/attention");
        let x = format!("{dst}.cross_attn");
        put(
            format!("{x}_ln.weight"),
            get(&format!("{a}/layer_norm/gamma"))?,
        );
        put(
            format!("{x}_ln.bias"),
            get(&format!("{a}/layer_norm/beta"))?,
        );
        put(
            format!("{x}.query.weight"),
            get(&format!("{a}/linear_0/weight"))?,
        );
        put(
            format!("{x}.query.bias"),
            get(&format!("{a}/linear_0/bias"))?,
        );
        // Fused key‖value over the encoder output.
        let kv_w = get(&format!("{a}/linear_1/weight"))?;
        let kv_b = get(&format!("{a}/linear_1/bias"))?;
        expect_rows(&kv_w, 2 * d, &a)?;
        put(format!("{x}.key.weight"), kv_w.rows(0, d)?);
        put(format!("{x}.value.weight"), kv_w.rows(d, d)?);
        put(format!("{x}.value.bias"), kv_b.rows(d, d)?);
        put(
            format!("{x}.out.weight"),
            get(&format!("{a}/linear_2/weight"))?,
        );
        put(format!("{x}.out.bias"), get(&format!("{a}/linear_2/bias"))?);
    }
    Ok(out)
}

fn ffn(m: &ct2::Model, src: &str, dst: &str, put: &mut impl FnMut(String, Variable)) -> Result<()> {
    let f = format!("{src}/ffn");
    put(
        format!("{dst}.mlp_ln.weight"),
        m.get(&format!("{f}/layer_norm/gamma"))?.clone(),
    );
    put(
        format!("{dst}.mlp_ln.bias"),
        m.get(&format!("{f}/layer_norm/beta"))?.clone(),
    );
    put(
        format!("{dst}.mlp.0.weight"),
        m.get(&format!("{f}/linear_0/weight"))?.clone(),
    );
    put(
        format!("{dst}.mlp.0.bias"),
        m.get(&format!("{f}/linear_0/bias"))?.clone(),
    );
    put(
        format!("{dst}.mlp.2.weight"),
        m.get(&format!("{f}/linear_1/weight"))?.clone(),
    );
    put(
        format!("{dst}.mlp.2.bias"),
        m.get(&format!("{f}/linear_1/bias"))?.clone(),
    );
    Ok(())
}

/// Splits CTranslate2's fused query‖key‖value projection.
///
/// The key bias is dropped: Whisper's key projection has none (CTranslate2 stores zeros), and
/// any key bias would add the same `q·b` to every score of a query, which softmax cancels.
fn self_attention(
    m: &ct2::Model,
    src: &str,
    dst: &str,
    d: usize,
    put: &mut impl FnMut(String, Variable),
) -> Result<()> {
    let a = format!("{src}/self_attention");
    let qkv_w = m.get(&format!("{a}/linear_0/weight"))?.clone();
    let qkv_b = m.get(&format!("{a}/linear_0/bias"))?.clone();
    expect_rows(&qkv_w, 3 * d, &a)?;
    put(
        format!("{dst}_ln.weight"),
        m.get(&format!("{a}/layer_norm/gamma"))?.clone(),
    );
    put(
        format!("{dst}_ln.bias"),
        m.get(&format!("{a}/layer_norm/beta"))?.clone(),
    );
    put(format!("{dst}.query.weight"), qkv_w.rows(0, d)?);
    put(format!("{dst}.query.bias"), qkv_b.rows(0, d)?);
    put(format!("{dst}.key.weight"), qkv_w.rows(d, d)?);
    put(format!("{dst}.value.weight"), qkv_w.rows(2 * d, d)?);
    put(format!("{dst}.value.bias"), qkv_b.rows(2 * d, d)?);
    put(
        format!("{dst}.out.weight"),
        m.get(&format!("{a}/linear_1/weight"))?.clone(),
    );
    put(
        format!("{dst}.out.bias"),
        m.get(&format!("{a}/linear_1/bias"))?.clone(),
    );
    Ok(())
}

fn expect_rows(v: &Variable, rows: usize, what: &str) -> Result<()> {
    ensure!(
        v.shape.first() == Some(&rows),
        "{what}: fused projection has shape {:?}, expected {rows} rows",
        v.shape
    );
    Ok(())
}

/// A row-major shape is ggml's innermost-first shape reversed; ggml may add size-1 inner axes
/// (the conv biases are `[1, d]`).
fn same_layout(shape: &[usize], ne: &[usize]) -> bool {
    let reversed: Vec<usize> = shape.iter().rev().copied().collect();
    let extra = ne.len().saturating_sub(reversed.len());
    ne[..extra].iter().all(|&n| n == 1) && ne[extra..] == reversed[..]
}

/// Row-major source data re-encoded as `ttype`. ggml's innermost-first shape of a row-major
/// `[out, in]` array is `[in, out]`, so the bytes need no transposition.
fn encode(v: &Variable, ttype: GgmlType) -> Result<Vec<u8>> {
    if ttype == GgmlType::F16 && v.dtype == ct2::DType::F16 {
        return Ok(v.data.clone());
    }
    let values = v.to_f32()?;
    Ok(match ttype {
        GgmlType::F32 => values.iter().flat_map(|x| x.to_le_bytes()).collect(),
        GgmlType::F16 => values
            .iter()
            .flat_map(|&x| f16::from_f32(x).to_le_bytes())
            .collect(),
    })
}

fn hparams(m: &ct2::Model) -> Result<Hparams> {
    let dim = |name: &str, axis: usize| -> Result<i32> {
        let v = m.get(name)?;
        v.shape
            .get(axis)
            .map(|&n| n as i32)
            .with_context(|| format!("{name} has shape {:?}", v.shape))
    };
    let count_layers = |prefix: &str| {
        (0..)
            .take_while(|i| {
                m.variables
                    .contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
            })
            .count() as i32
    };
    let d = dim("encoder/conv1/weight", 0)?;
    // Every Whisper size uses 64-wide heads; the stored head counts are preferred when present.
    let heads = |name: &str| -> Result<i32> {
        match m.variables.get(name) {
            Some(v) => Ok(v.scalar_i64()? as i32),
            None => Ok(d / 64),
        }
    };
    let h = Hparams {
        n_vocab: dim("decoder/embeddings/weight", 0)?,
        n_audio_ctx: dim("encoder/position_encodings/encodings", 0)?,
        n_audio_state: d,
        n_audio_head: heads("encoder/num_heads")?,
        n_audio_layer: count_layers("encoder"),
        n_text_ctx: dim("decoder/position_encodings/encodings", 0)?,
        n_text_state: dim("decoder/embeddings/weight", 1)?,
        n_text_head: heads("decoder/num_heads")?,
        n_text_layer: count_layers("decoder"),
        n_mels: dim("encoder/conv1/weight", 1)?,
        ftype: ggml::FTYPE_F16,
    };
    ensure!(
        h.n_audio_layer > 0 && h.n_text_layer > 0,
        "no encoder or decoder layers found"
    );
    ensure!(
        h.n_text_state == d,
        "decoder width {} != encoder width {d}",
        h.n_text_state
    );
    Ok(h)
}

/// Rejects CTranslate2 options whisper.cpp's fixed architecture cannot express.
fn check_flags(m: &ct2::Model) -> Result<()> {
    let flag = |name: &str| -> Result<Option<i64>> {
        m.variables.get(name).map(|v| v.scalar_i64()).transpose()
    };
    if let Some(act) = flag("decoder/activation")? {
        // CTranslate2's ActivationType: 3 = GELU (erf), Whisper's activation.
        ensure!(act == 3, "decoder activation {act} is not GELU");
    }
    for (name, want) in [
        ("decoder/scale_embeddings", 0),
        ("decoder/alibi", 0),
        ("decoder/pre_norm", 1),
    ] {
        if let Some(v) = flag(name)? {
            if v != want {
                bail!("{name} = {v}: whisper.cpp only supports {want}");
            }
        }
    }
    Ok(())
}
