//! Test audio: the demo recording (decoded with symphonia, resampled with rubato), synthetic
//! signals, block-size plans and bit-exact comparison.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, Result};
use rubato::audioadapter_buffers::owned::InterleavedOwned;
use rubato::{Fft, FixedSync, Resampler};

use crate::paths;

/// The speech recording the tests feed the plugin.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Mono samples.
    pub samples: Vec<f32>,
    pub rate: u32,
    /// Where it came from (file path or "synthetic").
    pub source: String,
}

impl Demo {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.rate as f64
    }
}

/// The demo, loaded once per process: `$SENTIO_DEMO` (an audio file) or the committed
/// `demo/sentio-demo.flac`. There is no fallback signal: a test must not pass on something weaker.
pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| load_demo().unwrap_or_else(|e| panic!("loading the demo audio: {e:#}")))
}

fn load_demo() -> Result<Demo> {
    let path = std::env::var_os("SENTIO_DEMO")
        .map(PathBuf::from)
        .unwrap_or_else(paths::demo_flac);
    let (samples, rate) = decode_to_mono(&path)?;
    Ok(Demo {
        samples,
        rate,
        source: path.display().to_string(),
    })
}

/// The demo resampled to `rate` (cached per rate).
pub fn demo_at(rate: u32) -> Arc<Vec<f32>> {
    static CACHE: OnceLock<Mutex<HashMap<u32, Arc<Vec<f32>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(v) = cache.lock().unwrap().get(&rate) {
        return v.clone();
    }
    let d = demo();
    let v = Arc::new(
        resample(&d.samples, d.rate, rate)
            .unwrap_or_else(|e| panic!("resampling the demo {} → {rate} Hz: {e:#}", d.rate)),
    );
    cache.lock().unwrap().insert(rate, v.clone());
    v
}

/// Decodes an audio file with the plugin's own decoder and mixes it down to mono. Returns
/// (samples, sample rate).
pub fn decode_to_mono(path: &Path) -> Result<(Vec<f32>, u32)> {
    let audio = sentio::cli::decode::decode(path)?;
    let n = audio.channels.len() as f32;
    let mono = (0..audio.frames())
        .map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / n)
        .collect();
    Ok((mono, audio.sample_rate))
}

/// Resamples a mono signal with rubato's FFT resampler (`process_all`, delay trimmed).
pub fn resample(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to {
        return Ok(x.to_vec());
    }
    let mut r = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| anyhow!("rubato Fft::new({from}, {to}): {e}"))?;
    let input = InterleavedOwned::new_from(x.to_vec(), 1, x.len())
        .map_err(|e| anyhow!("rubato input buffer: {e:?}"))?;
    let out = r
        .process_all(&input, x.len(), None)
        .map_err(|e| anyhow!("rubato process_all: {e}"))?;
    Ok(out.take_data())
}

/// Tone plus white noise, `secs` long: `amp_tone · sin(2π f t) + amp_noise · U(-1, 1)`.
pub fn noise_plus_tone(rate: u32, secs: f64, freq: f32, amp_tone: f32, amp_noise: f32) -> Vec<f32> {
    let n = (rate as f64 * secs) as usize;
    let mut rng = Rng::new(0xdecaf);
    let w = 2.0 * std::f64::consts::PI * freq as f64 / rate as f64;
    (0..n)
        .map(|i| amp_tone * ((w * i as f64).sin() as f32) + amp_noise * rng.uniform())
        .collect()
}

/// RMS level in dBFS.
pub fn rms_dbfs(x: &[f32]) -> f32 {
    if x.is_empty() {
        return -100.0;
    }
    let ms = x.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>() / x.len() as f64;
    (10.0 * (ms + 1e-10).log10()) as f32
}

/// A `secs`-long excerpt of `x` starting just before the first 20 ms window louder than -35 dBFS
/// (so it begins with speech, not with the recording's lead-in).
pub fn speech_excerpt(x: &[f32], rate: u32, secs: f64) -> &[f32] {
    let win = (rate as usize / 50).max(1);
    let len = ((rate as f64 * secs) as usize).min(x.len());
    let mut start = 0;
    let mut i = 0;
    while i + win <= x.len() {
        if rms_dbfs(&x[i..i + win]) > -35.0 {
            start = i.saturating_sub(rate as usize / 20);
            break;
        }
        i += win / 2;
    }
    let start = start.min(x.len() - len);
    &x[start..start + len]
}

/// A small deterministic PRNG (SplitMix64), so the crate needs no `rand`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// How a signal is cut into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockPlan {
    Fixed(usize),
    /// A new uniformly random size in `1..=max` for every call, from a seeded PRNG.
    Random {
        seed: u64,
        max: usize,
    },
}

impl BlockPlan {
    pub fn sizes(&self) -> Box<dyn Iterator<Item = usize>> {
        match *self {
            BlockPlan::Fixed(n) => Box::new(std::iter::repeat(n)),
            BlockPlan::Random { seed, max } => {
                let mut rng = Rng::new(seed);
                Box::new(std::iter::from_fn(move || Some(rng.range(1, max))))
            }
        }
    }

    pub fn max_block(&self) -> usize {
        match *self {
            BlockPlan::Fixed(n) => n,
            BlockPlan::Random { max, .. } => max,
        }
    }
}

impl std::fmt::Display for BlockPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockPlan::Fixed(n) => write!(f, "fixed {n}"),
            BlockPlan::Random { seed, max } => write!(f, "random 1..={max} (seed {seed:#x})"),
        }
    }
}

/// Index of the first sample whose bits differ (or the shorter length if lengths differ).
pub fn first_bit_mismatch(expected: &[f32], got: &[f32]) -> Option<usize> {
    if let Some(i) = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Some(i);
    }
    (expected.len() != got.len()).then(|| expected.len().min(got.len()))
}

/// Panics with a precise message unless `got` is bitwise identical to `expected` (NaN payloads and
/// the sign of zero included).
pub fn assert_bit_exact(expected: &[f32], got: &[f32], what: &str) {
    if let Some(i) = first_bit_mismatch(expected, got) {
        let mismatches = expected
            .iter()
            .zip(got)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        let show = |x: &[f32]| {
            x.get(i)
                .map(|v| format!("{v:e} (bits {:#010x})", v.to_bits()))
                .unwrap_or_else(|| "<missing>".into())
        };
        panic!(
            "{what}: output is not a bit-exact copy of the input: first difference at sample {i}: \
             expected {}, got {}; {mismatches} differing samples of {} (lengths {} / {})",
            show(expected),
            show(got),
            expected.len(),
            expected.len(),
            got.len()
        );
    }
}

/// Stereo test input from a mono signal: left = x, right = x · 0.5 (different bits, so swapped
/// or summed channels are caught).
pub fn stereo_from_mono(x: &[f32]) -> [Vec<f32>; 2] {
    [x.to_vec(), x.iter().map(|v| v * 0.5).collect()]
}

/// At most `secs` seconds of `x`.
pub fn head(x: &[f32], rate: u32, secs: f64) -> &[f32] {
    &x[..((rate as f64 * secs) as usize).min(x.len())]
}
