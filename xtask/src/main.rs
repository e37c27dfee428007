//! Project tasks: `cargo xtask <task>`.
//!
//! - `bundle …`      nice-plug's bundler (e.g. `cargo xtask bundle sentio --release`)
//! - `setup`         fetch and verify the ONNX Runtime library (PyPI wheel) into `models/runtime/`,
//!   MiniLM's tokenizer and weights into `models/text-encoder/` and `models/text/`, Silero VAD
//!   into `models/vad/`, and the Whisper models, converted to whisper.cpp's format, into
//!   `models/whisper/`
//! - `bundle-all`    the release bundles plus a debug bundle built with `assert_process_allocs`
//!   (in `target/bundled-debug/`), which the host tests load
//! - `demo`          build the CLI and analyse the built-in demo live, sending OSC to 127.0.0.1:9000
//! - `test`          bundle-all, then every test in the workspace
//! - `install`       release bundles into ~/.clap and ~/.vst3, the runtime and the models
//!   (acoustic, text, VAD, Whisper) into ~/.local/share/sentio (where the plugin looks for them)
//! - `train [ARGS]`  the acoustic model end to end: release CLI (its `features` subcommand is the
//!   only feature extractor), the pinned venv in `models/acoustic/.venv`, then
//!   `models/acoustic/train.py ARGS` (default: CV + robustness + final model + ONNX export)
//! - `lint`          what CI checks besides the tests: rustfmt, clippy with `-D warnings`, and that
//!   the `cuda` feature compiles
//! - `validate [SRC]` build free-audio's clap-validator from its source (default
//!   `../shared/tools/clap-validator`; built into `target/clap-validator`, never beside the
//!   source) and run it on the release `.clap`; fails on any failed test
//! - `bench`         audio-thread cost of `process()`, front-end speed against librosa, model,
//!   update and transcript latency, Whisper's real-time factor against faster-whisper

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod setup;
mod tools;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    nice_plug_xtask::chdir_workspace_root()?;
    // Every task but `setup` compiles whisper.cpp somewhere.
    if task != "setup" {
        tools::ensure_cmake()?;
    }
    match task.as_str() {
        "setup" => {
            setup::setup()?;
            setup::setup_text()?;
            setup::setup_vad()?;
            setup::setup_speech()
        }
        "bundle-all" => bundle_all(),
        "demo" => demo(&rest),
        "test" => {
            // target/ after a full run: ~5 GB (README); the models ~0.6 GB.
            tools::warn_if_low_disk(6.0, "cargo xtask test");
            tools::ensure_packages(&[tools::APP_BUILD, tools::UI_TESTS], "cargo xtask test")?;
            setup::setup()?;
            setup::setup_text()?;
            setup::setup_vad()?;
            setup::setup_speech()?;
            bundle_all()?;
            cargo(&["test", "--workspace"], &rest)
        }
        "lint" => {
            tools::ensure_packages(&[tools::APP_BUILD], "cargo xtask lint")?;
            run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
            cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &rest,
            )?;
            // The CUDA execution provider must at least compile (running it needs
            // onnxruntime-gpu and a GPU).
            cargo(&["check", "-p", "sentio", "--features", "cuda"], &[])
        }
        "validate" => validate(rest.first().map(String::as_str)),
        "bench" => bench(),
        "train" => train(&rest),
        "install" => install(),
        _ => nice_plug_xtask::main_with_args("cargo xtask", std::iter::once(task).chain(rest)),
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo(args: &[&str], extra: &[String]) -> Result<()> {
    run(Command::new("cargo").args(args).args(extra))
}

fn bundle(args: &[&str]) -> Result<()> {
    nice_plug_xtask::main_with_args(
        "cargo xtask",
        ["bundle", "sentio"]
            .iter()
            .chain(args)
            .map(|s| s.to_string()),
    )
}

/// Copy a file or a bundle directory.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

fn bundle_all() -> Result<()> {
    // The debug bundle goes first: the release bundle then takes `target/bundled/` for itself.
    bundle(&["--features", "assert_process_allocs"])?;
    let debug_dir = PathBuf::from("target/bundled-debug");
    let _ = std::fs::remove_dir_all(&debug_dir);
    std::fs::create_dir_all(&debug_dir)?;
    for name in ["Sentio.clap", "Sentio.vst3"] {
        copy_tree(
            &Path::new("target/bundled").join(name),
            &debug_dir.join(name),
        )?;
    }
    bundle(&["--release"])
}

fn demo(extra: &[String]) -> Result<()> {
    tools::warn_if_low_disk(2.0, "cargo xtask demo");
    setup::setup()?;
    setup::setup_text()?;
    setup::setup_vad()?;
    setup::setup_speech()?;
    cargo(
        &["build", "--release", "-p", "sentio", "--bin", "sentio"],
        &[],
    )?;
    eprintln!(
        "Analysing the demo live (RAVDESS clips, see demo/README.md); OSC goes to 127.0.0.1:9000."
    );
    let mut cmd = Command::new("target/release/sentio");
    cmd.args([
        "analyze",
        "demo/sentio-demo.flac",
        "--osc",
        "127.0.0.1:9000",
        "--realtime",
        "--speech",
    ]);
    cmd.args(extra);
    run(&mut cmd)
}

fn train(extra: &[String]) -> Result<()> {
    cargo(&["build", "-p", "sentio", "--release"], &[])?;
    let python = venv(
        Path::new("models/acoustic/.venv"),
        &["-r", "models/acoustic/requirements.txt"],
    )?;
    // v4 end to end (models/acoustic/README.md); `cargo xtask train v3 ARGS…` runs v3's train.py.
    if extra.first().map(String::as_str) == Some("v3") {
        let default = ["--cv", "--robustness", "--final", "--version", "v3"].map(String::from);
        let args = if extra.len() > 1 {
            &extra[1..]
        } else {
            &default[..]
        };
        return run(Command::new(python)
            .arg("models/acoustic/train.py")
            .args(args));
    }
    run(Command::new("bash")
        .arg("models/acoustic/v4/run_all.sh")
        .arg(python))
}

/// A Python venv at `dir` (created when missing) with `packages` installed (pip arguments);
/// returns its interpreter.
fn venv(dir: &Path, packages: &[&str]) -> Result<PathBuf> {
    if !dir.join("bin/python").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
    }
    // Absolute but not resolved: bin/python is a link to the base interpreter, and only the
    // link's own path makes Python use the venv.
    let python = std::path::absolute(dir.join("bin/python"))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(packages))?;
    Ok(python)
}

fn validate(src: Option<&str>) -> Result<()> {
    let src = PathBuf::from(src.unwrap_or("../shared/tools/clap-validator"));
    if !src.join("Cargo.toml").is_file() {
        bail!(
            "no clap-validator source at {} (pass its folder: cargo xtask validate PATH)",
            src.display()
        );
    }
    let target = std::path::absolute("target/clap-validator")?;
    run(Command::new("cargo")
        .args(["build", "--locked", "--release"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target))?;
    let clap = Path::new("target/bundled/Sentio.clap");
    if !clap.exists() {
        bundle(&["--release"])?;
    }
    run(Command::new(target.join("release/clap-validator"))
        .arg("validate")
        .arg(clap))
}

fn bench() -> Result<()> {
    setup::setup()?;
    setup::setup_text()?;
    setup::setup_vad()?;
    setup::setup_speech()?;
    // The peers measured in the same run: librosa and ONNX Runtime from Python, and
    // faster-whisper (in its own venv: it pins its own onnxruntime and tokenizers).
    run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "-r",
        "models/frontend_reference/requirements.txt",
        "onnxruntime==1.31.1",
    ]))?;
    let python = venv(Path::new("target/bench-venv"), &["faster-whisper==1.2.1"])?;
    bundle(&["--release"])?;
    run(Command::new("cargo")
        .args([
            "run",
            "--release",
            "-p",
            "sentio-host-tests",
            "--bin",
            "bench",
            "--",
        ])
        .env("SENTIO_BENCH_PYTHON", python))
}

fn install() -> Result<()> {
    setup::setup()?;
    setup::setup_text()?;
    setup::setup_vad()?;
    setup::setup_speech()?;
    bundle(&["--release"])?;
    let home = PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?);
    // An empty XDG_DATA_HOME counts as unset (XDG spec), as in the plugin's `data_dir`.
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("sentio"),
        None => home.join(".local/share/sentio"),
    };
    let copies = [
        ("target/bundled/Sentio.clap", home.join(".clap/Sentio.clap")),
        ("target/bundled/Sentio.vst3", home.join(".vst3/Sentio.vst3")),
        (
            "models/runtime/libonnxruntime.so.1.31.1",
            data.join("runtime/libonnxruntime.so.1.31.1"),
        ),
        (
            "models/acoustic/sentio-ser.onnx",
            data.join("models/sentio-ser.onnx"),
        ),
        (
            "models/acoustic/sentio-ser.json",
            data.join("models/sentio-ser.json"),
        ),
        (
            "models/acoustic/base/sentio-ser.onnx",
            data.join("models/base/sentio-ser.onnx"),
        ),
        (
            "models/acoustic/base/sentio-ser.json",
            data.join("models/base/sentio-ser.json"),
        ),
        (
            "models/text/text-emotion.onnx",
            data.join("models/text-emotion.onnx"),
        ),
        (
            "models/text/minilm-l6-v2.safetensors",
            data.join("models/minilm-l6-v2.safetensors"),
        ),
        (
            "models/text-encoder/tokenizer.json",
            data.join("text-encoder/tokenizer.json"),
        ),
        (
            "models/vad/silero_vad.onnx",
            data.join("vad/silero_vad.onnx"),
        ),
        (
            "models/whisper/tiny.en/ggml-tiny.en.bin",
            data.join("whisper/tiny.en/ggml-tiny.en.bin"),
        ),
        (
            "models/whisper/base/ggml-base.bin",
            data.join("whisper/base/ggml-base.bin"),
        ),
    ];
    for (from, to) in copies {
        let from = Path::new(from);
        if !from.exists() {
            eprintln!("skipping {} (not built)", from.display());
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        copy_tree(from, &to)?;
        eprintln!("installed {}", to.display());
    }
    Ok(())
}
