//! Reader (and a small writer, for tests) of CTranslate2's `model.bin`, binary version 6.
//!
//! Layout, little-endian: `u32 version, str spec_name, u32 revision, u32 n_vars,
//! n_vars × (str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, bytes),
//! u32 n_aliases, n_aliases × (str alias, str target)`, where `str` is a u16 length
//! followed by that many bytes (NUL-padded).

use anyhow::{bail, ensure, Context, Result};
use half::{bf16, f16};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

pub const BINARY_VERSION: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    pub fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => bail!("unknown CTranslate2 dtype code {code}"),
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Self::F32 => 0,
            Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 => 3,
            Self::F16 => 4,
            Self::BF16 => 5,
        }
    }

    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Variable {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Values as f32, whatever the stored float type.
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let d = &self.data;
        Ok(match self.dtype {
            DType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            DType::F16 => d
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => d
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            // Quantized weights come with separate scale variables; converting them is out of scope.
            other => bail!("expected a float variable, found {other:?}"),
        })
    }

    /// An integer scalar (CTranslate2 stores flags and head counts this way).
    pub fn scalar_i64(&self) -> Result<i64> {
        ensure!(self.numel() == 1, "not a scalar: shape {:?}", self.shape);
        let d = &self.data;
        Ok(match self.dtype {
            DType::I8 => d[0] as i8 as i64,
            DType::I16 => i16::from_le_bytes([d[0], d[1]]) as i64,
            DType::I32 => i32::from_le_bytes(d[..4].try_into().unwrap()) as i64,
            other => bail!("expected an integer scalar, found {other:?}"),
        })
    }

    /// The rows `start..start + n` of a tensor whose first axis is the row axis.
    pub fn rows(&self, start: usize, n: usize) -> Result<Variable> {
        let total = *self.shape.first().context("rows() of a scalar")?;
        ensure!(
            start + n <= total,
            "rows {start}..{} out of {total}",
            start + n
        );
        let row_bytes = self.data.len() / total.max(1);
        let mut shape = self.shape.clone();
        shape[0] = n;
        Ok(Variable {
            shape,
            dtype: self.dtype,
            data: self.data[start * row_bytes..(start + n) * row_bytes].to_vec(),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub spec_name: String,
    pub spec_revision: u32,
    pub variables: BTreeMap<String, Variable>,
    /// alias name → target variable name
    pub aliases: BTreeMap<String, String>,
}

impl Model {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&bytes).with_context(|| format!("parsing CTranslate2 model {}", path.display()))
    }

    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = bytes;
        let version = read_u32(&mut r)?;
        ensure!(
            version == BINARY_VERSION,
            "unsupported CTranslate2 binary version {version} (expected {BINARY_VERSION})"
        );
        let spec_name = read_str(&mut r)?;
        let spec_revision = read_u32(&mut r)?;
        let n_vars = read_u32(&mut r)?;
        let mut variables = BTreeMap::new();
        for _ in 0..n_vars {
            let name = read_str(&mut r)?;
            let rank = read_u8(&mut r)? as usize;
            let shape = (0..rank)
                .map(|_| read_u32(&mut r).map(|d| d as usize))
                .collect::<Result<Vec<_>>>()?;
            let dtype = DType::from_code(read_u8(&mut r)?)?;
            let nbytes = read_u32(&mut r)? as usize;
            let numel: usize = shape.iter().product();
            ensure!(
                nbytes == numel * dtype.size(),
                "variable {name}: {nbytes} bytes for shape {shape:?} of {dtype:?}"
            );
            ensure!(r.len() >= nbytes, "variable {name}: file truncated");
            let (data, rest) = r.split_at(nbytes);
            r = rest;
            variables.insert(
                name,
                Variable {
                    shape,
                    dtype,
                    data: data.to_vec(),
                },
            );
        }
        let n_aliases = read_u32(&mut r)?;
        let mut aliases = BTreeMap::new();
        for _ in 0..n_aliases {
            let alias = read_str(&mut r)?;
            let target = read_str(&mut r)?;
            aliases.insert(alias, target);
        }
        ensure!(r.is_empty(), "{} trailing bytes after the aliases", r.len());
        Ok(Self {
            spec_name,
            spec_revision,
            variables,
            aliases,
        })
    }

    pub fn get(&self, name: &str) -> Result<&Variable> {
        let target = self.aliases.get(name).map_or(name, String::as_str);
        self.variables
            .get(target)
            .with_context(|| format!("CTranslate2 model has no variable `{name}`"))
    }

    /// Serialise in the same layout `parse` reads; lets tests build synthetic models.
    pub fn write(&self, w: &mut impl Write) -> Result<()> {
        w.write_all(&BINARY_VERSION.to_le_bytes())?;
        write_str(w, &self.spec_name)?;
        w.write_all(&self.spec_revision.to_le_bytes())?;
        w.write_all(&(self.variables.len() as u32).to_le_bytes())?;
        for (name, v) in &self.variables {
            write_str(w, name)?;
            w.write_all(&[v.shape.len() as u8])?;
            for &d in &v.shape {
                w.write_all(&(d as u32).to_le_bytes())?;
            }
            w.write_all(&[v.dtype.code()])?;
            w.write_all(&(v.data.len() as u32).to_le_bytes())?;
            w.write_all(&v.data)?;
        }
        w.write_all(&(self.aliases.len() as u32).to_le_bytes())?;
        for (alias, target) in &self.aliases {
            write_str(w, alias)?;
            write_str(w, target)?;
        }
        Ok(())
    }
}

fn read_u8(r: &mut &[u8]) -> Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b).context("unexpected end of file")?;
    Ok(b[0])
}

fn read_u16(r: &mut &[u8]) -> Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b).context("unexpected end of file")?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut &[u8]) -> Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).context("unexpected end of file")?;
    Ok(u32::from_le_bytes(b))
}

fn read_str(r: &mut &[u8]) -> Result<String> {
    let len = read_u16(r)? as usize;
    ensure!(r.len() >= len, "unexpected end of file in a string");
    let (s, rest) = r.split_at(len);
    *r = rest;
    let s = std::str::from_utf8(s).context("non-UTF-8 name")?;
    // The writer counts a terminating NUL in the length.
    Ok(s.trim_end_matches('\0').to_owned())
}

fn write_str(w: &mut impl Write, s: &str) -> Result<()> {
    w.write_all(&((s.len() + 1) as u16).to_le_bytes())?;
    w.write_all(s.as_bytes())?;
    w.write_all(&[0])?;
    Ok(())
}
