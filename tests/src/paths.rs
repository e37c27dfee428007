//! Where the bundles live. Paths are resolved relative to the workspace root
//! (`CARGO_MANIFEST_DIR/..`), so tests work from any current directory.

use std::path::{Path, PathBuf};

/// The task that builds every bundle these tests load.
pub const BUILD_HINT: &str = "cargo xtask bundle-all";

/// The cargo workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// Candidate target directories, in order: `$SENTIO_TARGET_DIR`, `$CARGO_TARGET_DIR` (relative
/// paths are taken relative to the workspace root), `<workspace>/target`.
pub fn target_dirs() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut dirs = Vec::new();
    for var in ["SENTIO_TARGET_DIR", "CARGO_TARGET_DIR"] {
        if let Some(v) = std::env::var_os(var) {
            let p = PathBuf::from(v);
            dirs.push(if p.is_absolute() { p } else { root.join(p) });
        }
    }
    dirs.push(root.join("target"));
    dirs
}

/// Finds `<target>/<rel>` in the first candidate target dir that has it; panics with a message
/// naming the build task when none does.
pub fn require_bundle(rel: &str) -> PathBuf {
    let dirs = target_dirs();
    for d in &dirs {
        let p = d.join(rel);
        if p.exists() {
            return p;
        }
    }
    let tried: Vec<String> = dirs
        .iter()
        .map(|d| d.join(rel).display().to_string())
        .collect();
    panic!(
        "plugin bundle `{rel}` not found (looked at: {}). Build the bundles first with \
         `{BUILD_HINT}` from the workspace root {}.",
        tried.join(", "),
        workspace_root().display()
    );
}

/// `target/bundled/Sentio.clap` (release).
pub fn release_clap() -> PathBuf {
    require_bundle("bundled/Sentio.clap")
}

/// `target/bundled/Sentio.vst3` (release).
pub fn release_vst3() -> PathBuf {
    require_bundle("bundled/Sentio.vst3")
}

/// `target/bundled-debug/Sentio.clap` (debug build with `assert_process_allocs`).
pub fn debug_clap() -> PathBuf {
    require_bundle("bundled-debug/Sentio.clap")
}

/// `target/bundled-debug/Sentio.vst3` (debug build with `assert_process_allocs`).
pub fn debug_vst3() -> PathBuf {
    require_bundle("bundled-debug/Sentio.vst3")
}

/// `demo/sentio-demo.flac` in the workspace (may not exist yet).
pub fn demo_flac() -> PathBuf {
    workspace_root().join("demo").join("sentio-demo.flac")
}
