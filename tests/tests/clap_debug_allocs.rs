//! The debug CLAP bundle, built with nice-plug's `assert_process_allocs`: any allocation inside
//! `process()` aborts the process. A child process drives it through block sizes, sample rates
//! and parameter changes and must exit cleanly; the same child with
//! `SENTIO_DEBUG_ALLOC_IN_PROCESS=1` (the plugin then allocates in `process()` on purpose) must
//! die, which proves the check is live.

use std::process::Command;
use std::time::Duration;

use sentio_host_tests::child::run_with_timeout;
use sentio_host_tests::{paths, serial};

const CHILD: &str = env!("CARGO_BIN_EXE_clap_child");
const CANARY_ENV: &str = "SENTIO_DEBUG_ALLOC_IN_PROCESS";

#[test]
fn debug_bundle_processes_without_allocating() {
    let _g = serial();
    let clap = paths::debug_clap();
    let mut cmd = Command::new(CHILD);
    cmd.arg(&clap).env_remove(CANARY_ENV);
    let out = run_with_timeout(cmd, Duration::from_secs(420)).expect("spawn clap_child");
    eprintln!("{}", out.describe());
    assert!(
        out.success() && out.stdout.contains("CHILD OK"),
        "the debug bundle {} must process without allocating (exit 0 and CHILD OK); \
         SIGABRT (signal 6) means an allocation in process(), exit 3 a passthrough mismatch, \
         exit 2 a host/plugin error:\n{}",
        clap.display(),
        out.describe()
    );
}

#[test]
fn allocation_canary_aborts_the_host() {
    let _g = serial();
    let clap = paths::debug_clap();
    let mut cmd = Command::new(CHILD);
    cmd.arg(&clap).env(CANARY_ENV, "1");
    let out = run_with_timeout(cmd, Duration::from_secs(240)).expect("spawn clap_child");
    eprintln!("{}", out.describe());
    assert!(!out.timed_out, "canary child hung:\n{}", out.describe());
    assert!(
        out.stdout.contains("activated 48000 Hz") && out.stdout.contains("processing"),
        "the canary child must get as far as process() (otherwise this proves nothing):\n{}",
        out.describe()
    );
    assert!(
        !out.success() && !out.stdout.contains("CHILD OK"),
        "with {CANARY_ENV}=1 the plugin allocates in process(); assert_process_allocs must \
         abort the host, but the child finished normally:\n{}",
        out.describe()
    );
    assert_ne!(
        out.status.and_then(|s| s.code()),
        Some(2),
        "the child failed with a harness error rather than an abort:\n{}",
        out.describe()
    );
    assert!(
        out.stderr.to_lowercase().contains("alloc"),
        "the abort's stderr should mention the allocation:\n{}",
        out.describe()
    );
    eprintln!(
        "canary: child died with signal {:?} / code {:?} as expected",
        out.signal(),
        out.status.and_then(|s| s.code())
    );
}
