//! `sentio-app` as a headless user runs it: the dummy backend (real-time pace, silent input), no
//! display. It must analyse (its OSC status counts frames), serve its overlay on loopback, and
//! stop cleanly on Ctrl+C (SIGINT).

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rosc::{OscPacket, OscType};

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `frames_processed` of every `/sentio/status` message in `packet`.
fn frames_processed(packet: &OscPacket, out: &mut Vec<i64>) {
    match packet {
        OscPacket::Message(m) if m.addr == "/sentio/status" => {
            if let Some(OscType::Int(n)) = m.args.first() {
                out.push(*n as i64);
            }
        }
        OscPacket::Bundle(b) => b.content.iter().for_each(|p| frames_processed(p, out)),
        _ => {}
    }
}

#[test]
fn runs_on_the_dummy_backend_without_a_display_and_stops_on_sigint() {
    let osc = UdpSocket::bind("127.0.0.1:0").unwrap();
    osc.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let overlay = free_tcp_port();
    let mut app = Command::new(env!("CARGO_BIN_EXE_sentio-app"))
        .args(["--backend", "dummy", "--period-size", "480"])
        .arg("--osc")
        .arg(osc.local_addr().unwrap().to_string())
        .arg("--overlay-port")
        .arg(overlay.to_string())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sentio-app");

    // It analyses: the frame count in /sentio/status grows at real-time pace (100 frames/s).
    let mut counts = Vec::new();
    let mut buf = [0u8; 65536];
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) && counts.last().copied().unwrap_or(0) < 300 {
        if let Ok(n) = osc.recv(&mut buf) {
            if let Ok((_, p)) = rosc::decoder::decode_udp(&buf[..n]) {
                frames_processed(&p, &mut counts);
            }
        }
    }
    let first_status = t0.elapsed();
    assert!(
        counts.last().copied().unwrap_or(0) >= 300,
        "no analysis after {first_status:?}: frame counts {counts:?}"
    );
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");

    // Its overlay answers on loopback.
    let mut s = TcpStream::connect(("127.0.0.1", overlay)).expect("overlay port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"voice\""), "{reply}");

    // Ctrl+C: a clean exit, soon.
    let pid = app.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = app.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(10) {
            let _ = app.kill();
            panic!("sentio-app did not stop within 10 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    app.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("no display"),
        "says why there is no window: {stderr}"
    );
}
