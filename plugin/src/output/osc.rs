//! OSC output: one update per tick to a UDP target, shaped by the OSC map (`osc_map`: which
//! address carries what, in which range; presets for TouchDesigner, Resolume and QLC+), with the
//! onset and trigger events of `events`.
//!
//! Encoding allocates, so it happens here on the sender thread (or in the CLI), never in
//! `process()`. The socket is connected, so a target that refuses packets is reported by the
//! next send (ECONNREFUSED) instead of failing silently.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rosc::OscPacket;

use super::events::EventDetector;
use super::osc_map::{CompiledMap, OscMap};
use crate::state::{clock_ms, Outputs, SharedState, Status};

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 9000;
pub const DEFAULT_PREFIX: &str = "/sentio";
pub const DEFAULT_RATE_HZ: u32 = 30;
pub const MAX_RATE_HZ: u32 = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct OscSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub prefix: String,
    pub rate_hz: u32,
    /// What is sent to which address (the Sentio scheme by default).
    pub map: OscMap,
}

impl Default for OscSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            prefix: DEFAULT_PREFIX.into(),
            rate_hz: DEFAULT_RATE_HZ,
            map: OscMap::default(),
        }
    }
}

/// `"/sentio/"`, `"sentio"` and `"/sentio"` all mean `/sentio`; OSC pattern characters and
/// spaces are not allowed in addresses.
pub fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed
        .chars()
        .any(|c| c.is_whitespace() || "#*,?[]{}".contains(c))
    {
        return Err(format!("invalid OSC prefix {prefix:?}"));
    }
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    Ok(if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    })
}

/// Turns successive snapshots of the outputs into OSC packets under one map: the map compiled
/// for the prefix, the event detector (onsets, triggers), and which transcripts went out. The
/// sender thread and `sentio analyze --osc` both use it, so a rehearsal sends what a show sends.
pub struct OscEncoder {
    map: OscMap,
    prefix: String,
    compiled: CompiledMap,
    events: EventDetector,
}

impl OscEncoder {
    pub fn new(map: OscMap, prefix: &str) -> Result<Self, String> {
        let prefix = normalize_prefix(prefix)?;
        let compiled = map.compile(&prefix)?;
        Ok(Self {
            map,
            prefix,
            compiled,
            events: EventDetector::default(),
        })
    }

    /// Switch to another map or prefix (the event state carries over).
    pub fn set_map(&mut self, map: &OscMap, prefix: &str) -> Result<(), String> {
        let prefix = normalize_prefix(prefix)?;
        if *map != self.map || prefix != self.prefix {
            self.compiled = map.compile(&prefix)?;
            self.map = map.clone();
            self.prefix = prefix;
        }
        Ok(())
    }

    pub fn map(&self) -> &OscMap {
        &self.map
    }

    /// The packets of one update at time `t_s` (seconds on any monotonic clock).
    pub fn encode(
        &mut self,
        t_s: f64,
        out: &Outputs,
        status: &Status,
        transcripts: &[String],
        partial: Option<&str>,
    ) -> Vec<OscPacket> {
        let events = self.events.update(
            t_s,
            out.emotion.as_ref(),
            &self.map.onset,
            &self.map.triggers,
        );
        let msgs = self
            .compiled
            .messages(out, status, transcripts, partial, &events);
        self.compiled.packets(msgs)
    }
}

/// A UDP socket connected to the current target.
#[derive(Default)]
pub struct OscSender {
    target: Option<(String, u16)>,
    socket: Option<UdpSocket>,
}

impl OscSender {
    /// Resolve and connect to `host:port` (may block on name resolution: never call from the
    /// audio thread). Re-connecting to the same target is free.
    pub fn connect(&mut self, host: &str, port: u16) -> Result<SocketAddr, String> {
        if self
            .target
            .as_ref()
            .is_some_and(|(h, p)| h == host && *p == port)
        {
            if let Some(addr) = self.socket.as_ref().and_then(|s| s.peer_addr().ok()) {
                return Ok(addr);
            }
        }
        self.target = Some((host.to_string(), port));
        self.socket = None;
        if port == 0 {
            return Err("OSC port 0 is not a valid target".into());
        }
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve OSC host {host:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("OSC host {host:?} has no address"))?;
        let bind: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
        socket
            .connect(addr)
            .map_err(|e| format!("cannot reach OSC target {addr}: {e}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("cannot configure the UDP socket: {e}"))?;
        self.socket = Some(socket);
        Ok(addr)
    }

    /// The connected target.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.socket.as_ref().and_then(|s| s.peer_addr().ok())
    }

    pub fn send(&mut self, packet: &OscPacket) -> Result<(), String> {
        let socket = self.socket.as_ref().ok_or("no OSC target")?;
        let bytes = rosc::encoder::encode(packet).map_err(|e| format!("OSC encoding: {e}"))?;
        socket.send(&bytes).map(|_| ()).map_err(|e| {
            format!(
                "OSC send to {}: {e}",
                socket
                    .peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            )
        })
    }
}

/// Sends the shared state at the configured rate until dropped.
pub struct OscThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl OscThread {
    pub fn spawn(
        shared: Arc<SharedState>,
        settings: impl Fn() -> OscSettings + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentio-osc".into())
            .spawn(move || run(&shared, &stop_flag, settings))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for OscThread {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sets the status text and logs it when it differs from the last logged one: without an editor
/// the host's log is where a user sees that the target is wrong (OSC itself cannot tell them).
/// A refused target alternates successful and failed sends; only the first error is logged.
fn report(shared: &SharedState, last: &mut String, text: String, error: bool) {
    if *last != text {
        if error {
            nice_plug::nice_warn!("Sentio OSC: {text}");
        } else {
            nice_plug::nice_log!("Sentio OSC: {text}");
        }
        *last = text.clone();
    }
    shared.set_osc_state(text);
}

/// An error stays in the status this long after it happened, even if later sends succeed.
const ERROR_HOLD: Duration = Duration::from_secs(2);

fn run(shared: &SharedState, stop: &AtomicBool, settings: impl Fn() -> OscSettings) {
    let mut sender = OscSender::default();
    let mut encoder: Option<OscEncoder> = None;
    let mut logged = String::new();
    let mut last_error: Option<Instant> = None;
    let mut last_settings: Option<OscSettings> = None;
    let mut next_retry = Instant::now();
    let mut connected = false;
    let mut transcript_seq = 0;
    let mut partial_seq = 0;
    while !stop.load(Relaxed) {
        let s = settings();
        let period = Duration::from_secs_f64(1.0 / s.rate_hz.clamp(1, MAX_RATE_HZ) as f64);
        if !s.enabled {
            report(shared, &mut logged, "off".into(), false);
            last_settings = None;
            std::thread::sleep(period);
            continue;
        }
        let changed = last_settings.as_ref() != Some(&s);
        if changed {
            let built = match encoder.as_mut() {
                Some(e) => e.set_map(&s.map, &s.prefix),
                None => OscEncoder::new(s.map.clone(), &s.prefix).map(|e| encoder = Some(e)),
            };
            if let Err(e) = built {
                shared.osc_errors.fetch_add(1, Relaxed);
                report(shared, &mut logged, e, true);
                encoder = None;
                std::thread::sleep(period.max(Duration::from_millis(500)));
                continue;
            }
        }
        if changed || (!connected && Instant::now() >= next_retry) {
            last_settings = Some(s.clone());
            match sender.connect(&s.host, s.port) {
                Ok(addr) => {
                    connected = true;
                    report(shared, &mut logged, sending_text(&s, addr), false);
                }
                Err(e) => {
                    connected = false;
                    shared.osc_errors.fetch_add(1, Relaxed);
                    report(shared, &mut logged, e, true);
                    next_retry = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        if let (true, Some(enc)) = (connected, encoder.as_mut()) {
            let fresh = shared.transcripts_since(transcript_seq);
            let texts: Vec<String> = fresh.iter().map(|t| t.text.clone()).collect();
            let partial = shared.partial_since(partial_seq);
            let t_s = clock_ms() as f64 / 1000.0;
            let packets = enc.encode(
                t_s,
                &shared.outputs(),
                &shared.status(),
                &texts,
                partial.as_ref().map(|p| p.text.as_str()),
            );
            match packets.iter().try_for_each(|p| sender.send(p)) {
                Ok(()) => {
                    if let Some(last) = fresh.last() {
                        transcript_seq = last.seq;
                    }
                    if let Some(p) = &partial {
                        partial_seq = p.seq;
                    }
                    shared.osc_sent.fetch_add(1, Relaxed);
                    if last_error.is_none_or(|t| t.elapsed() > ERROR_HOLD) {
                        if let Some(addr) = sender.peer() {
                            shared.set_osc_state(sending_text(&s, addr));
                        }
                    }
                }
                Err(e) => {
                    shared.osc_errors.fetch_add(1, Relaxed);
                    last_error = Some(Instant::now());
                    report(shared, &mut logged, e, true);
                }
            }
        }
        std::thread::sleep(period);
    }
}

/// "sending to 127.0.0.1:7000 (Resolume map)", with a hint when the port is not the one the
/// map's target listens on by default.
fn sending_text(s: &OscSettings, addr: SocketAddr) -> String {
    let name = if s.map.name.is_empty() {
        "custom"
    } else {
        &s.map.name
    };
    let mut text = format!("sending to {addr} ({name} map)");
    let preset_port = s.map.port.filter(|_| name != "Sentio");
    if let Some(port) = preset_port.filter(|p| *p != addr.port()) {
        text.push_str(&format!(
            "; {name} listens on port {port} by default: set OSC Port to {port} unless you changed it there"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosc::OscType;

    use crate::text::TEXT_CLASSES;

    /// The default map's single bundle.
    fn build_bundle(prefix: &str, out: &Outputs, status: &Status, texts: &[String]) -> OscPacket {
        let mut enc = OscEncoder::new(OscMap::default(), prefix).unwrap();
        let mut packets = enc.encode(0.0, out, status, texts, None);
        assert_eq!(packets.len(), 1);
        packets.remove(0)
    }

    fn status() -> Status {
        Status {
            frames_processed: 5,
            frames_dropped: 1,
            worker_alive: true,
            ..Status::default()
        }
    }

    #[test]
    fn prefixes_are_normalised_or_refused() {
        assert_eq!(normalize_prefix("/sentio").unwrap(), "/sentio");
        assert_eq!(normalize_prefix("sentio/").unwrap(), "/sentio");
        assert_eq!(normalize_prefix("/a/b").unwrap(), "/a/b");
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert!(normalize_prefix("/bad prefix").is_err());
        assert!(normalize_prefix("/x*").is_err());
    }

    #[test]
    fn bundle_round_trips_through_udp_with_the_right_addresses() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut tx = OscSender::default();
        tx.connect("127.0.0.1", rx.local_addr().unwrap().port())
            .unwrap();
        let out = Outputs {
            voice: 0.75,
            level_db: -23.5,
            pitch_hz: f32::NAN,
            emotion: None,
            text: None,
        };
        tx.send(&build_bundle("/sentio", &out, &status(), &[]))
            .unwrap();
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).unwrap();
        let (_, packet) = rosc::decoder::decode_udp(&buf[..n]).unwrap();
        let OscPacket::Bundle(b) = packet else {
            panic!("expected a bundle")
        };
        let msgs: Vec<_> = b
            .content
            .into_iter()
            .map(|p| match p {
                OscPacket::Message(m) => m,
                _ => panic!("nested bundle"),
            })
            .collect();
        let addrs: Vec<_> = msgs.iter().map(|m| m.addr.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "/sentio/voice",
                "/sentio/level",
                "/sentio/pitch",
                "/sentio/status"
            ]
        );
        assert_eq!(msgs[0].args, [OscType::Float(0.75)]);
        assert_eq!(msgs[1].args, [OscType::Float(-23.5)]);
        assert_eq!(msgs[2].args, [OscType::Float(0.0)], "NaN must never go out");
        assert_eq!(
            msgs[3].args,
            [
                OscType::Int(5),
                OscType::Int(1),
                OscType::Int(1),
                OscType::Int(0)
            ]
        );
    }

    #[test]
    fn emotion_addresses_follow_design_md_when_a_model_runs() {
        let mut probs = [0.0; 8];
        probs[4] = 0.7;
        probs[0] = 0.3;
        let out = Outputs {
            emotion: Some(crate::state::Emotion {
                probs,
                dominant: 4,
                valence: -0.42,
                arousal: 0.56,
            }),
            ..Outputs::default()
        };
        let OscPacket::Bundle(b) = build_bundle("/sentio", &out, &status(), &[]) else {
            panic!()
        };
        let find = |addr: &str| {
            b.content
                .iter()
                .find_map(|p| match p {
                    OscPacket::Message(m) if m.addr == addr => Some(m.args.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{addr} missing"))
        };
        assert_eq!(find("/sentio/emotion/angry"), [OscType::Float(0.7)]);
        assert_eq!(find("/sentio/emotion/surprised"), [OscType::Float(0.0)]);
        assert_eq!(find("/sentio/probs").len(), 8);
        assert_eq!(find("/sentio/probs")[0], OscType::Float(0.3));
        assert_eq!(
            find("/sentio/dominant"),
            [OscType::String("angry".into()), OscType::Float(0.7)]
        );
        assert_eq!(find("/sentio/valence"), [OscType::Float(-0.42)]);
        assert_eq!(find("/sentio/arousal"), [OscType::Float(0.56)]);
        // Streams, then the first update's event: angry at 0.7 is over the trigger threshold.
        assert_eq!(find("/sentio/trigger/angry"), [OscType::Int(1)]);
        assert_eq!(b.content.len(), 3 + 8 + 5 + 1 + 1);
        assert_eq!(find("/sentio/confidence"), [OscType::Float(0.7)]);
    }

    #[test]
    fn text_transcript_and_speech_addresses_when_the_speech_path_runs() {
        let out = Outputs {
            text: Some([0.1, 0.0, 0.0, 0.7, 0.2, 0.0, 0.0]),
            ..Outputs::default()
        };
        let st = Status {
            speech_state: "Whisper tiny.en on CPU".into(),
            speech_active: true,
            speech_utterances: 3,
            speech_transcripts: 2,
            speech_dropped: 1,
            ..status()
        };
        let OscPacket::Bundle(b) =
            build_bundle("/sentio", &out, &st, &["Hello there.".to_string()])
        else {
            panic!()
        };
        let args = |addr: &str| -> Vec<Vec<OscType>> {
            b.content
                .iter()
                .filter_map(|p| match p {
                    OscPacket::Message(m) if m.addr == addr => Some(m.args.clone()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(args("/sentio/text/joy"), [vec![OscType::Float(0.7)]]);
        assert_eq!(args("/sentio/text/anger"), [vec![OscType::Float(0.1)]]);
        for class in TEXT_CLASSES {
            assert_eq!(args(&format!("/sentio/text/{class}")).len(), 1, "{class}");
        }
        assert_eq!(
            args("/sentio/transcript"),
            [vec![OscType::String("Hello there.".into())]]
        );
        assert_eq!(
            args("/sentio/speech"),
            [vec![
                OscType::Int(3),
                OscType::Int(2),
                OscType::Int(1),
                OscType::Int(1)
            ]]
        );
        // No transcript and no text yet: none of these addresses.
        let OscPacket::Bundle(b) = build_bundle("/sentio", &Outputs::default(), &status(), &[])
        else {
            panic!()
        };
        assert!(b.content.iter().all(|p| match p {
            OscPacket::Message(m) =>
                !m.addr.starts_with("/sentio/text") && m.addr != "/sentio/transcript",
            _ => false,
        }));
    }

    #[test]
    fn a_refusing_target_is_an_error_not_a_hang() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut tx = OscSender::default();
        tx.connect("127.0.0.1", port).unwrap();
        let packet = build_bundle("/sentio", &Outputs::default(), &status(), &[]);
        let t0 = Instant::now();
        let errors = (0..5).filter(|_| tx.send(&packet).is_err()).count();
        assert!(
            errors >= 1,
            "ECONNREFUSED should surface on a connected socket"
        );
        assert!(t0.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn unresolvable_hosts_are_reported() {
        let mut tx = OscSender::default();
        let err = tx.connect("no such host.invalid", 9000).unwrap_err();
        assert!(err.contains("cannot resolve"), "{err}");
        assert!(tx
            .send(&build_bundle("/s", &Outputs::default(), &status(), &[]))
            .is_err());
    }

    #[test]
    fn sender_thread_counts_errors_and_reports_state() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let shared = Arc::new(SharedState::new());
        let thread = OscThread::spawn(shared.clone(), move || OscSettings {
            port,
            rate_hz: 60,
            ..OscSettings::default()
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        drop(thread);
        let st = shared.status();
        assert!(st.osc_errors >= 1, "{st:?}");
        assert!(st.osc_state.contains("OSC send"), "{st:?}");
    }
}
