//! The overlay and OSCQuery servers inside the release `.clap` under a real host: they answer on
//! loopback only, describe exactly the OSC that is sent, and fifty viewers plus one that never
//! reads cost `process()` and the worker nothing.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentio_host_tests::audio;
use sentio_host_tests::contract::*;
use sentio_host_tests::osc::OscStatus;
use sentio_host_tests::{paths, serial, ClapHost, OscListener};
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

fn wait_http(port: u16) {
    let t0 = Instant::now();
    while get(port, "/").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "port {port} never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plugin with OSC to `osc`, the overlay and OSCQuery on free loopback ports (returned with it).
fn host(osc: &OscListener) -> (ClapHost, u16, u16) {
    let (overlay, query) = (free_port(), free_port());
    let mut host = ClapHost::load(&paths::release_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .unwrap();
    host.set_param(OVERLAY_PORT, port_normalized(overlay))
        .unwrap();
    host.set_param(OSCQUERY_PORT, port_normalized(query))
        .unwrap();
    (host, overlay, query)
}

/// `(local address, remote address)` of this process's sockets in one `/proc/net` table.
fn own_sockets(table: &str) -> Vec<(String, String, String)> {
    let inodes: BTreeSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && inodes.contains(f[9]))
                .then(|| (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

/// True when a `/proc/net` hex address (`0100007F:1F90`, or 32 hex digits for IPv6) is loopback.
fn hex_is_loopback(addr: &str) -> bool {
    let ip = addr.split(':').next().unwrap_or("");
    match ip.len() {
        8 => ip.ends_with("7F"),
        32 => {
            ip == "00000000000000000000000001000000"
                || (ip.starts_with("0000000000000000FFFF0000") && ip.ends_with("7F"))
        }
        _ => false,
    }
}

#[test]
fn plugin_serves_overlay_and_oscquery_on_loopback_only_and_describes_what_it_sends() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let (mut host, overlay, query) = host(&osc);
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 512).expect("activate");
    wait_http(overlay);
    wait_http(query);
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 4.0).to_vec();
    host.process_paced(&speech, 480).expect("process");
    std::thread::sleep(Duration::from_millis(300));

    // Nothing listens beyond loopback by default (TCP), and no UDP socket of the plugin is open
    // to the network: the OSC sender's is connected to its target, and there is no mDNS.
    let listening: Vec<_> = ["tcp", "tcp6"]
        .iter()
        .flat_map(|t| own_sockets(t))
        .filter(|(_, _, state)| state == "0A")
        .collect();
    assert!(
        listening.len() >= 2,
        "overlay and OSCQuery listen: {listening:?}"
    );
    for (local, _, _) in &listening {
        assert!(hex_is_loopback(local), "listening beyond loopback: {local}");
    }
    for (local, remote, _) in ["udp", "udp6"].iter().flat_map(|t| own_sockets(t)) {
        let port = u16::from_str_radix(local.rsplit(':').next().unwrap(), 16).unwrap();
        assert_ne!(port, 5353, "mDNS must be off by default");
        let connected = !remote.trim_start_matches('0').starts_with(':');
        assert!(
            hex_is_loopback(&local) || connected,
            "an unconnected UDP socket on {local}"
        );
    }

    // The overlay's state follows the plugin.
    let state: Value = serde_json::from_str(&get(overlay, "/api/state").unwrap()).unwrap();
    assert!(state["voice"].is_number());
    assert!(
        state["dominant"].is_string(),
        "the model runs in the plugin: {state}"
    );
    let text = state["status"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("overlay: serving on http://127.0.0.1:{overlay}/")),
        "{text}"
    );
    assert!(text.contains("OSCQuery: serving"), "{text}");
    assert!(
        text.contains("sentio-ser (Whisper tiny.en) on CPU"),
        "the default model: {text}"
    );

    // OSCQuery describes every streamed address that arrived, and nothing that never could.
    let tree: Value = serde_json::from_str(&get(query, "/").unwrap()).unwrap();
    let mut described = BTreeSet::new();
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        if v.get("TYPE").is_some() {
            out.insert(v["FULL_PATH"].as_str().unwrap().to_string());
        }
        if let Some(c) = v.get("CONTENTS").and_then(Value::as_object) {
            c.values().for_each(|c| walk(c, out));
        }
    }
    walk(&tree, &mut described);
    let received: BTreeSet<String> = osc.all().into_iter().map(|r| r.addr).collect();
    for addr in &received {
        assert!(
            described.contains(addr),
            "{addr} was sent but is not in OSCQuery"
        );
    }
    for addr in &described {
        let event = addr.contains("/trigger/")
            || addr.ends_with("/onset")
            || addr.ends_with("/transcript")
            || addr.ends_with("/transcript/partial")
            || addr.contains("/text/")
            || addr.ends_with("/speech");
        assert!(
            event || received.contains(addr),
            "{addr} is described but was never sent"
        );
    }
    let voice: Value = serde_json::from_str(&get(query, "/sentio/voice?VALUE").unwrap()).unwrap();
    assert!(voice["VALUE"][0].is_number(), "{voice}");
}

/// An event-stream client that counts state events until told to stop.
fn viewer(
    port: u16,
    stop: Arc<AtomicBool>,
    events: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 16384];
        let mut carry = String::new();
        while !stop.load(Relaxed) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    carry.push_str(&String::from_utf8_lossy(&buf[..n]));
                    let k = carry.matches("event: state").count();
                    events.fetch_add(k, Relaxed);
                    if let Some(i) = carry.rfind("\n\n") {
                        carry.drain(..i + 2);
                    }
                }
                Err(_) => {}
            }
        }
    })
}

#[test]
fn the_model_encoder_setting_runs_the_whisper_base_model_in_the_plugin() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let (mut host, overlay, _) = host(&osc);
    // The second choice of "Model Encoder", set before activation as a host restoring a project.
    host.set_param(EMOTION_ENCODER, 1.0).unwrap();
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 512).expect("activate");
    wait_http(overlay);
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 4.0).to_vec();
    let t0 = Instant::now();
    host.process_paced(&speech, 480).expect("process");
    std::thread::sleep(Duration::from_millis(300));
    let state: Value = serde_json::from_str(&get(overlay, "/api/state").unwrap()).unwrap();
    let text = state["status"]["text"].as_str().unwrap();
    assert!(
        text.contains("sentio-ser (Whisper base) on CPU"),
        "the status names the base model: {text}"
    );
    assert!(state["dominant"].is_string(), "it classifies: {state}");
    let probs = osc.messages_between("/sentio/probs", t0, Instant::now());
    assert!(probs.len() > 4, "{} /sentio/probs messages", probs.len());
}

#[test]
fn fifty_viewers_and_one_that_never_reads_leave_process_and_the_worker_alone() {
    let _g = serial();
    let osc = OscListener::bind().expect("bind");
    let (mut host, overlay, _) = host(&osc);
    let rate = 48_000u32;
    let block = 512;
    host.activate(rate as f64, 1, block as u32)
        .expect("activate");
    wait_http(overlay);
    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 5.0).to_vec();
    // Let the model load and warm up.
    host.process_paced(&speech[..rate as usize], block).unwrap();

    let probs_rate = |from: Instant, to: Instant| {
        osc.messages_between("/sentio/probs", from, to).len() as f64 / (to - from).as_secs_f64()
    };
    let t0 = Instant::now();
    let quiet = host.process_paced(&speech, block).unwrap();
    let t1 = Instant::now();
    let quiet_rate = probs_rate(t0, t1);

    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicUsize>> = (0..50).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let viewers: Vec<_> = counts
        .iter()
        .map(|c| viewer(overlay, stop.clone(), c.clone()))
        .collect();
    // Every viewer is being served before the troublemakers arrive.
    let t_wait = Instant::now();
    while counts.iter().any(|c| c.load(Relaxed) == 0) {
        assert!(
            t_wait.elapsed() < Duration::from_secs(10),
            "not every viewer was served"
        );
        host.process_paced(&speech[..4800], block).unwrap();
    }
    let before: Vec<usize> = counts.iter().map(|c| c.load(Relaxed)).collect();
    // One that asks for the stream and never reads a byte, and some that vanish mid-request.
    let mut stalled = TcpStream::connect(("127.0.0.1", overlay)).unwrap();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    for _ in 0..20 {
        let mut gone = TcpStream::connect(("127.0.0.1", overlay)).unwrap();
        let _ = gone.write_all(b"GET /eve");
    }
    std::thread::sleep(Duration::from_millis(300));
    let t2 = Instant::now();
    let busy = host.process_paced(&speech, block).unwrap();
    let t3 = Instant::now();
    let busy_rate = probs_rate(t2, t3);
    stop.store(true, Relaxed);
    for v in viewers {
        v.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));

    let budget = Duration::from_secs_f64(block as f64 / rate as f64);
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / budget.as_secs_f64();
    eprintln!(
        "process() at 48 kHz / {block}: no viewers p50 {:.3} % p99 {:.3} % of the block; 50 viewers + 1 stalled p50 {:.3} % p99 {:.3} %",
        pct(quiet.process_time_quantile(0.5)),
        pct(quiet.process_time_quantile(0.99)),
        pct(busy.process_time_quantile(0.5)),
        pct(busy.process_time_quantile(0.99)),
    );
    eprintln!("emotion updates over OSC: {quiet_rate:.1}/s without viewers, {busy_rate:.1}/s with");
    let per_viewer: Vec<usize> = counts
        .iter()
        .zip(&before)
        .map(|(c, b)| c.load(Relaxed) - b)
        .collect();
    eprintln!(
        "state events per viewer in {:.1} s: min {} max {}",
        (t3 - t2).as_secs_f64(),
        per_viewer.iter().min().unwrap(),
        per_viewer.iter().max().unwrap()
    );

    // The worker kept its pace and lost nothing; every viewer was served throughout.
    let st = osc
        .last("/sentio/status")
        .and_then(|r| OscStatus::from_record(&r))
        .expect("status");
    assert_eq!(st.frames_dropped, 0, "the audio thread dropped frames");
    assert_eq!(st.worker_alive, 1);
    assert!(
        busy_rate >= 0.8 * quiet_rate,
        "emotion updates slowed from {quiet_rate:.1}/s to {busy_rate:.1}/s with viewers"
    );
    let expected = (t3 - t2).as_secs_f64() * 10.0;
    assert!(
        per_viewer.iter().all(|&n| n as f64 >= expected),
        "every viewer gets the stream (≥ 10 events/s): {per_viewer:?}"
    );
    audio::assert_bit_exact(&speech, &busy.outputs[0], "with viewers");
    drop(stalled);
}
