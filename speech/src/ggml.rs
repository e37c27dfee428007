//! whisper.cpp's legacy ggml model file: writer, reader and the tensor list whisper.cpp expects.
//!
//! ```text
//! u32 magic "ggml"; i32 × 11 hparams
//! i32 n_mel, i32 n_fft; f32 filters[n_mel × n_fft]
//! i32 n_tokens; n_tokens × (u32 len, bytes)
//! tensors until EOF: i32 n_dims, i32 name_len, i32 ttype; i32 ne[n_dims] (innermost first); name; data
//! ```
//!
//! The reader checks a file against the tensor list of `whisper_model_load` (whisper.cpp 1.8.3)
//! before whisper.cpp sees it, because whisper.cpp reports most problems only as a log line,
//! and some (a failed allocation, a C++ exception) abort the process.

use anyhow::{bail, ensure, Context, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub const MAGIC: u32 = 0x6767_6d6c;
/// `ftype` 1: matrices and conv kernels in F16. whisper.cpp's conv kernels need F16, and
/// quantized types are not produced here.
pub const FTYPE_F16: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
}

impl GgmlType {
    pub fn from_code(code: i32) -> Result<Self> {
        match code {
            0 => Ok(Self::F32),
            1 => Ok(Self::F16),
            _ => bail!("tensor type {code} is not supported (only F32 and F16)"),
        }
    }

    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn to_array(self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    fn from_array(a: [i32; 11]) -> Self {
        Self {
            n_vocab: a[0],
            n_audio_ctx: a[1],
            n_audio_state: a[2],
            n_audio_head: a[3],
            n_audio_layer: a[4],
            n_text_ctx: a[5],
            n_text_state: a[6],
            n_text_head: a[7],
            n_text_layer: a[8],
            n_mels: a[9],
            ftype: a[10],
        }
    }

    /// Bounds that keep whisper.cpp's allocations sane (large-v3 is the biggest real model).
    fn check(&self) -> Result<()> {
        let in_range = |v: i32, lo: i32, hi: i32| (lo..=hi).contains(&v);
        ensure!(
            in_range(self.n_vocab, 1, 1 << 20)
                && in_range(self.n_audio_ctx, 1, 1 << 14)
                && in_range(self.n_audio_state, 1, 1 << 14)
                && in_range(self.n_audio_head, 1, 1 << 10)
                && in_range(self.n_audio_layer, 1, 1 << 10)
                && in_range(self.n_text_ctx, 1, 1 << 14)
                && in_range(self.n_text_head, 1, 1 << 10)
                && in_range(self.n_text_layer, 1, 1 << 10)
                && in_range(self.n_mels, 1, 1 << 10),
            "implausible hyperparameters {self:?}"
        );
        ensure!(
            self.n_text_state == self.n_audio_state,
            "n_text_state {} != n_audio_state {}",
            self.n_text_state,
            self.n_audio_state
        );
        ensure!(
            self.ftype == FTYPE_F16,
            "ftype {} is not supported (only F16 files, ftype {FTYPE_F16})",
            self.ftype
        );
        Ok(())
    }
}

/// Name, shape (ggml order, innermost first) and type of every tensor whisper.cpp loads.
pub fn expected_tensors(h: &Hparams) -> Vec<(String, Vec<usize>, GgmlType)> {
    use GgmlType::{F16, F32};
    let u = |v: i32| v as usize;
    let (d, n_mels) = (u(h.n_audio_state), u(h.n_mels));
    let mut t = vec![
        (
            "encoder.positional_embedding".to_owned(),
            vec![d, u(h.n_audio_ctx)],
            F32,
        ),
        ("encoder.conv1.weight".to_owned(), vec![3, n_mels, d], F16),
        ("encoder.conv1.bias".to_owned(), vec![1, d], F32),
        ("encoder.conv2.weight".to_owned(), vec![3, d, d], F16),
        ("encoder.conv2.bias".to_owned(), vec![1, d], F32),
        ("encoder.ln_post.weight".to_owned(), vec![d], F32),
        ("encoder.ln_post.bias".to_owned(), vec![d], F32),
    ];
    let block = |t: &mut Vec<_>, p: String, attn: &[&str]| {
        t.push((format!("{p}.mlp_ln.weight"), vec![d], F32));
        t.push((format!("{p}.mlp_ln.bias"), vec![d], F32));
        t.push((format!("{p}.mlp.0.weight"), vec![d, 4 * d], F16));
        t.push((format!("{p}.mlp.0.bias"), vec![4 * d], F32));
        t.push((format!("{p}.mlp.2.weight"), vec![4 * d, d], F16));
        t.push((format!("{p}.mlp.2.bias"), vec![d], F32));
        for a in attn {
            t.push((format!("{p}.{a}_ln.weight"), vec![d], F32));
            t.push((format!("{p}.{a}_ln.bias"), vec![d], F32));
            t.push((format!("{p}.{a}.query.weight"), vec![d, d], F16));
            t.push((format!("{p}.{a}.query.bias"), vec![d], F32));
            t.push((format!("{p}.{a}.key.weight"), vec![d, d], F16));
            t.push((format!("{p}.{a}.value.weight"), vec![d, d], F16));
            t.push((format!("{p}.{a}.value.bias"), vec![d], F32));
            t.push((format!("{p}.{a}.out.weight"), vec![d, d], F16));
            t.push((format!("{p}.{a}.out.bias"), vec![d], F32));
        }
    };
    for i in 0..h.n_audio_layer {
        block(&mut t, format!("encoder.blocks.{i}"), &["attn"]);
    }
    t.push((
        "decoder.positional_embedding".to_owned(),
        vec![d, u(h.n_text_ctx)],
        F32,
    ));
    t.push((
        "decoder.token_embedding.weight".to_owned(),
        vec![d, u(h.n_vocab)],
        F16,
    ));
    t.push(("decoder.ln.weight".to_owned(), vec![d], F32));
    t.push(("decoder.ln.bias".to_owned(), vec![d], F32));
    for i in 0..h.n_text_layer {
        block(
            &mut t,
            format!("decoder.blocks.{i}"),
            &["attn", "cross_attn"],
        );
    }
    t
}

pub struct Writer<W: Write> {
    w: W,
}

impl<W: Write> Writer<W> {
    /// Writes everything before the tensors.
    pub fn new(
        mut w: W,
        h: &Hparams,
        filters: &[f32],
        n_fft_bins: usize,
        vocab: &[Vec<u8>],
    ) -> Result<Self> {
        ensure!(
            filters.len() == h.n_mels as usize * n_fft_bins,
            "filterbank has {} values, expected {} × {n_fft_bins}",
            filters.len(),
            h.n_mels
        );
        w.write_all(&MAGIC.to_le_bytes())?;
        for v in h.to_array() {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&h.n_mels.to_le_bytes())?;
        w.write_all(&(n_fft_bins as i32).to_le_bytes())?;
        for f in filters {
            w.write_all(&f.to_le_bytes())?;
        }
        w.write_all(&(vocab.len() as i32).to_le_bytes())?;
        for tok in vocab {
            w.write_all(&(tok.len() as u32).to_le_bytes())?;
            w.write_all(tok)?;
        }
        Ok(Self { w })
    }

    /// `ne` innermost first (the reverse of a PyTorch shape); `data` little-endian, in `ttype`.
    pub fn tensor(&mut self, name: &str, ne: &[usize], ttype: GgmlType, data: &[u8]) -> Result<()> {
        let numel: usize = ne.iter().product();
        ensure!(
            data.len() == numel * ttype.size(),
            "tensor {name}: {} bytes for {ne:?} of {ttype:?}",
            data.len()
        );
        let w = &mut self.w;
        w.write_all(&(ne.len() as i32).to_le_bytes())?;
        w.write_all(&(name.len() as i32).to_le_bytes())?;
        w.write_all(&(ttype as i32).to_le_bytes())?;
        for &n in ne {
            w.write_all(&(n as i32).to_le_bytes())?;
        }
        w.write_all(name.as_bytes())?;
        w.write_all(data)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub ne: Vec<usize>,
    pub ttype: GgmlType,
    /// Byte offset of the data in the file.
    pub offset: u64,
}

impl TensorInfo {
    pub fn nbytes(&self) -> usize {
        self.ne.iter().product::<usize>() * self.ttype.size()
    }
}

/// A parsed ggml file: everything but the tensor data, which `read_tensor` fetches.
#[derive(Debug, Clone)]
pub struct GgmlFile {
    pub hparams: Hparams,
    pub n_fft_bins: usize,
    pub filters: Vec<f32>,
    pub vocab: Vec<Vec<u8>>,
    pub tensors: BTreeMap<String, TensorInfo>,
}

impl GgmlFile {
    /// Parses the headers and checks the file is one whisper.cpp will load.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        Self::parse(BufReader::new(file), len)
            .with_context(|| format!("{} is not a usable whisper ggml file", path.display()))
    }

    fn parse<R: Read + Seek>(mut r: R, file_len: u64) -> Result<Self> {
        let magic = read_i32(&mut r)? as u32;
        ensure!(magic == MAGIC, "bad magic {magic:#010x}");
        let mut a = [0i32; 11];
        for v in &mut a {
            *v = read_i32(&mut r)?;
        }
        let hparams = Hparams::from_array(a);
        hparams.check()?;

        let n_mel = read_i32(&mut r)?;
        let n_fft_bins = read_i32(&mut r)?;
        ensure!(
            n_mel == hparams.n_mels && (1..=4096).contains(&n_fft_bins),
            "filterbank {n_mel} × {n_fft_bins} does not fit n_mels {}",
            hparams.n_mels
        );
        let n_fft_bins = n_fft_bins as usize;
        let mut raw = vec![0u8; n_mel as usize * n_fft_bins * 4];
        r.read_exact(&mut raw).context("truncated filterbank")?;
        let filters = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();

        let n_tokens = read_i32(&mut r)?;
        ensure!(
            (0..=hparams.n_vocab).contains(&n_tokens),
            "{n_tokens} tokens for n_vocab {}",
            hparams.n_vocab
        );
        let mut vocab = Vec::with_capacity(n_tokens as usize);
        for _ in 0..n_tokens {
            let len = read_i32(&mut r)? as u32 as usize;
            ensure!(len <= 1024, "token of {len} bytes");
            let mut tok = vec![0u8; len];
            r.read_exact(&mut tok).context("truncated vocabulary")?;
            vocab.push(tok);
        }

        // whisper.cpp looks the blank token up with `std::map::at` when suppressing blanks (on
        // by default): without it, a C++ exception aborts the process mid-transcription.
        ensure!(
            vocab.iter().any(|t| t == b" "),
            "the vocabulary has no \" \" token (whisper.cpp would abort)"
        );

        let mut tensors = BTreeMap::new();
        let mut pos = r.stream_position()?;
        while pos < file_len {
            let n_dims = read_i32(&mut r)?;
            let name_len = read_i32(&mut r)?;
            let ttype = GgmlType::from_code(read_i32(&mut r)?)?;
            ensure!(
                (1..=4).contains(&n_dims) && (1..=256).contains(&name_len),
                "bad tensor header at byte {pos}"
            );
            let ne = (0..n_dims)
                .map(|_| read_i32(&mut r).map(|v| v.max(0) as usize))
                .collect::<Result<Vec<_>>>()?;
            let mut name = vec![0u8; name_len as usize];
            r.read_exact(&mut name).context("truncated tensor name")?;
            let name = String::from_utf8(name).context("tensor name is not UTF-8")?;
            let info = TensorInfo {
                ne,
                ttype,
                offset: r.stream_position()?,
            };
            pos = info.offset + info.nbytes() as u64;
            ensure!(
                pos <= file_len,
                "tensor {name} runs past the end of the file"
            );
            r.seek(SeekFrom::Start(pos))?;
            ensure!(
                tensors.insert(name.clone(), info).is_none(),
                "tensor {name} appears twice"
            );
        }

        let file = Self {
            hparams,
            n_fft_bins,
            filters,
            vocab,
            tensors,
        };
        file.check_tensors()?;
        Ok(file)
    }

    fn check_tensors(&self) -> Result<()> {
        let expected = expected_tensors(&self.hparams);
        for (name, ne, ttype) in &expected {
            let t = self
                .tensors
                .get(name)
                .with_context(|| format!("tensor {name} is missing"))?;
            ensure!(
                &t.ne == ne && t.ttype == *ttype,
                "tensor {name} is {:?} {:?}, whisper.cpp expects {ne:?} {ttype:?}",
                t.ne,
                t.ttype
            );
        }
        ensure!(
            self.tensors.len() == expected.len(),
            "{} tensors, whisper.cpp expects {} (unknown names make it refuse the file)",
            self.tensors.len(),
            expected.len()
        );
        Ok(())
    }

    pub fn read_tensor(&self, path: &Path, name: &str) -> Result<Vec<u8>> {
        let t = self
            .tensors
            .get(name)
            .with_context(|| format!("no tensor {name}"))?;
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(t.offset))?;
        let mut data = vec![0u8; t.nbytes()];
        f.read_exact(&mut data)?;
        Ok(data)
    }
}

fn read_i32(r: &mut impl Read) -> Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).context("unexpected end of file")?;
    Ok(i32::from_le_bytes(b))
}
