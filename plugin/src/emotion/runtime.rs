//! Finding and loading ONNX Runtime and the model files.
//!
//! The runtime library is loaded by absolute path (never from the system search path, where a
//! stale copy may lurk), once per process. Search order, first hit wins:
//! 1. `SENTIO_ORT_LIB` (the library file) / `SENTIO_MODEL` (the `.onnx` file; its `.json` beside it)
//! 2. the per-user data folder: `$SENTIO_DATA_DIR`, else `$XDG_DATA_HOME/sentio`, else
//!    `~/.local/share/sentio` — `runtime/libonnxruntime.so.1.31.1` and `models/sentio-ser.onnx`
//!    (the base model: `models/base/sentio-ser.onnx`; `cargo xtask install` puts them there)
//! 3. the source tree this binary was built from (`models/runtime/`, `models/acoustic/`), so
//!    developers need no install step.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use super::ExecutionBackend;

pub const RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";
pub const MODEL_FILE: &str = "sentio-ser.onnx";

/// Execution-provider preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum Device {
    /// CUDA when it works, else CPU, quietly.
    #[default]
    Auto,
    Cpu,
    /// CUDA requested: a failure is reported (and CPU is used).
    Cuda,
}

fn source_tree() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An environment variable that is set and not empty (the XDG spec treats an empty
/// `XDG_DATA_HOME` as unset; a relative path would follow the host's working directory).
fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The per-user data folder.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = env_dir("SENTIO_DATA_DIR") {
        return Some(d);
    }
    if let Some(d) = env_dir("XDG_DATA_HOME") {
        return Some(d.join("sentio"));
    }
    env_dir("HOME").map(|h| h.join(".local/share/sentio"))
}

/// The first existing file among `env_var`, the data folder's `user_rel` and the source tree's
/// `tree_rel`; the error lists where it looked and says how to fix it.
pub fn find(
    env_var: &str,
    user_rel: &str,
    tree_rel: &str,
    what: &str,
    fix: &str,
) -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(format!(
            "{env_var} points to {}, which does not exist",
            p.display()
        ));
    }
    let mut candidates: Vec<PathBuf> = data_dir().map(|d| d.join(user_rel)).into_iter().collect();
    candidates.push(source_tree().join(tree_rel));
    for c in candidates {
        if c.is_file() {
            return std::fs::canonicalize(&c).map_err(|e| format!("{}: {e}", c.display()));
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "{what} not found (looked in {}); {fix}, or set {env_var}",
        tried.join(", ")
    ))
}

pub fn find_runtime() -> Result<PathBuf, String> {
    find(
        "SENTIO_ORT_LIB",
        &format!("runtime/{RUNTIME_FILE}"),
        &format!("models/runtime/{RUNTIME_FILE}"),
        "ONNX Runtime library",
        "run `cargo xtask setup` in the Sentio source tree",
    )
}

/// Which shipped acoustic model: the encoder blocks of Whisper tiny.en (the default: the
/// lighter one, about 12 ms a window) or of Whisper base (larger and slower, about 21 ms; its
/// figures are in the model card). `SENTIO_MODEL` overrides either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum AcousticModel {
    #[default]
    #[value(name = "tiny.en")]
    #[serde(rename = "tiny.en")]
    TinyEn,
    #[value(name = "base")]
    #[serde(rename = "base")]
    Base,
}

impl AcousticModel {
    /// Its `.onnx` below the data folder's `models/` and the source tree's `models/acoustic/`.
    pub fn file(self) -> &'static str {
        match self {
            Self::TinyEn => MODEL_FILE,
            Self::Base => "base/sentio-ser.onnx",
        }
    }
}

/// The file of `which` shipped acoustic model.
pub fn find_model_for(which: AcousticModel) -> Result<PathBuf, String> {
    find(
        "SENTIO_MODEL",
        &format!("models/{}", which.file()),
        &format!("models/acoustic/{}", which.file()),
        "emotion model",
        "run `cargo xtask install` in the Sentio source tree",
    )
}

/// The process-wide ONNX Runtime environment, loaded on first use.
pub fn environment() -> Result<&'static Environment, String> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let lib = find_runtime()?;
        load(&lib)
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn load(lib: &Path) -> Result<Environment, String> {
    ort::init_from(lib)
        .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
        .with_name("sentio")
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
}

/// A one-thread session builder on `device`: CUDA for `Auto` and `Cuda` when this build and
/// machine have it, else CPU. The note says why a CUDA request fell back (empty otherwise).
/// Every ONNX model of the plugin (acoustic, VAD, sentence encoder, text head) is built here, so
/// they all follow the one device setting.
pub fn session_builder(
    device: Device,
) -> Result<(SessionBuilder, ExecutionBackend, String), String> {
    let builder = Session::builder(environment()?)
        .map_err(|e| e.to_string())?
        .with_intra_threads(1)
        .map_err(|e| e.to_string())?;
    Ok(match device {
        Device::Cpu => (builder, ExecutionBackend::Cpu, String::new()),
        Device::Auto | Device::Cuda => with_cuda(builder, device),
    })
}

#[cfg(feature = "cuda")]
fn with_cuda(
    builder: SessionBuilder,
    device: Device,
) -> (SessionBuilder, ExecutionBackend, String) {
    let cuda = ort::ep::CUDA::default().build().error_on_failure();
    match builder.with_execution_providers([cuda]) {
        Ok(b) => (b, ExecutionBackend::Cuda, String::new()),
        Err(e) => {
            let note = if device == Device::Cuda {
                format!("CUDA requested but unavailable ({e}); running on CPU")
            } else {
                String::new()
            };
            (e.recover(), ExecutionBackend::Cpu, note)
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(
    builder: SessionBuilder,
    device: Device,
) -> (SessionBuilder, ExecutionBackend, String) {
    let note = if device == Device::Cuda {
        "CUDA requested but this build has no CUDA support (build with --features cuda); running on CPU".into()
    } else {
        String::new()
    };
    (builder, ExecutionBackend::Cpu, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_variable_counts_as_unset() {
        // A name no other test reads: the environment is shared by the test threads.
        let name = "SENTIO_TEST_ENV_DIR_EMPTY";
        std::env::set_var(name, "");
        assert_eq!(env_dir(name), None);
        std::env::set_var(name, "/data/sentio");
        assert_eq!(env_dir(name), Some(PathBuf::from("/data/sentio")));
        std::env::remove_var(name);
        assert_eq!(env_dir(name), None);
    }
}
