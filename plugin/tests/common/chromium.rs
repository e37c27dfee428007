//! Headless Chromium driven over the DevTools protocol, to look at the overlay as OBS's browser
//! would: one browser, a page per URL, screenshots and DOM reads at chosen moments (the
//! `--screenshot` flag captures at the load event, which an event-stream page passes at once).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

pub fn binary() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_owned)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP request to the DevTools endpoint (or any local server); returns the body.
/// Reads by `Content-Length` (DevTools keeps the connection open) or to the end.
pub fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(len) = len {
                if out.len() >= end + 4 + len {
                    return Ok(String::from_utf8_lossy(&out[end + 4..end + 4 + len]).into_owned());
                }
            }
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            let text = String::from_utf8_lossy(&out).into_owned();
            return match text.split_once("\r\n\r\n") {
                Some((_, body)) => Ok(body.to_string()),
                None => Err(std::io::Error::other("no HTTP response")),
            };
        }
        out.extend_from_slice(&buf[..n]);
    }
}

pub struct Browser {
    child: Child,
    port: u16,
    size: (u32, u32),
    _profile: std::path::PathBuf,
}

impl Browser {
    pub fn launch(binary: &str, width: u32, height: u32) -> Self {
        let port = free_port();
        let profile =
            std::env::temp_dir().join(format!("sentio-chromium-{}-{port}", std::process::id()));
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--mute-audio",
                // Pages in background tabs would otherwise be throttled.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let t0 = Instant::now();
        while http(port, "GET", "/json/version").is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromium's DevTools endpoint did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            size: (width, height),
            _profile: profile,
        }
    }

    /// A new page showing `url`.
    pub fn open(&self, url: &str) -> Page {
        let body = http(self.port, "PUT", &format!("/json/new?{url}")).expect("new target");
        let target: Value = serde_json::from_str(&body).expect("target JSON");
        let ws_url = target["webSocketDebuggerUrl"]
            .as_str()
            .expect("webSocketDebuggerUrl")
            .to_string();
        let (ws, _) = tungstenite::connect(ws_url.as_str()).expect("DevTools WebSocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        }
        let mut page = Page { ws, next_id: 1 };
        // The page's own size, as an OBS Browser Source of that width and height.
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": self.size.0, "height": self.size.1, "deviceScaleFactor": 1, "mobile": false }),
        );
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._profile);
    }
}

pub struct Page {
    ws: WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// One DevTools command; returns its `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("DevTools send");
        loop {
            let reply = self.ws.read().expect("DevTools reply");
            let Message::Text(text) = reply else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression and returns its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true }),
        );
        r["result"]["value"].clone()
    }

    /// Paints the (transparent) page over `rgba`, as the overlay would sit over a scene.
    pub fn background(&mut self, r: u8, g: u8, b: u8) {
        self.call(
            "Emulation.setDefaultBackgroundColorOverride",
            json!({ "color": { "r": r, "g": g, "b": b, "a": 1 } }),
        );
    }

    /// Brings the page to the front (only the front page animates every frame) and captures it.
    pub fn screenshot(&mut self) -> Vec<u8> {
        self.call("Page.bringToFront", json!({}));
        std::thread::sleep(Duration::from_millis(300));
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64")
    }
}

/// Decoded RGBA pixels of a PNG.
pub fn pixels(png_bytes: &[u8]) -> (u32, u32, Vec<[u8; 4]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("png");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("frame");
    let bytes = &buf[..info.buffer_size()];
    let px = match info.color_type {
        png::ColorType::Rgba => bytes
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
        png::ColorType::Rgb => bytes
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, px)
}
