//! Child process for the allocation tests: loads a `.clap` (normally the debug bundle built with
//! nice-plug's `assert_process_allocs`, where any allocation inside `process()` aborts the
//! process) and drives it through block sizes, sample rates and parameter changes.
//!
//! Usage: `clap_child <path/to/Sentio.clap>`
//!
//! Prints progress on stdout ("activated …", "processing …") and `CHILD OK` at the end; exits 0
//! on success, 2 on a harness/plugin error, 3 when passthrough is not bit-exact. Anything else
//! (notably SIGABRT) means the plugin aborted the process.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use sentio_host_tests::audio::{self, BlockPlan};
use sentio_host_tests::clap_host::RunOptions;
use sentio_host_tests::contract::*;
use sentio_host_tests::{ClapHost, OscListener};

fn say(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

struct Mismatch(String);

impl std::fmt::Debug for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Mismatch {}

/// Processes `secs` of the demo at the host's current rate with `plan`, changing parameters
/// mid-stream, and checks passthrough.
fn run(host: &mut ClapHost, rate: u32, secs: f64, plan: BlockPlan, osc_port: u16) -> Result<()> {
    let demo = audio::demo_at(rate);
    let x = audio::head(&demo, rate, secs);
    let [l, r] = audio::stereo_from_mono(x);
    let mut sizes = plan.sizes();
    // Parameter changes in the first four blocks (every run has at least four), ending in the
    // defaults but with OSC aimed at our listener.
    let changes = vec![
        (0, MIDI_CHANNEL, midi_channel_normalized(7)),
        (0, OSC_RATE, rate_normalized(60)),
        (1, MIDI_ON, 0.0),
        (1, OSC_ON, 0.0),
        (2, MIDI_ON, 1.0),
        (2, OSC_ON, 1.0),
        (2, OSC_PORT, port_normalized(9000)),
        (3, OSC_PORT, port_normalized(osc_port)),
        (3, MIDI_CHANNEL, midi_channel_normalized(1)),
        (3, OSC_RATE, rate_normalized(30)),
    ];
    let mut opts = RunOptions {
        paced: false,
        param_changes: changes,
        after_block: None,
    };
    say(&format!(
        "processing {secs:.2} s at {rate} Hz, blocks {plan}"
    ));
    let res = host
        .process_signal(&[&l, &r], &mut sizes, &mut opts)
        .with_context(|| format!("{rate} Hz, {plan}"))?;
    for (ch, (inp, out)) in [&l, &r].iter().zip(&res.outputs).enumerate() {
        if let Some(i) = audio::first_bit_mismatch(inp, out) {
            return Err(Mismatch(format!(
                "{rate} Hz, {plan}: channel {ch} differs from the input at sample {i}: {:e} vs {:e}",
                inp[i], out[i]
            ))
            .into());
        }
    }
    say(&format!(
        "  ok: {} blocks, {} MIDI CCs, longest process() {:?}",
        res.blocks,
        res.midi.len(),
        res.max_process_time
    ));
    Ok(())
}

fn real_main() -> Result<()> {
    let path: PathBuf = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => bail!("usage: clap_child <path/to/Sentio.clap>"),
    };
    say(&format!(
        "clap_child: {} (SENTIO_DEBUG_ALLOC_IN_PROCESS={:?})",
        path.display(),
        std::env::var("SENTIO_DEBUG_ALLOC_IN_PROCESS").ok()
    ));
    let d = audio::demo();
    say(&format!(
        "demo: {} ({:.1} s at {} Hz)",
        d.source,
        d.seconds(),
        d.rate
    ));
    // Resample everything up front so the child's own work is done before the plugin runs.
    for rate in [48_000, 44_100, 96_000, 8_000] {
        let _ = audio::demo_at(rate);
    }
    let osc = OscListener::bind().context("binding the OSC listener")?;

    let mut host = ClapHost::load(&path)?;
    host.set_param(OSC_PORT, port_normalized(osc.port()))?;

    host.activate(48_000.0, 1, 8192)?;
    say("activated 48000 Hz");
    run(&mut host, 48_000, 0.5, BlockPlan::Fixed(1), osc.port())?;
    for n in [64, 512, 4096] {
        run(&mut host, 48_000, 3.0, BlockPlan::Fixed(n), osc.port())?;
    }
    run(
        &mut host,
        48_000,
        3.0,
        BlockPlan::Random {
            seed: 0xa110c,
            max: 8192,
        },
        osc.port(),
    )?;
    // The speech path (default on) transcribes the demo's first sentence on its own threads
    // while process() keeps running, so the allocation check covers that too.
    let silence = vec![0.0f32; 480];
    let (mut l, mut r) = (vec![0.0f32; 480], vec![0.0f32; 480]);
    let t0 = std::time::Instant::now();
    while osc.last(ADDR_TRANSCRIPT).is_none() && t0.elapsed() < std::time::Duration::from_secs(90) {
        host.try_process_into(
            &[&silence, &silence],
            &mut [&mut l, &mut r],
            &[],
            &mut Vec::new(),
        )?;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let transcript = osc.last(ADDR_TRANSCRIPT).with_context(|| {
        format!(
            "no {ADDR_TRANSCRIPT} within 90 s of processing; {ADDR_SPEECH}: {:?}",
            osc.last(ADDR_SPEECH)
        )
    })?;
    say(&format!(
        "transcript while processing: {:?} after {:.1} s",
        transcript.args,
        t0.elapsed().as_secs_f64()
    ));
    host.deactivate();
    say("deactivated");

    for (rate, max) in [(44_100u32, 4096u32), (96_000, 2048), (8_000, 512)] {
        host.activate(rate as f64, 1, max)?;
        say(&format!("activated {rate} Hz"));
        run(
            &mut host,
            rate,
            1.0,
            BlockPlan::Random {
                seed: rate as u64,
                max: max as usize,
            },
            osc.port(),
        )?;
        run(
            &mut host,
            rate,
            0.5,
            BlockPlan::Fixed(max as usize),
            osc.port(),
        )?;
        host.deactivate();
        say("deactivated");
    }
    drop(host);
    say(&format!(
        "OSC messages received by the child: {}",
        osc.all().len()
    ));
    say("CHILD OK");
    Ok(())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clap_child error: {e:#}");
            if e.downcast_ref::<Mismatch>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
