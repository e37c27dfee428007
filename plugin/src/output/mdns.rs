//! mDNS announcement of the OSCQuery server (`_oscjson._tcp`), only when the user turns it on:
//! it is the one thing here that speaks on the local network (multicast), and it says only where
//! the OSCQuery server is. Uses the `mdns-sd` crate (pure Rust, its own thread).
//!
//! A server bound to loopback is announced with 127.0.0.1 on the loopback interface only (as
//! VRChat announces its own OSCQuery services), so tools on this machine find it and nothing is
//! sent to the network.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

pub const SERVICE_TYPE: &str = "_oscjson._tcp.local.";

/// One registered service; dropping it withdraws it and stops the responder thread.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Announcement {
    /// Announce the OSCQuery server listening on `addr`.
    pub fn start(addr: SocketAddr) -> Result<Self, String> {
        let daemon = ServiceDaemon::new().map_err(|e| format!("mDNS: cannot start: {e}"))?;
        if addr.ip().is_loopback() {
            // A loopback server is announced on the loopback interface only: nothing goes out
            // to the network, and programs on this machine still find it.
            daemon
                .disable_interface(IfKind::All)
                .and_then(|_| daemon.enable_interface(IfKind::LoopbackV4))
                .and_then(|_| daemon.enable_interface(IfKind::LoopbackV6))
                .map_err(|e| format!("mDNS: cannot select the loopback interface: {e}"))?;
        }
        let instance = format!("Sentio-{}", addr.port());
        let info = if addr.ip().is_unspecified() {
            ServiceInfo::new(
                SERVICE_TYPE,
                &instance,
                "sentio.local.",
                "",
                addr.port(),
                None::<std::collections::HashMap<String, String>>,
            )
            .map(ServiceInfo::enable_addr_auto)
        } else {
            ServiceInfo::new(
                SERVICE_TYPE,
                &instance,
                "sentio.local.",
                addr.ip(),
                addr.port(),
                None::<std::collections::HashMap<String, String>>,
            )
        }
        .map_err(|e| format!("mDNS: invalid service: {e}"))?;
        let fullname = info.get_fullname().to_string();
        daemon
            .register(info)
            .map_err(|e| format!("mDNS: cannot announce: {e}"))?;
        Ok(Self { daemon, fullname })
    }

    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_millis(500));
        }
        // Wait for the daemon's thread to finish: a plugin may be unloaded right after.
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Keeps an announcement in step with a setting and a server address, on its own thread: on
/// while `wanted()` gives an address, withdrawn otherwise.
pub struct Announcer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Announcer {
    pub fn spawn(
        wanted: impl Fn() -> Option<SocketAddr> + Send + 'static,
        report: impl Fn(Option<String>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentio-mdns".into())
            .spawn(move || {
                let mut current: Option<(SocketAddr, Announcement)> = None;
                let mut failed: Option<SocketAddr> = None;
                while !flag.load(Relaxed) {
                    let want = wanted();
                    if current.as_ref().map(|c| c.0) != want {
                        current = None;
                        if let Some(addr) = want.filter(|a| failed != Some(*a)) {
                            match Announcement::start(addr) {
                                Ok(a) => {
                                    report(None);
                                    current = Some((addr, a));
                                    failed = None;
                                }
                                Err(e) => {
                                    report(Some(e));
                                    failed = Some(addr);
                                }
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdns_sd::ServiceEvent;

    #[test]
    fn the_announcement_is_found_by_a_browser_and_withdrawn_on_drop() {
        let addr: SocketAddr = "127.0.0.1:9876".parse().unwrap();
        let announced = Announcement::start(addr).expect("announce");
        let browser = ServiceDaemon::new().unwrap();
        browser.enable_interface(IfKind::LoopbackV4).unwrap();
        let events = browser.browse(SERVICE_TYPE).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut found = None;
        while found.is_none() && std::time::Instant::now() < deadline {
            if let Ok(ServiceEvent::ServiceResolved(info)) =
                events.recv_timeout(Duration::from_millis(500))
            {
                if info.get_fullname() == announced.fullname() {
                    found = Some(info);
                }
            }
        }
        let info = found.expect("the OSCQuery service was not found over mDNS");
        assert_eq!(info.get_port(), 9876);
        assert!(info
            .get_addresses()
            .iter()
            .all(|a| a.to_string() == "127.0.0.1"));
        let fullname = announced.fullname().to_string();
        drop(announced);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut removed = false;
        while !removed && std::time::Instant::now() < deadline {
            if let Ok(ServiceEvent::ServiceRemoved(_, name)) =
                events.recv_timeout(Duration::from_millis(500))
            {
                removed = name == fullname;
            }
        }
        assert!(removed, "the service was not withdrawn");
        let _ = browser.shutdown();
    }
}
