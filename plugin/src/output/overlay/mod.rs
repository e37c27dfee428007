//! The streamer's overlay: a self-contained page for an OBS Browser Source, fed live over
//! Server-Sent Events, served on loopback by [`super::http`].
//!
//! Routes (all `GET`/`HEAD`, read-only):
//! - `/` — the page (HTML, CSS and JS inline; themes by query: `?theme=bars|badge|circumplex|captions`);
//! - `/events` — `text/event-stream`: `event: state` with a [`Snapshot`] at most 30 times a
//!   second (only when something changed), `event: transcript` once per finished transcript;
//! - `/api/state` — the latest snapshot once, as JSON.
//!
//! Server-Sent Events rather than WebSocket: the stream only goes one way, `EventSource`
//! reconnects by itself (OBS keeps a source open for hours across plugin restarts), and it needs
//! no handshake code or extra crate.
//!
//! One publisher thread reads the shared state at [`MAX_RATE_HZ`] and hands the JSON to the
//! [`Hub`]; client threads only ever see the hub, so fifty viewers cost the worker nothing more
//! than one.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::http::{Handler, Hub, Reply, Request, Response, ServeSettings, Server};
use super::snapshot::{Snapshot, TranscriptJson};
use crate::state::SharedState;

pub const DEFAULT_PORT: u16 = 9191;
pub const MAX_RATE_HZ: u32 = 30;

const PAGE: &str = include_str!("page.html");

struct Routes {
    hub: Arc<Hub>,
}

impl Handler for Routes {
    fn handle(&self, req: &Request) -> Reply {
        Reply::Full(match req.path.as_str() {
            "/" | "/index.html" => Response::new(200, "text/html; charset=utf-8", PAGE)
                .with_header(
                    "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
                ),
            "/events" => return Reply::Events(self.hub.clone()),
            "/api/state" => Response::new(200, "application/json", self.hub.state().as_bytes()),
            "/favicon.ico" => Response::new(204, "text/plain", ""),
            _ => Response::error(404, "not found (the overlay serves /, /events and /api/state)"),
        })
    }
}

/// The overlay server and its publisher; dropping it stops both.
pub struct OverlayServer {
    stop: Arc<AtomicBool>,
    publisher: Option<JoinHandle<()>>,
    server: Option<Server>,
    hub: Arc<Hub>,
}

impl OverlayServer {
    pub fn spawn(
        shared: Arc<SharedState>,
        settings: impl Fn() -> ServeSettings + Send + 'static,
    ) -> std::io::Result<Self> {
        let hub = Hub::new();
        let stop = Arc::new(AtomicBool::new(false));
        // The first snapshot exists before the first client can connect.
        hub.publish_state(Snapshot::read(&shared).to_json());
        let publisher = {
            let (hub, stop, shared) = (hub.clone(), stop.clone(), shared.clone());
            std::thread::Builder::new()
                .name("sentio-overlay-publish".into())
                .spawn(move || publish(&shared, &hub, &stop))?
        };
        let report_to = shared.clone();
        let server = Server::spawn(
            "overlay",
            Arc::new(Routes { hub: hub.clone() }),
            settings,
            Box::new(move |text, problem| {
                if problem {
                    nice_plug::nice_warn!("Sentio overlay: {text}");
                } else {
                    nice_plug::nice_log!("Sentio overlay: {text}");
                }
                report_to.set_overlay_state(text, problem);
            }),
        );
        let server = match server {
            Ok(s) => s,
            Err(e) => {
                stop.store(true, Relaxed);
                let _ = publisher.join();
                return Err(e);
            }
        };
        Ok(Self {
            stop,
            publisher: Some(publisher),
            server: Some(server),
            hub,
        })
    }

    pub fn wait_bound(&self, timeout: Duration) -> Option<std::net::SocketAddr> {
        self.server.as_ref().and_then(|s| s.wait_bound(timeout))
    }
}

impl Drop for OverlayServer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        self.hub.close();
        drop(self.server.take());
        if let Some(t) = self.publisher.take() {
            let _ = t.join();
        }
    }
}

fn publish(shared: &SharedState, hub: &Hub, stop: &AtomicBool) {
    let period = Duration::from_secs_f64(1.0 / MAX_RATE_HZ as f64);
    let mut last: Option<Snapshot> = None;
    // Transcripts published before the server started are in the snapshot, not replayed.
    let mut seq = shared.latest_transcript().map_or(0, |t| t.seq);
    while !stop.load(Relaxed) {
        for t in shared.transcripts_since(seq) {
            seq = t.seq;
            if let Ok(json) = serde_json::to_string(&TranscriptJson::from(&t)) {
                hub.publish_event("transcript", json);
            }
        }
        // Compared without the clock, which always moves.
        let mut snap = Snapshot::read(shared);
        let t = snap.t;
        snap.t = 0.0;
        if last.as_ref() != Some(&snap) {
            snap.t = t;
            hub.publish_state(snap.to_json());
            snap.t = 0.0;
            last = Some(snap);
        }
        std::thread::sleep(period);
    }
}
