//! A UDP OSC receiver that records every message (bundles flattened) with its arrival time.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rosc::{OscPacket, OscType};

/// One received OSC message.
#[derive(Debug, Clone)]
pub struct OscRecord {
    /// When the datagram carrying it arrived.
    pub at: Instant,
    pub addr: String,
    pub args: Vec<OscType>,
}

impl OscRecord {
    /// Argument `i` as a float (`f`, `d`, `i` and `h` accepted).
    pub fn f32_arg(&self, i: usize) -> Option<f32> {
        match self.args.get(i)? {
            OscType::Float(v) => Some(*v),
            OscType::Double(v) => Some(*v as f32),
            OscType::Int(v) => Some(*v as f32),
            OscType::Long(v) => Some(*v as f32),
            _ => None,
        }
    }

    /// Argument `i` as an integer (`i`, `h`, `T`/`F` accepted).
    pub fn int_arg(&self, i: usize) -> Option<i64> {
        match self.args.get(i)? {
            OscType::Int(v) => Some(*v as i64),
            OscType::Long(v) => Some(*v),
            OscType::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The first argument as a float (the value of `/sentio/voice`, `/level`, `/pitch`).
    pub fn value(&self) -> Option<f32> {
        self.f32_arg(0)
    }
}

/// `/sentio/status`: `i frames_processed, i frames_dropped, i worker_alive, i osc_errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OscStatus {
    pub frames_processed: i64,
    pub frames_dropped: i64,
    pub worker_alive: i64,
    pub osc_errors: i64,
}

impl OscStatus {
    pub fn from_record(r: &OscRecord) -> Option<Self> {
        Some(Self {
            frames_processed: r.int_arg(0)?,
            frames_dropped: r.int_arg(1)?,
            worker_alive: r.int_arg(2)?,
            osc_errors: r.int_arg(3)?,
        })
    }
}

pub struct OscListener {
    port: u16,
    records: Arc<Mutex<Vec<OscRecord>>>,
    undecodable: Arc<AtomicU64>,
    datagrams: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn flatten(packet: OscPacket, at: Instant, out: &mut Vec<OscRecord>) {
    match packet {
        OscPacket::Message(m) => out.push(OscRecord {
            at,
            addr: m.addr,
            args: m.args,
        }),
        OscPacket::Bundle(b) => {
            for p in b.content {
                flatten(p, at, out);
            }
        }
    }
}

impl OscListener {
    /// Binds `127.0.0.1:0` and starts the receiving thread.
    pub fn bind() -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(20)))?;
        let port = socket.local_addr()?.port();
        let records = Arc::new(Mutex::new(Vec::new()));
        let undecodable = Arc::new(AtomicU64::new(0));
        let datagrams = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (records, undecodable, datagrams, stop) = (
                records.clone(),
                undecodable.clone(),
                datagrams.clone(),
                stop.clone(),
            );
            std::thread::Builder::new()
                .name("osc-listener".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    let mut batch = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        match socket.recv_from(&mut buf) {
                            Ok((len, _from)) => {
                                let at = Instant::now();
                                datagrams.fetch_add(1, Ordering::Relaxed);
                                match rosc::decoder::decode_udp(&buf[..len]) {
                                    Ok((_, packet)) => {
                                        flatten(packet, at, &mut batch);
                                        records
                                            .lock()
                                            .unwrap_or_else(|e| e.into_inner())
                                            .append(&mut batch);
                                    }
                                    Err(_) => {
                                        undecodable.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                            Err(_) => continue, // timeout: check the stop flag
                        }
                    }
                })?
        };
        Ok(Self {
            port,
            records,
            undecodable,
            datagrams,
            stop,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Datagrams received so far, and how many of them rosc could not decode.
    pub fn datagram_counts(&self) -> (u64, u64) {
        (
            self.datagrams.load(Ordering::Relaxed),
            self.undecodable.load(Ordering::Relaxed),
        )
    }

    /// Every message so far.
    pub fn all(&self) -> Vec<OscRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every message so far with address `addr`.
    pub fn messages(&self, addr: &str) -> Vec<OscRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.addr == addr)
            .cloned()
            .collect()
    }

    /// Messages with address `addr` that arrived in `[from, to]`.
    pub fn messages_between(&self, addr: &str, from: Instant, to: Instant) -> Vec<OscRecord> {
        self.messages(addr)
            .into_iter()
            .filter(|r| r.at >= from && r.at <= to)
            .collect()
    }

    /// The latest message with address `addr`.
    pub fn last(&self, addr: &str) -> Option<OscRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .rev()
            .find(|r| r.addr == addr)
            .cloned()
    }

    /// Number of messages with address `addr`.
    pub fn count(&self, addr: &str) -> usize {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.addr == addr)
            .count()
    }

    /// Forgets everything received so far (keeps memory flat in long tests).
    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Waits up to `timeout` for a message with address `addr` (one already received counts).
    pub fn wait_for(&self, addr: &str, timeout: Duration) -> Option<OscRecord> {
        self.wait_until(addr, timeout, |_| true)
    }

    /// Waits up to `timeout` for a message with address `addr` that arrived at or after `since`.
    pub fn wait_for_new(&self, addr: &str, since: Instant, timeout: Duration) -> Option<OscRecord> {
        self.wait_until(addr, timeout, |r| r.at >= since)
    }

    /// Waits up to `timeout` for a message with address `addr` satisfying `pred`; returns the
    /// latest such message.
    pub fn wait_until(
        &self,
        addr: &str,
        timeout: Duration,
        pred: impl Fn(&OscRecord) -> bool,
    ) -> Option<OscRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let hit = self
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .find(|r| r.addr == addr && pred(r))
                .cloned();
            if hit.is_some() {
                return hit;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The latest `/sentio/status`-shaped message at `addr`, decoded.
    pub fn last_status(&self, addr: &str) -> Option<OscStatus> {
        self.last(addr).and_then(|r| OscStatus::from_record(&r))
    }

    /// Waits until two consecutive status messages at `addr` arriving at least `settle` apart show
    /// the same `frames_processed + frames_dropped` (the worker has drained its queue), up to
    /// `timeout`. Returns the last status seen.
    pub fn wait_status_settled(
        &self,
        addr: &str,
        settle: Duration,
        timeout: Duration,
    ) -> Option<OscStatus> {
        let deadline = Instant::now() + timeout;
        let mut prev: Option<(Instant, i64)> = None;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(s) = self.last_status(addr) {
                let total = s.frames_processed + s.frames_dropped;
                last = Some(s);
                match prev {
                    Some((t, p)) if p == total => {
                        if t.elapsed() >= settle {
                            return last;
                        }
                    }
                    _ => prev = Some((Instant::now(), total)),
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last
    }
}

impl Drop for OscListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
