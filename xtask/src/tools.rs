//! Build tools and system packages the tasks need, provisioned on a fresh machine.
//!
//! The README promises that `cargo xtask demo` and `cargo xtask test` work on a machine with only
//! the Rust toolchain, a C/C++ compiler and python3 with pip. What else they need comes from here:
//!
//! - **cmake** (whisper.cpp's build): the one on PATH, or else the `cmake` wheel from PyPI unpacked
//!   into `target/tools/cmake` and put first on PATH for every cargo this task runs.
//! - **libclang** is not needed: `.cargo/config.toml` sets `WHISPER_DONT_GENERATE_BINDINGS`, so
//!   whisper-rs-sys uses the bindings it ships instead of running bindgen.
//! - **System packages** that only Debian provides (the standalone app's ALSA/JACK headers, Chromium
//!   and Xvfb for the UI tests): installed with apt-get when running as root, otherwise the task stops
//!   with one line naming the command to run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Pinned: whisper.cpp 1.8's CMakeLists are tested with 3.x; cmake 4 dropped old policies.
const CMAKE_WHEEL: &str = "cmake==3.31.6";
const CMAKE_DIR: &str = "target/tools/cmake";

fn works(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Put `dir` first on this process's PATH, so every cargo (and build script) it starts sees it.
fn prepend_path(dir: &Path) -> Result<()> {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![std::path::absolute(dir)?];
    dirs.extend(std::env::split_paths(&old));
    // Single-threaded at this point (before any cargo child is spawned).
    std::env::set_var("PATH", std::env::join_paths(dirs)?);
    Ok(())
}

/// cmake on PATH, fetched from PyPI when the machine has none.
pub fn ensure_cmake() -> Result<()> {
    let bin = PathBuf::from(CMAKE_DIR).join("cmake/data/bin");
    if !bin.join("cmake").is_file() {
        if works(Command::new("cmake").arg("--version")) {
            return Ok(());
        }
        eprintln!("cmake is not on PATH: fetching {CMAKE_WHEEL} from PyPI into {CMAKE_DIR}");
        let _ = std::fs::remove_dir_all(CMAKE_DIR);
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-deps", "--only-binary=:all:", "--target", CMAKE_DIR])
            .arg(CMAKE_WHEEL)
            .status()
            .context("cannot run `python3 -m pip` (install Python 3 with pip)")?;
        if !status.success() || !bin.join("cmake").is_file() {
            bail!("pip could not install {CMAKE_WHEEL} (is PyPI reachable?); or install cmake yourself");
        }
    }
    prepend_path(&bin)?;
    if !works(Command::new("cmake").arg("--version")) {
        bail!(
            "{} does not run; install cmake yourself",
            bin.join("cmake").display()
        );
    }
    Ok(())
}

/// How to tell that a Debian package's payload is present without asking dpkg (other distros).
enum Probe {
    Command(&'static str),
    PkgConfig(&'static str),
    /// A shared library known to the dynamic loader.
    Library(&'static str),
    /// Data files only dpkg can vouch for (fonts, Mesa's drivers): assumed present elsewhere.
    DpkgOnly,
}

impl Probe {
    fn present(&self) -> bool {
        match self {
            Probe::Command(c) => works(Command::new("sh").args(["-c", &format!("command -v {c}")])),
            Probe::PkgConfig(p) => works(Command::new("pkg-config").args(["--exists", p])),
            Probe::Library(l) => Command::new("ldconfig")
                .arg("-p")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(l)),
            Probe::DpkgOnly => true,
        }
    }
}

/// A Debian package, and how to see it is there.
pub struct Package(pub &'static str, Probe);

/// The standalone app (`sentio-app`) links ALSA and JACK's headers at build time.
pub const APP_BUILD: &[Package] = &[
    Package("pkg-config", Probe::Command("pkg-config")),
    Package("libasound2-dev", Probe::PkgConfig("alsa")),
    Package("libjack-jackd2-dev", Probe::PkgConfig("jack")),
];

/// The UI tests: the overlay in headless Chromium, the editor in a real X window under Xvfb
/// (rendered by Mesa's software OpenGL).
pub const UI_TESTS: &[Package] = &[
    Package("chromium", Probe::Command("chromium")),
    Package("fonts-dejavu-core", Probe::DpkgOnly),
    Package("xvfb", Probe::Command("Xvfb")),
    Package("xauth", Probe::Command("xauth")),
    Package("libgl1-mesa-dri", Probe::DpkgOnly),
    Package("libgl1", Probe::Library("libGL.so.1")),
    Package("libx11-xcb1", Probe::Library("libX11-xcb.so.1")),
    Package("libxcursor1", Probe::Library("libXcursor.so.1")),
    Package(
        "libxkbcommon-x11-0",
        Probe::Library("libxkbcommon-x11.so.0"),
    ),
];

fn dpkg_installed(name: &str) -> Option<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

/// The packages of `sets` that are missing, installed with apt-get when running as root;
/// otherwise an error that names the command. `why` says what needs them.
pub fn ensure_packages(sets: &[&[Package]], why: &str) -> Result<()> {
    let have_dpkg = dpkg_installed("dpkg").is_some();
    let missing: Vec<&str> = sets
        .iter()
        .flat_map(|s| s.iter())
        .filter(|Package(name, probe)| match dpkg_installed(name) {
            Some(installed) => !installed,
            // Not Debian: trust what can be probed.
            None if !have_dpkg => !probe.present(),
            None => true,
        })
        .map(|Package(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root || !works(Command::new("apt-get").arg("--version")) {
        bail!("{why} needs system packages: run `sudo apt-get install -y --no-install-recommends {list}` (or your distribution's equivalents), then this command again");
    }
    eprintln!("{why} needs system packages; installing with apt-get: {list}");
    let apt = |args: &[&str]| -> Result<()> {
        // apt's progress goes nowhere; its errors (stderr) stay visible.
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .context("cannot run apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}

/// A warning, before a long build, when the disk that holds `target/` has less free space than a
/// build from nothing takes (`need_gb`): the build would otherwise stop minutes later in the
/// linker with "No space left on device". Only a warning: a build that reuses `target/` needs less.
pub fn warn_if_low_disk(need_gb: f64, what: &str) {
    let Ok(out) = Command::new("df").args(["-Pk", "."]).output() else {
        return;
    };
    if let Some(kb) = df_available_kb(&String::from_utf8_lossy(&out.stdout)) {
        let free_gb = kb as f64 / (1024.0 * 1024.0);
        if free_gb < need_gb {
            eprintln!(
                "warning: {free_gb:.1} GB free on this disk; {what} from a clean `target/` takes about {need_gb} GB"
            );
        }
    }
}

/// The "Available" column (KiB) of `df -Pk`'s one data line.
fn df_available_kb(text: &str) -> Option<u64> {
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::df_available_kb;

    #[test]
    fn reads_the_available_column_of_posix_df() {
        let out = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n\
                   /dev/vda         263174212  61524380 188206752      25% /\n";
        assert_eq!(df_available_kb(out), Some(188_206_752));
        assert_eq!(
            df_available_kb("Filesystem 1024-blocks Used Available\n"),
            None
        );
        assert_eq!(df_available_kb(""), None);
    }
}
