//! Audio files → float samples, with symphonia (WAV, FLAC, MP3, and what else it probes).

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

pub struct Audio {
    pub sample_rate: u32,
    /// One vector per channel.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.sample_rate as f64
    }
}

pub fn decode(path: &Path) -> Result<Audio> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{} is a directory, not an audio file", path.display());
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => {
                anyhow::anyhow!(
                    "{}: unsupported or unrecognised audio format",
                    path.display()
                )
            }
            other => anyhow::anyhow!("{}: cannot read audio: {other}", path.display()),
        })?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .with_context(|| format!("{}: no audio track", path.display()))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| anyhow::anyhow!("{}: unsupported codec: {e}", path.display()))?;
    let mut sample_rate = track.codec_params.sample_rate;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut interleaved: Option<SampleBuffer<f32>> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => bail!("{}: corrupt audio: {e}", path.display()),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet loses that packet, not the file.
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => bail!("{}: cannot decode: {e}", path.display()),
        };
        let spec = *decoded.spec();
        sample_rate = Some(spec.rate);
        let n_ch = spec.channels.count();
        if channels.is_empty() {
            channels = vec![Vec::new(); n_ch];
        }
        let buf = match &mut interleaved {
            Some(b) if b.capacity() >= decoded.capacity() * n_ch => b,
            _ => interleaved.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        for frame in buf.samples().chunks(n_ch) {
            for (ch, s) in channels.iter_mut().zip(frame) {
                ch.push(*s);
            }
        }
    }
    let sample_rate =
        sample_rate.with_context(|| format!("{}: unknown sample rate", path.display()))?;
    if channels.first().is_none_or(Vec::is_empty) {
        bail!("{}: contains no audio", path.display());
    }
    Ok(Audio {
        sample_rate,
        channels,
    })
}
