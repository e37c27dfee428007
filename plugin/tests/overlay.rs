//! The overlay, OSCQuery and the OSC map as a user meets them through `sentio analyze`: real
//! sockets, a real browser, real bytes on the wire.

#[path = "common/chromium.rs"]
mod chromium;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chromium::{free_port, http, pixels, Browser};
use rosc::{OscPacket, OscType};
use serde_json::Value;

fn demo() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../demo/sentio-demo.flac")
        .display()
        .to_string()
}

/// `sentio analyze` running in the background; killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_analyze(args: &[&str]) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_sentio"))
            .arg("analyze")
            .arg(demo())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sentio"),
    )
}

fn wait_for_http(port: u16) {
    let t0 = Instant::now();
    while http(port, "GET", "/api/state").is_err() && http(port, "GET", "/").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "nothing answered on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Raw request → (status code, whole response).
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

#[test]
fn overlay_and_oscquery_endpoints_over_real_sockets() {
    let (port, qport) = (free_port(), free_port());
    let overlay = format!("127.0.0.1:{port}");
    let oscquery = format!("127.0.0.1:{qport}");
    let _run = spawn_analyze(&[
        "--realtime",
        "--no-model",
        "--overlay",
        &overlay,
        "--oscquery",
        &oscquery,
        "--format",
        "csv",
    ]);
    wait_for_http(port);

    let (code, page) = raw(
        port,
        b"GET /?theme=badge HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(code, 200);
    assert!(page.contains("Content-Type: text/html"));
    assert!(page.contains("EventSource(\"/events\")"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page must load nothing from elsewhere"
    );

    let state: Value = serde_json::from_str(&http(port, "GET", "/api/state").unwrap()).unwrap();
    for key in [
        "probs",
        "dominant",
        "confidence",
        "valence",
        "arousal",
        "voice",
        "level",
        "pitch",
        "transcript",
        "status",
    ] {
        assert!(state.get(key).is_some(), "/api/state lacks {key}: {state}");
    }
    assert!(state["status"]["text"]
        .as_str()
        .unwrap()
        .contains("overlay: serving on http://127.0.0.1"));

    // The push channel: state events, never more than 30 a second.
    let mut es = TcpStream::connect(("127.0.0.1", port)).unwrap();
    es.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    es.write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let t0 = Instant::now();
    let mut got = String::new();
    let mut buf = [0u8; 16384];
    while t0.elapsed() < Duration::from_secs(2) {
        let n = es.read(&mut buf).unwrap();
        assert!(n > 0, "the event stream closed");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let events = got.matches("event: state").count();
    assert!(
        (5..=63).contains(&events),
        "{events} state events in 2 s (at most 30/s, and the demo is playing)"
    );
    let first = got.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let v: Value = serde_json::from_str(first).unwrap();
    assert!(v["voice"].is_number());

    // What it does not serve.
    assert_eq!(raw(port, b"GET /nope HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(
        raw(
            port,
            b"POST /api/state HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
        )
        .0,
        405
    );
    assert_eq!(raw(port, b"GET /../../etc/passwd HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(raw(port, b"\x16\x03\x01 tls hello\r\n\r\n").0, 400);
    let mut big = b"GET / HTTP/1.1\r\nCookie: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(raw(port, &big).0, 431);
    assert_eq!(
        raw(port, b"GET / HTTP/1.1\r\nHost: attacker.example\r\n\r\n").0,
        421,
        "DNS rebinding: a foreign Host is refused"
    );

    // OSCQuery: the namespace and the host info.
    let tree: Value = serde_json::from_str(&http(qport, "GET", "/").unwrap()).unwrap();
    assert_eq!(tree["FULL_PATH"], "/");
    assert_eq!(tree["CONTENTS"]["sentio"]["CONTENTS"]["voice"]["TYPE"], "f");
    let info: Value = serde_json::from_str(&http(qport, "GET", "/?HOST_INFO").unwrap()).unwrap();
    assert_eq!(info["OSC_TRANSPORT"], "UDP");

    // A second instance on the same port says so and stops (the first keeps serving).
    let second = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["analyze", &demo(), "--no-model", "--overlay", &overlay])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use"), "{err}");
    assert_eq!(raw(port, b"GET /api/state HTTP/1.1\r\n\r\n").0, 200);
}

/// Every OSC message `sentio analyze --osc` sends over the whole demo, in order.
fn osc_run(extra: &[&str]) -> Vec<rosc::OscMessage> {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let target = format!("127.0.0.1:{}", rx.local_addr().unwrap().port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["analyze", &demo(), "--format", "csv", "--osc", &target])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut msgs = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match rx.recv(&mut buf) {
            Ok(n) => match rosc::decoder::decode_udp(&buf[..n]).unwrap().1 {
                OscPacket::Message(m) => msgs.push(m),
                OscPacket::Bundle(b) => {
                    for p in b.content {
                        if let OscPacket::Message(m) = p {
                            msgs.push(m);
                        }
                    }
                }
            },
            Err(_) => {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    msgs
}

#[test]
fn onsets_and_triggers_reach_osc_over_the_demo_with_hold_and_hysteresis() {
    let msgs = osc_run(&[]);
    let onsets: Vec<(String, f32)> = msgs
        .iter()
        .filter(|m| m.addr == "/sentio/onset")
        .map(|m| match &m.args[..] {
            [OscType::String(c), OscType::Float(p)] => (c.clone(), *p),
            a => panic!("/sentio/onset args {a:?}"),
        })
        .collect();
    // Eight clips of eight emotions: the dominant class changes several times.
    assert!(onsets.len() >= 3, "{onsets:?}");
    for w in onsets.windows(2) {
        assert_ne!(w[0].0, w[1].0, "an onset is a change: {onsets:?}");
    }
    // Each onset's class was dominant in the streamed /sentio/dominant for the whole hold time
    // (0.75 s = at least 7 rows of 100 ms) right before it.
    let mut run: Vec<String> = Vec::new();
    for m in &msgs {
        match m.addr.as_str() {
            "/sentio/dominant" => {
                if let OscType::String(c) = &m.args[0] {
                    run.push(c.clone());
                }
            }
            "/sentio/onset" => {
                let OscType::String(c) = &m.args[0] else {
                    unreachable!()
                };
                let tail: Vec<&String> = run.iter().rev().take(7).collect();
                assert!(
                    tail.len() == 7 && tail.iter().all(|d| *d == c),
                    "onset {c} without holding: {tail:?}"
                );
            }
            _ => {}
        }
    }
    // Triggers alternate on/off per class, never repeating a state.
    let mut per_class: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for m in msgs
        .iter()
        .filter(|m| m.addr.starts_with("/sentio/trigger/"))
    {
        let OscType::Int(v) = m.args[0] else {
            panic!("{m:?}")
        };
        per_class.entry(m.addr.clone()).or_default().push(v);
    }
    assert!(!per_class.is_empty(), "no trigger fired over the demo");
    for (addr, seq) in &per_class {
        assert_eq!(seq[0], 1, "{addr} starts by switching on");
        for w in seq.windows(2) {
            assert_ne!(w[0], w[1], "{addr}: {seq:?}");
        }
    }
}

#[test]
fn an_osc_map_file_shapes_what_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let path = dir.join("show.json");
    std::fs::write(
        &path,
        r#"{"name": "show", "bundle": false, "outputs": [
            {"source": "emotion/angry", "address": "/fixture/1/dimmer", "range": [0, 255], "int": true},
            {"source": "voice", "address": "mic", "range": [0, 127], "int": true},
            {"source": "valence", "address": "/v"}
        ]}"#,
    )
    .unwrap();
    let msgs = osc_run(&["--osc-map", path.to_str().unwrap()]);
    let addrs: std::collections::BTreeSet<&str> = msgs.iter().map(|m| m.addr.as_str()).collect();
    assert_eq!(
        addrs,
        ["/fixture/1/dimmer", "/sentio/mic", "/v"]
            .into_iter()
            .collect()
    );
    for m in &msgs {
        match (m.addr.as_str(), &m.args[..]) {
            ("/fixture/1/dimmer", [OscType::Int(v)]) => assert!((0..=255).contains(v)),
            ("/sentio/mic", [OscType::Int(v)]) => assert!((0..=127).contains(v)),
            ("/v", [OscType::Float(v)]) => assert!((-1.0..=1.0).contains(v)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        msgs.iter()
            .any(|m| m.addr == "/sentio/mic" && m.args[0] == OscType::Int(127)),
        "speech drives the mic channel to full"
    );

    // A broken map is one clear error, before anything is sent.
    std::fs::write(
        &path,
        r#"{"outputs": [{"source": "emotion/bored", "address": "x"}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["analyze", &demo(), "--osc-map", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error:") && err.contains("unknown class"),
        "{err}"
    );

    // `sentio osc-map` prints a preset that `--osc-map` takes back.
    let out = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["osc-map", "--preset", "qlcplus", "--universe", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let preset: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(preset["port"], 7701);
    std::fs::write(&path, &out.stdout).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_sentio"))
        .args(["osc-map", "--check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(check.status.success());
    assert_eq!(check.stdout, out.stdout);
}

const THEMES: [&str; 4] = ["bars", "badge", "circumplex", "captions"];

/// What a test can read off each theme's page.
const STATE_JS: &str = r#"JSON.stringify({
  updates: +document.body.dataset.updates,
  dominant: document.body.dataset.dominant,
  transcript: document.body.dataset.transcript || "",
  bars: [...document.querySelectorAll('#bars .pct')].map(e => e.textContent).join(" "),
  badge: document.getElementById("badge-label").textContent + " " + document.getElementById("badge-conf").textContent,
  captions: document.getElementById("captions").innerText,
})"#;

fn distinct_colours(px: &[[u8; 4]]) -> usize {
    let mut set = std::collections::HashSet::new();
    for p in px.iter().step_by(7) {
        set.insert(*p);
    }
    set.len()
}

#[test]
fn every_overlay_theme_renders_live_in_headless_chromium() {
    let browser_bin = chromium::binary()
        .expect("this test needs Chromium (Debian: apt-get install chromium); .ci/run installs it");
    let port = free_port();
    let overlay = format!("127.0.0.1:{port}");
    let _run = spawn_analyze(&[
        "--realtime",
        "--speech",
        "--overlay",
        &overlay,
        "--format",
        "csv",
    ]);
    wait_for_http(port);
    let browser = Browser::launch(&browser_bin, 640, 360);
    let mut pages: Vec<_> = THEMES
        .iter()
        .map(|t| {
            let mut p = browser.open(&format!("http://127.0.0.1:{port}/?theme={t}"));
            // The page is transparent; paint it over a dark scene as OBS would.
            p.background(0x1e, 0x24, 0x30);
            p
        })
        .collect();
    let state = |p: &mut chromium::Page| -> Value {
        serde_json::from_str(p.eval(STATE_JS).as_str().unwrap_or("{}")).unwrap()
    };
    // Wait for the stream to reach every page and for the first words.
    let t0 = Instant::now();
    loop {
        let ready = pages
            .iter_mut()
            .all(|p| state(p)["updates"].as_u64().unwrap_or(0) > 5);
        if ready {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "the pages never received the event stream"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let first: Vec<(Value, Vec<u8>)> = pages
        .iter_mut()
        .map(|p| (state(p), p.screenshot()))
        .collect();
    std::thread::sleep(Duration::from_secs(7));
    let second: Vec<(Value, Vec<u8>)> = pages
        .iter_mut()
        .map(|p| (state(p), p.screenshot()))
        .collect();

    let save_to = std::env::var_os("SENTIO_SCREENSHOTS").map(PathBuf::from);
    for (i, theme) in THEMES.iter().enumerate() {
        let ((sa, pa), (sb, pb)) = (&first[i], &second[i]);
        if let Some(dir) = &save_to {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("overlay-{theme}.png")), pb).unwrap();
        }
        let (w, h, a) = pixels(pa);
        let (_, _, b) = pixels(pb);
        assert_eq!((w, h), (640, 360), "{theme}");
        let background = b[0];
        let drawn = b.iter().filter(|p| **p != background).count();
        assert!(
            distinct_colours(&b) > 20 && drawn > b.len() / 200,
            "{theme}: the page looks blank ({drawn} drawn pixels)"
        );
        let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(
            changed > 200,
            "{theme}: nothing changed on screen in 7 s of speech ({changed} pixels)"
        );
        assert!(
            sb["updates"].as_u64() > sa["updates"].as_u64(),
            "{theme}: {sa} → {sb}"
        );
        let key = match *theme {
            "bars" => "bars",
            "badge" => "badge",
            "captions" => "captions",
            _ => "updates",
        };
        assert_ne!(
            sa[key], sb[key],
            "{theme}: the page did not follow the voice"
        );
        eprintln!("{theme}: {} → {}", sa[key], sb[key]);
    }
    let (captions, _) = &second[3];
    assert!(
        !captions["captions"]
            .as_str()
            .unwrap_or("")
            .trim()
            .is_empty(),
        "captions show the words: {captions}"
    );
}
