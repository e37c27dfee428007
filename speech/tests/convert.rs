//! Converter round trip on a hand-built CTranslate2 model (d = 8, 1 encoder + 1 decoder layer),
//! read back with a parser written here, independent of the crate's own reader.

use half::f16;
use sentio_speech::ct2::{DType, Model, Variable};
use sentio_speech::{convert, ggml::GgmlFile, mel};
use std::collections::BTreeMap;
use std::path::Path;

const D: usize = 8;
const HEADS: i16 = 2;
const N_MELS: usize = 80;
const AUDIO_CTX: usize = 1500;
const TEXT_CTX: usize = 448;
// English-only Whisper's vocabulary size: whisper.cpp indexes logits by its special token ids,
// so a smaller vocabulary could not be run, only loaded.
const VOCAB: usize = 51_864;

/// Deterministic, distinct values, exactly representable in f16.
fn values(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((seed * 7919 + i * 104_729) % 2001) as f32 - 1000.0) / 1024.0)
        .collect()
}

fn f16_var(shape: &[usize], seed: usize) -> Variable {
    let n = shape.iter().product();
    Variable {
        shape: shape.to_vec(),
        dtype: DType::F16,
        data: values(seed, n)
            .iter()
            .flat_map(|&x| f16::from_f32(x).to_le_bytes())
            .collect(),
    }
}

fn scalar(dtype: DType, v: i64) -> Variable {
    let data = match dtype {
        DType::I8 => vec![v as u8],
        DType::I16 => (v as i16).to_le_bytes().to_vec(),
        _ => unreachable!(),
    };
    Variable {
        shape: vec![],
        dtype,
        data,
    }
}

#[derive(Default)]
struct Builder {
    vars: BTreeMap<String, Variable>,
    seed: usize,
}

impl Builder {
    fn tensor(&mut self, name: &str, shape: &[usize]) {
        self.seed += 1;
        self.vars.insert(name.to_owned(), f16_var(shape, self.seed));
    }

    fn linear(&mut self, prefix: &str, out: usize, inp: usize) {
        self.tensor(&format!("{prefix}/weight"), &[out, inp]);
        self.tensor(&format!("{prefix}/bias"), &[out]);
    }

    fn norm(&mut self, prefix: &str) {
        self.tensor(&format!("{prefix}/gamma"), &[D]);
        self.tensor(&format!("{prefix}/beta"), &[D]);
    }
}

/// Same names, shapes, dtypes and scalars as the real tiny.en model.bin, at toy width.
fn synthetic_model() -> Model {
    let mut b = Builder::default();
    b.tensor("encoder/conv1/weight", &[D, N_MELS, 3]);
    b.tensor("encoder/conv1/bias", &[D]);
    b.tensor("encoder/conv2/weight", &[D, D, 3]);
    b.tensor("encoder/conv2/bias", &[D]);
    b.tensor("encoder/position_encodings/encodings", &[AUDIO_CTX, D]);
    b.norm("encoder/layer_norm");
    b.tensor("decoder/embeddings/weight", &[VOCAB, D]);
    b.tensor("decoder/position_encodings/encodings", &[TEXT_CTX, D]);
    b.norm("decoder/layer_norm");
    for side in ["encoder", "decoder"] {
        let l = format!("{side}/layer_0");
        b.norm(&format!("{l}/self_attention/layer_norm"));
        b.linear(&format!("{l}/self_attention/linear_0"), 3 * D, D);
        b.linear(&format!("{l}/self_attention/linear_1"), D, D);
        b.norm(&format!("{l}/ffn/layer_norm"));
        b.linear(&format!("{l}/ffn/linear_0"), 4 * D, D);
        b.linear(&format!("{l}/ffn/linear_1"), D, 4 * D);
    }
    let a = "decoder/layer_0/attention";
    b.norm(&format!("{a}/layer_norm"));
    b.linear(&format!("{a}/linear_0"), D, D);
    b.linear(&format!("{a}/linear_1"), 2 * D, D);
    b.linear(&format!("{a}/linear_2"), D, D);

    let mut v = b.vars;
    v.insert("encoder/num_heads".into(), scalar(DType::I16, HEADS as i64));
    v.insert("decoder/num_heads".into(), scalar(DType::I16, HEADS as i64));
    v.insert("decoder/activation".into(), scalar(DType::I8, 3));
    v.insert("decoder/scale_embeddings".into(), scalar(DType::I8, 0));
    v.insert("decoder/pre_norm".into(), scalar(DType::I8, 1));
    let aliases = BTreeMap::from([(
        "decoder/projection/weight".to_owned(),
        "decoder/embeddings/weight".to_owned(),
    )]);
    Model {
        spec_name: "WhisperSpec".into(),
        spec_revision: 3,
        variables: v,
        aliases,
    }
}

/// Writes the model and a byte-level vocabulary into a fresh folder.
fn write_ct2_dir(dir: &Path, model: &Model) {
    std::fs::create_dir_all(dir).unwrap();
    let mut bytes = Vec::new();
    model.write(&mut bytes).unwrap();
    std::fs::write(dir.join("model.bin"), bytes).unwrap();
    write_vocabulary(dir, "Ġ");
}

/// Tokens 0..3 exercise the byte-level decoding; `blank` is token 3 (whisper.cpp needs `Ġ`).
fn write_vocabulary(dir: &Path, blank: &str) {
    let mut vocab = format!("Ġhello\nĊ\n\n{blank}\n");
    for i in 4..VOCAB {
        vocab.push_str(&format!("t{i}\n"));
    }
    std::fs::write(dir.join("vocabulary.txt"), vocab).unwrap();
}

struct Parsed {
    hparams: Vec<i32>,
    n_mel: i32,
    n_fft: i32,
    filters: Vec<f32>,
    vocab: Vec<Vec<u8>>,
    /// name → (ne, ttype, data)
    tensors: BTreeMap<String, (Vec<usize>, i32, Vec<u8>)>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take(4).try_into().unwrap())
    }
}

/// The legacy ggml layout, as whisper.cpp's `whisper_model_load` reads it.
fn parse_ggml(bytes: &[u8]) -> Parsed {
    let mut c = Cursor { bytes, pos: 0 };
    assert_eq!(c.i32() as u32, 0x6767_6d6c, "magic");
    let hparams: Vec<i32> = (0..11).map(|_| c.i32()).collect();
    let (n_mel, n_fft) = (c.i32(), c.i32());
    let filters = as_f32(c.take((n_mel * n_fft) as usize * 4));
    let n_tokens = c.i32();
    let vocab = (0..n_tokens)
        .map(|_| {
            let len = c.i32() as usize;
            c.take(len).to_vec()
        })
        .collect();
    let mut tensors = BTreeMap::new();
    while c.pos < bytes.len() {
        let n_dims = c.i32();
        let name_len = c.i32() as usize;
        let ttype = c.i32();
        let ne: Vec<usize> = (0..n_dims).map(|_| c.i32() as usize).collect();
        let name = String::from_utf8(c.take(name_len).to_vec()).unwrap();
        let size = if ttype == 0 { 4 } else { 2 };
        let data = c.take(ne.iter().product::<usize>() * size).to_vec();
        assert!(
            tensors.insert(name.clone(), (ne, ttype, data)).is_none(),
            "{name} twice"
        );
    }
    Parsed {
        hparams,
        n_mel,
        n_fft,
        filters,
        vocab,
        tensors,
    }
}

fn as_f32(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

struct Converted {
    model: Model,
    ggml: Parsed,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn converted() -> Converted {
    let model = synthetic_model();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_ct2_dir(&dir.join("ct2"), &model);
    let out = dir.join("ggml-synthetic.bin");
    convert(&dir.join("ct2"), &out).expect("conversion failed");
    let ggml = parse_ggml(&std::fs::read(&out).unwrap());
    Converted {
        model,
        ggml,
        out,
        _dir: tmp,
    }
}

#[test]
fn header_filters_and_vocabulary() {
    let c = converted();
    let g = &c.ggml;
    let d = D as i32;
    assert_eq!(
        g.hparams,
        vec![
            VOCAB as i32,
            AUDIO_CTX as i32,
            d,
            2,
            1,
            TEXT_CTX as i32,
            d,
            2,
            1,
            80,
            1
        ]
    );
    assert_eq!((g.n_mel, g.n_fft), (80, 201));
    assert_eq!(g.filters, mel::filterbank(16_000, 400, 80));
    assert_eq!(g.vocab.len(), VOCAB);
    assert_eq!(g.vocab[0], b" hello");
    assert_eq!(g.vocab[1], b"\n");
    assert_eq!(g.vocab[2], b"");
    assert_eq!(g.vocab[3], b" ");
    assert_eq!(g.vocab[4], b"t4");
}

#[test]
fn tensor_names_shapes_and_types() {
    let c = converted();
    let g = &c.ggml;
    // whisper.cpp: 7 encoder-level + 15 per encoder layer + 4 decoder-level + 24 per decoder layer.
    assert_eq!(g.tensors.len(), 7 + 15 + 4 + 24);
    let expect = |name: &str, ne: &[usize], ttype: i32| {
        let (got_ne, got_t, _) = g.tensors.get(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!((got_ne.as_slice(), *got_t), (ne, ttype), "{name}");
    };
    expect("encoder.positional_embedding", &[D, AUDIO_CTX], 0);
    expect("encoder.conv1.weight", &[3, N_MELS, D], 1);
    expect("encoder.conv1.bias", &[1, D], 0);
    expect("encoder.conv2.weight", &[3, D, D], 1);
    expect("encoder.conv2.bias", &[1, D], 0);
    expect("encoder.ln_post.weight", &[D], 0);
    expect("encoder.blocks.0.attn.query.weight", &[D, D], 1);
    expect("encoder.blocks.0.attn.query.bias", &[D], 0);
    expect("encoder.blocks.0.attn.key.weight", &[D, D], 1);
    expect("encoder.blocks.0.mlp.0.weight", &[D, 4 * D], 1);
    expect("encoder.blocks.0.mlp.2.weight", &[4 * D, D], 1);
    expect("encoder.blocks.0.mlp_ln.bias", &[D], 0);
    expect("decoder.positional_embedding", &[D, TEXT_CTX], 0);
    expect("decoder.token_embedding.weight", &[D, VOCAB], 1);
    expect("decoder.ln.bias", &[D], 0);
    expect("decoder.blocks.0.cross_attn_ln.weight", &[D], 0);
    expect("decoder.blocks.0.cross_attn.value.weight", &[D, D], 1);
    expect("decoder.blocks.0.cross_attn.out.bias", &[D], 0);
    for side in ["encoder", "decoder"] {
        assert!(!g
            .tensors
            .contains_key(&format!("{side}.blocks.0.attn.key.bias")));
    }
    assert!(!g
        .tensors
        .contains_key("decoder.blocks.0.cross_attn.key.bias"));
}

#[test]
fn fused_projections_are_split_into_the_right_slices() {
    let c = converted();
    let (m, g) = (&c.model, &c.ggml);
    let var = |name: &str| &m.variables[name];
    let tensor = |name: &str| &g.tensors[name].2;
    let row_bytes = D * 2;

    for (src, dst) in [
        ("encoder/layer_0/self_attention", "encoder.blocks.0.attn"),
        ("decoder/layer_0/self_attention", "decoder.blocks.0.attn"),
    ] {
        let w = &var(&format!("{src}/linear_0/weight")).data;
        let b = var(&format!("{src}/linear_0/bias")).to_f32().unwrap();
        for (k, part) in ["query", "key", "value"].iter().enumerate() {
            assert_eq!(
                tensor(&format!("{dst}.{part}.weight")),
                &w[k * D * row_bytes..(k + 1) * D * row_bytes],
                "{dst}.{part}.weight"
            );
        }
        assert_eq!(as_f32(tensor(&format!("{dst}.query.bias"))), b[..D]);
        assert_eq!(as_f32(tensor(&format!("{dst}.value.bias"))), b[2 * D..]);
    }

    let a = "decoder/layer_0/attention";
    let x = "decoder.blocks.0.cross_attn";
    let kv = &var(&format!("{a}/linear_1/weight")).data;
    let kv_b = var(&format!("{a}/linear_1/bias")).to_f32().unwrap();
    assert_eq!(tensor(&format!("{x}.key.weight")), &kv[..D * row_bytes]);
    assert_eq!(tensor(&format!("{x}.value.weight")), &kv[D * row_bytes..]);
    assert_eq!(as_f32(tensor(&format!("{x}.value.bias"))), kv_b[D..]);
    assert_eq!(
        tensor(&format!("{x}.query.weight")),
        &var(&format!("{a}/linear_0/weight")).data
    );

    // Unsplit tensors: F16 bytes copied, F32 values widened exactly.
    assert_eq!(
        tensor("encoder.conv1.weight"),
        &var("encoder/conv1/weight").data
    );
    assert_eq!(
        tensor("decoder.token_embedding.weight"),
        &var("decoder/embeddings/weight").data
    );
    assert_eq!(
        as_f32(tensor("encoder.conv1.bias")),
        var("encoder/conv1/bias").to_f32().unwrap()
    );
    assert_eq!(
        as_f32(tensor("decoder.positional_embedding")),
        var("decoder/position_encodings/encodings")
            .to_f32()
            .unwrap()
    );
    assert_eq!(
        as_f32(tensor("decoder.blocks.0.mlp_ln.weight")),
        var("decoder/layer_0/ffn/layer_norm/gamma")
            .to_f32()
            .unwrap()
    );
}

#[test]
fn crate_reader_agrees() {
    let c = converted();
    let (g, out) = (&c.ggml, &c.out);
    let file = GgmlFile::open(out).unwrap();
    assert_eq!(file.tensors.len(), g.tensors.len());
    assert_eq!(
        file.read_tensor(out, "encoder.conv2.weight").unwrap(),
        g.tensors["encoder.conv2.weight"].2
    );
}

#[cfg(feature = "transcribe")]
#[test]
fn whisper_cpp_loads_and_runs_the_file() {
    let c = converted();
    let out = &c.out;
    // Random weights transcribe nonsense, but whisper.cpp must accept the layout and run it.
    let mut t =
        sentio_speech::Transcriber::load(out, Some("en")).expect("whisper.cpp rejected the file");
    let tone: Vec<f32> = (0..16_000)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.1)
        .collect();
    t.transcribe(&tone).expect("transcription failed");
}

#[test]
fn a_vocabulary_without_the_blank_token_is_refused_not_aborted_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ct2 = dir.join("ct2");
    write_ct2_dir(&ct2, &synthetic_model());
    write_vocabulary(&ct2, "t3");
    let out = dir.join("ggml.bin");
    let err = convert(&ct2, &out).unwrap_err();
    assert!(format!("{err:#}").contains("no \" \" token"), "{err:#}");
}

#[test]
fn rejects_models_whisper_cpp_cannot_express() {
    let mut m = synthetic_model();
    m.variables
        .remove("decoder/layer_0/attention/linear_1/weight");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_ct2_dir(&dir.join("ct2"), &m);
    let err = convert(&dir.join("ct2"), &dir.join("out.bin")).unwrap_err();
    assert!(format!("{err:#}").contains("linear_1/weight"), "{err:#}");
    assert!(!dir.join("out.bin").exists(), "no output after a failure");
    assert!(
        !dir.join("out.partial").exists(),
        "partial output cleaned up"
    );

    let mut m = synthetic_model();
    m.variables
        .insert("decoder/scale_embeddings".into(), scalar(DType::I8, 1));
    write_ct2_dir(&dir.join("ct2"), &m);
    let err = convert(&dir.join("ct2"), &dir.join("out.bin")).unwrap_err();
    assert!(format!("{err:#}").contains("scale_embeddings"), "{err:#}");
}
