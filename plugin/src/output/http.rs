//! A small read-only HTTP/1.1 server for the local surfaces (overlay, OSCQuery).
//!
//! Why not a framework: the surfaces serve a handful of fixed routes to a few local clients, and
//! a plugin must not start an async runtime inside a host. One accepting thread polls a
//! non-blocking listener (so it can stop and re-bind when the user changes the address), and
//! each connection gets a short-lived thread with strict limits:
//!
//! - at most [`MAX_CONNECTIONS`] at once (more get `503` and are closed);
//! - the request head must arrive within [`HEAD_TIMEOUT`] and fit in [`MAX_HEAD`] bytes
//!   (`408` / `431`); only `GET` and `HEAD` without a body are served (`405` / `413`);
//! - the `Host` header must name a loopback address or the address the server is bound to
//!   (`421`), so a web page elsewhere cannot read the state through DNS rebinding;
//! - every write has a deadline ([`WRITE_TIMEOUT`]): a client that stops reading is dropped
//!   instead of holding anything up.
//!
//! Parsing is `httparse`'s. Nothing here touches the worker or the audio thread: handlers read
//! [`crate::state::SharedState`] (or a [`Hub`] fed from it) the way the OSC sender does.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const MAX_CONNECTIONS: usize = 256;
pub const MAX_HEAD: usize = 8 * 1024;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the accept loop looks for new connections and for a stop or a settings change.
const POLL: Duration = Duration::from_millis(20);
/// A port that could not be bound is tried again this often (the other program may quit).
const REBIND: Duration = Duration::from_secs(2);

/// Where a server listens. `enabled: false` closes the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
}

impl ServeSettings {
    pub fn loopback(port: u16) -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port,
        }
    }
}

/// `HOST:PORT`, `:PORT` or `PORT` (host defaults to loopback); `[::1]:PORT` for IPv6.
pub fn parse_listen(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(("127.0.0.1".into(), default_port));
    }
    if let Ok(port) = text.trim_start_matches(':').parse::<u16>() {
        return Ok(("127.0.0.1".into(), port));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT, got {text:?}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid port {port:?} in {text:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(("127.0.0.1".into(), port));
    }
    Ok((host.to_string(), port))
}

/// True for addresses only this machine can reach.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback())
}

/// One parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query, e.g. `/api/state`.
    pub path: String,
    /// The raw query after `?` (empty when none).
    pub query: String,
    pub peer: SocketAddr,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            extra_headers: Vec::new(),
        }
    }

    pub fn json(value: &serde_json::Value) -> Self {
        Self::new(200, "application/json", value.to_string())
    }

    pub fn error(status: u16, message: &str) -> Self {
        Self::new(
            status,
            "text/plain; charset=utf-8",
            format!("{} {}\n", status, message),
        )
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra_headers.push((name, value.into()));
        self
    }
}

/// What a route answers: a whole response, or a Server-Sent Events stream fed by a [`Hub`].
pub enum Reply {
    Full(Response),
    Events(Arc<Hub>),
}

pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Reply;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn write_head(
    w: &mut impl Write,
    status: u16,
    content_type: &str,
    len: Option<usize>,
    extra: &[(&'static str, String)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        reason(status)
    );
    if let Some(n) = len {
        head.push_str(&format!("Content-Length: {n}\r\nConnection: close\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
}

fn send(stream: &mut TcpStream, resp: &Response, head_only: bool) -> std::io::Result<()> {
    write_head(
        stream,
        resp.status,
        resp.content_type,
        Some(resp.body.len()),
        &resp.extra_headers,
    )?;
    if !head_only {
        stream.write_all(&resp.body)?;
    }
    stream.flush()
}

/// A broadcast of the latest state to event-stream clients: the producer replaces the state
/// (and adds one-off events); each client thread waits on the condition variable and writes
/// what is new. Only server threads ever lock it.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<HubInner>,
    changed: Condvar,
    /// Event-stream clients connected now.
    pub clients: AtomicUsize,
}

#[derive(Default)]
struct HubInner {
    generation: u64,
    state: Arc<str>,
    /// One-off events (name, JSON), numbered by `event_seq`, the newest last.
    events: std::collections::VecDeque<(u64, &'static str, Arc<str>)>,
    event_seq: u64,
    closed: bool,
}

const HUB_EVENTS_KEPT: usize = 32;

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Replace the state every client is sent next (skipped when it is unchanged).
    pub fn publish_state(&self, json: String) {
        let Ok(mut g) = self.inner.lock() else { return };
        if *g.state == *json {
            return;
        }
        g.state = json.into();
        g.generation += 1;
        drop(g);
        self.changed.notify_all();
    }

    /// An event every connected client is sent once.
    pub fn publish_event(&self, name: &'static str, json: String) {
        let Ok(mut g) = self.inner.lock() else { return };
        g.event_seq += 1;
        let seq = g.event_seq;
        if g.events.len() == HUB_EVENTS_KEPT {
            g.events.pop_front();
        }
        g.events.push_back((seq, name, json.into()));
        g.generation += 1;
        drop(g);
        self.changed.notify_all();
    }

    /// The current state JSON.
    pub fn state(&self) -> Arc<str> {
        self.inner
            .lock()
            .map(|g| g.state.clone())
            .unwrap_or_else(|_| "{}".into())
    }

    /// Wake every client so it notices a stop.
    pub fn close(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.closed = true;
        }
        self.changed.notify_all();
    }

    /// Streams to one client until it goes away, the hub closes or `stop` is set.
    fn stream(&self, stream: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
        let (mut seen_gen, mut seen_event) = match self.inner.lock() {
            Ok(g) => (0, g.event_seq),
            Err(_) => return Ok(()),
        };
        let mut last_write = Instant::now();
        // Tell EventSource to reconnect after a second when the stream drops (OBS keeps the
        // source alive for hours; a restart of the plugin must not need a page reload).
        stream.write_all(b"retry: 1000\n\n")?;
        loop {
            let mut out = String::new();
            {
                let Ok(g) = self.inner.lock() else {
                    return Ok(());
                };
                let (g, _) = self
                    .changed
                    .wait_timeout_while(g, Duration::from_millis(100), |g| {
                        g.generation == seen_gen && !g.closed
                    })
                    .map_err(|_| std::io::Error::other("poisoned"))?;
                if g.closed || stop.load(Relaxed) {
                    return Ok(());
                }
                if g.generation != seen_gen {
                    seen_gen = g.generation;
                    let from = seen_event;
                    for (seq, name, data) in g.events.iter().filter(|e| e.0 > from) {
                        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
                        seen_event = *seq;
                    }
                    if !g.state.is_empty() {
                        out.push_str(&format!("event: state\ndata: {}\n\n", g.state));
                    }
                }
            }
            if out.is_empty() && last_write.elapsed() > Duration::from_secs(10) {
                // A comment keeps proxies and idle timers from closing a quiet stream, and
                // finds clients that vanished.
                out.push_str(": keep-alive\n\n");
            }
            if !out.is_empty() {
                stream.write_all(out.as_bytes())?;
                stream.flush()?;
                last_write = Instant::now();
            }
        }
    }
}

/// What the server reports about itself (the status line shows it).
pub type Report = Box<dyn Fn(String, bool) + Send + 'static>;

/// A running server; dropping it stops the listener and joins every connection thread.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    bound: Arc<Mutex<Option<SocketAddr>>>,
}

impl Server {
    /// `name` labels threads and status lines ("overlay", "OSCQuery"). `settings` is polled, so
    /// a changed port or host re-binds; `report(text, is_error)` receives every state change.
    pub fn spawn(
        name: &'static str,
        handler: Arc<dyn Handler>,
        settings: impl Fn() -> ServeSettings + Send + 'static,
        report: Report,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let bound = Arc::new(Mutex::new(None));
        let (stop2, bound2) = (stop.clone(), bound.clone());
        let thread = std::thread::Builder::new()
            .name(format!("sentio-{}", name.to_lowercase()))
            .spawn(move || accept_loop(name, &handler, &stop2, &bound2, settings, &report))?;
        Ok(Self {
            stop,
            thread: Some(thread),
            bound,
        })
    }

    /// The slot the server keeps its bound address in (for the mDNS announcer).
    pub fn address_slot(&self) -> Arc<Mutex<Option<SocketAddr>>> {
        self.bound.clone()
    }

    /// The address it listens on now (None while it could not bind or is off).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.bound.lock().ok().and_then(|g| *g)
    }

    /// Waits up to `timeout` for the listener to be bound.
    pub fn wait_bound(&self, timeout: Duration) -> Option<SocketAddr> {
        let t0 = Instant::now();
        loop {
            if let Some(a) = self.local_addr() {
                return Some(a);
            }
            if t0.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .collect();
    let mut last = format!("{host:?} has no address");
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(l) => {
                l.set_nonblocking(true)
                    .map_err(|e| format!("cannot configure the listener: {e}"))?;
                return Ok(l);
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                last = format!(
                    "port {port} on {host} is in use (another Sentio instance or program?): choose another port"
                );
            }
            Err(e) => last = format!("cannot listen on {addr}: {e}"),
        }
    }
    Err(last)
}

fn accept_loop(
    name: &'static str,
    handler: &Arc<dyn Handler>,
    stop: &Arc<AtomicBool>,
    bound: &Mutex<Option<SocketAddr>>,
    settings: impl Fn() -> ServeSettings,
    report: &Report,
) {
    let mut listener: Option<TcpListener> = None;
    let mut current: Option<ServeSettings> = None;
    let mut retry_at = Instant::now();
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    let open = Arc::new(AtomicUsize::new(0));
    let set_bound = |a: Option<SocketAddr>| {
        if let Ok(mut g) = bound.lock() {
            *g = a;
        }
    };
    while !stop.load(Relaxed) {
        let s = settings();
        if current.as_ref() != Some(&s) || (listener.is_none() && Instant::now() >= retry_at) {
            let changed = current.as_ref() != Some(&s);
            current = Some(s.clone());
            listener = None;
            set_bound(None);
            if !s.enabled {
                if changed {
                    report("off".into(), false);
                }
            } else {
                match bind(&s.host, s.port) {
                    Ok(l) => {
                        let addr = l.local_addr().ok();
                        set_bound(addr);
                        let at = addr.map(|a| a.to_string()).unwrap_or_default();
                        if is_loopback_host(&s.host) {
                            report(format!("serving on http://{at}/"), false);
                        } else {
                            report(
                                format!(
                                    "serving on http://{at}/ — reachable from other machines on your network (you chose {})",
                                    s.host
                                ),
                                true,
                            );
                        }
                        listener = Some(l);
                    }
                    Err(e) => {
                        report(e, true);
                        retry_at = Instant::now() + REBIND;
                    }
                }
            }
        }
        connections.retain(|t| !t.is_finished());
        let Some(l) = &listener else {
            std::thread::sleep(POLL);
            continue;
        };
        let mut accepted = false;
        loop {
            match l.accept() {
                Ok((stream, peer)) => {
                    accepted = true;
                    let local = l.local_addr().ok();
                    if open.load(Relaxed) >= MAX_CONNECTIONS {
                        reject_busy(stream);
                        continue;
                    }
                    open.fetch_add(1, Relaxed);
                    let (open2, stop2) = (open.clone(), stop.clone());
                    let handler = handler.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("sentio-{}-client", name.to_lowercase()))
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            serve(stream, peer, local, &*handler, &stop2);
                            open2.fetch_sub(1, Relaxed);
                        });
                    match spawned {
                        Ok(t) => connections.push(t),
                        Err(_) => {
                            open.fetch_sub(1, Relaxed);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Out of file descriptors and the like: wait, the listener stays.
                Err(_) => break,
            }
        }
        if !accepted {
            std::thread::sleep(POLL);
        }
    }
    set_bound(None);
    for t in connections {
        let _ = t.join();
    }
}

fn reject_busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = send(
        &mut stream,
        &Response::error(503, "too many connections"),
        false,
    );
}

/// Reads the request head (until the blank line), at most [`MAX_HEAD`] bytes.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, u16> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(408);
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) => return Err(0),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(408)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(0),
        }
    }
}

fn host_allowed(host_header: Option<&str>, local: Option<SocketAddr>) -> bool {
    let Some(h) = host_header else {
        // HTTP/1.0 clients may omit it; they cannot be a browser doing DNS rebinding.
        return true;
    };
    let h = h.trim();
    let host = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        h.rsplit_once(':').map_or(h, |(host, _)| host)
    };
    // Bound to one address: that address; bound to all (the user chose a LAN setup): any IP.
    is_loopback_host(host)
        || local.is_some_and(|l| {
            host.parse::<IpAddr>()
                .is_ok_and(|ip| l.ip().is_unspecified() || ip == l.ip())
        })
}

/// Parses one request and answers it. Errors answer with a 4xx and close; nothing panics.
pub fn parse_request(head: &[u8], peer: SocketAddr) -> Result<(Request, Option<String>), u16> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(400),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    }
    let method = req.method.ok_or(400u16)?.to_string();
    let target = req.path.ok_or(400u16)?;
    if target.len() > 2048 {
        return Err(414);
    }
    if !target.starts_with('/') {
        return Err(400);
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let has_body = header("content-length")
        .is_some_and(|v| v.trim().parse::<u64>().map_or(true, |n| n > 0))
        || header("transfer-encoding").is_some();
    if method != "GET" && method != "HEAD" {
        return Err(405);
    }
    if has_body {
        return Err(413);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok((
        Request {
            method,
            path: path.to_string(),
            query: query.to_string(),
            peer,
        },
        header("host").map(str::to_owned),
    ))
}

fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    handler: &dyn Handler,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let head = match read_head(&mut stream) {
        Ok(h) => h,
        Err(0) => return,
        Err(status) => {
            let _ = send(&mut stream, &Response::error(status, reason(status)), false);
            return;
        }
    };
    let (req, host) = match parse_request(&head, peer) {
        Ok(r) => r,
        Err(status) => {
            let resp = Response::error(status, reason(status));
            let resp = if status == 405 {
                resp.with_header("Allow", "GET, HEAD")
            } else {
                resp
            };
            let _ = send(&mut stream, &resp, false);
            return;
        }
    };
    if !host_allowed(host.as_deref(), local) {
        let _ = send(
            &mut stream,
            &Response::error(421, "this server answers only to its own address"),
            false,
        );
        return;
    }
    let head_only = req.method == "HEAD";
    // A handler that panics must not take the host down with it.
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(&req)));
    match reply {
        Ok(Reply::Full(resp)) => {
            let _ = send(&mut stream, &resp, head_only);
        }
        Ok(Reply::Events(hub)) => {
            if write_head(&mut stream, 200, "text/event-stream", None, &[]).is_err() || head_only {
                return;
            }
            hub.clients.fetch_add(1, Relaxed);
            let _ = hub.stream(&mut stream, stop);
            hub.clients.fetch_sub(1, Relaxed);
        }
        Err(_) => {
            let _ = send(&mut stream, &Response::error(500, "internal error"), false);
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Arc<Hub>);
    impl Handler for Echo {
        fn handle(&self, req: &Request) -> Reply {
            match req.path.as_str() {
                "/events" => Reply::Events(self.0.clone()),
                "/panic" => panic!("handler bug"),
                _ => Reply::Full(Response::new(
                    200,
                    "text/plain",
                    format!("{}?{}", req.path, req.query),
                )),
            }
        }
    }

    fn server(hub: Arc<Hub>) -> (Server, SocketAddr) {
        let s = Server::spawn(
            "test",
            Arc::new(Echo(hub)),
            || ServeSettings::loopback(0),
            Box::new(|_, _| {}),
        )
        .unwrap();
        let addr = s.wait_bound(Duration::from_secs(2)).unwrap();
        (s, addr)
    }

    fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn listen_addresses_parse_with_loopback_default() {
        assert_eq!(parse_listen("", 9191).unwrap(), ("127.0.0.1".into(), 9191));
        assert_eq!(
            parse_listen("9300", 9191).unwrap(),
            ("127.0.0.1".into(), 9300)
        );
        assert_eq!(
            parse_listen("0.0.0.0:80", 9191).unwrap(),
            ("0.0.0.0".into(), 80)
        );
        assert_eq!(parse_listen("[::1]:81", 1).unwrap(), ("::1".into(), 81));
        assert!(parse_listen("host:99999", 1).is_err());
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("::1"));
        assert!(is_loopback_host("localhost") && !is_loopback_host("0.0.0.0"));
    }

    #[test]
    fn answers_get_and_refuses_what_it_does_not_serve() {
        let (_s, addr) = server(Hub::new());
        let ok = raw(addr, b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
        assert!(ok.ends_with("/a?b=1"), "{ok}");
        let head = raw(addr, b"HEAD /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(
            head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
            "{head}"
        );
        let post = raw(
            addr,
            b"POST /a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let garbage = raw(addr, b"\x00\x01\x02 not http\r\n\r\n");
        assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 3 * MAX_HEAD));
        huge.extend_from_slice(b"\r\n\r\n");
        let big = raw(addr, &huge);
        assert!(big.starts_with("HTTP/1.1 431"), "{big}");
        let rebinding = raw(addr, b"GET / HTTP/1.1\r\nHost: evil.example:9191\r\n\r\n");
        assert!(rebinding.starts_with("HTTP/1.1 421"), "{rebinding}");
        let bug = raw(addr, b"GET /panic HTTP/1.1\r\n\r\n");
        assert!(bug.starts_with("HTTP/1.1 500"), "{bug}");
        // And it still answers afterwards.
        assert!(raw(addr, b"GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn a_silent_client_times_out_without_blocking_others() {
        let (_s, addr) = server(Hub::new());
        let mut silent = TcpStream::connect(addr).unwrap();
        silent.write_all(b"GET / HTT").unwrap();
        let ok = raw(addr, b"GET /x HTTP/1.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200"));
        silent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut out = String::new();
        let _ = silent.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    }

    #[test]
    fn a_viewer_that_never_reads_is_dropped_and_the_others_keep_streaming() {
        let hub = Hub::new();
        let (_s, addr) = server(hub.clone());
        let mut stalled = TcpStream::connect(addr).unwrap();
        stalled
            .write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut reader = TcpStream::connect(addr).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        reader
            .write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let t0 = Instant::now();
        while hub.clients.load(Relaxed) < 2 {
            assert!(t0.elapsed() < Duration::from_secs(2));
            std::thread::sleep(Duration::from_millis(5));
        }
        // Big states, fast: the stalled viewer's socket buffers fill, its write times out.
        let big = "x".repeat(256 * 1024);
        let mut buf = vec![0u8; 1 << 20];
        let mut read_total = 0usize;
        let t0 = Instant::now();
        let mut i = 0u64;
        while hub.clients.load(Relaxed) == 2 {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the stalled viewer was never dropped"
            );
            i += 1;
            hub.publish_state(format!("{{\"i\":{i},\"pad\":\"{big}\"}}"));
            read_total += reader.read(&mut buf).unwrap();
        }
        // The reading viewer is still served after the other was dropped.
        hub.publish_state("{\"after\":1}".into());
        let mut tail = String::new();
        while !tail.contains("\"after\":1") {
            let n = reader.read(&mut buf).unwrap();
            assert!(n > 0);
            tail.push_str(&String::from_utf8_lossy(&buf[..n]));
            if tail.len() > 8192 {
                tail = tail[tail.len() - 64..].to_string();
            }
            read_total += n;
        }
        assert!(read_total > 1 << 20);
        drop(stalled);
    }

    #[test]
    fn event_streams_get_state_and_events_and_a_busy_port_is_reported() {
        let hub = Hub::new();
        let (s, addr) = server(hub.clone());
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let t0 = Instant::now();
        while hub.clients.load(Relaxed) == 0 && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
        }
        hub.publish_state("{\"n\":1}".into());
        hub.publish_event("transcript", "{\"text\":\"hi\"}".into());
        let mut got = String::new();
        let mut buf = [0u8; 4096];
        while !(got.contains("\"n\":1") && got.contains("event: transcript")) {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "stream closed: {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(got.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"));

        let messages = Arc::new(Mutex::new(Vec::new()));
        let m2 = messages.clone();
        let port = addr.port();
        let second = Server::spawn(
            "test2",
            Arc::new(Echo(Hub::new())),
            move || ServeSettings::loopback(port),
            Box::new(move |text, err| m2.lock().unwrap().push((text, err))),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(second.local_addr().is_none());
        let m = messages.lock().unwrap().clone();
        assert!(m.iter().any(|(t, e)| *e && t.contains("in use")), "{m:?}");
        drop(s);
    }
}
