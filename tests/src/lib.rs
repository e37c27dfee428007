//! Headless host harness for the bundled Sentio plugin.
//!
//! The integration tests in `tests/tests/` load the *bundled* binaries
//! (`target/bundled/Sentio.clap`, `target/bundled/Sentio.vst3`,
//! `target/bundled-debug/Sentio.clap`), never the plugin crate itself, so they test exactly what
//! ships. Build the bundles first with `cargo xtask bundle-all`.
//!
//! - [`clap_host::ClapHost`]: a CLAP host on clack-host (params, audio-ports-config, thread-check
//!   and host-params extensions; MIDI CC decoded from the plugin's output events).
//! - [`vst3_host::Vst3Host`]: a VST3 host on truce-rack-vst3 (stereo, process only).
//! - [`osc::OscListener`]: a UDP OSC receiver recording every message with its arrival time.
//! - [`audio`]: the demo recording (decoded, resampled), synthetic signals, block-size plans,
//!   bit-exact comparison.
//! - [`paths`]: bundle locations; [`rss_bytes`], [`serial`], [`child`]: process helpers.

pub mod audio;
pub mod child;
pub mod clap_host;
pub mod contract;
pub mod osc;
pub mod paths;
pub mod vst3_host;
pub mod xvfb;

pub use clap_host::{ClapHost, Layout, MidiCc, ParamOut, RunOptions};
pub use osc::{OscListener, OscRecord, OscStatus};
pub use vst3_host::Vst3Host;

use std::sync::{Mutex, MutexGuard};

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`, falling back to
/// `/proc/self/statm` × 4096).
pub fn rss_bytes() -> u64 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("VmRSS:") {
                let kb: u64 = rest
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0);
                if kb > 0 {
                    return kb * 1024;
                }
            }
        }
    }
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("parse /proc/self/statm");
    pages * 4096
}

/// Tests in one test binary run on parallel threads; the timing- and memory-sensitive ones take
/// this lock so they do not disturb each other on a 2-core machine. A test that panicked while
/// holding it does not poison the others.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
