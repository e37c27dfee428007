//! What `sentio-app` decides before nice-plug's standalone wrapper creates the plugin. The wrapper
//! builds the plugin with `Default` and has no way to pass settings in (nor to load a project), so
//! the app records them here first; a plugin loaded by a host never sets them.

use std::sync::OnceLock;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppDefaults {
    /// No window: for machines without a display, services and tests.
    pub headless: bool,
    /// Where OSC goes, instead of the parameter defaults.
    pub osc_host: Option<String>,
    pub osc_port: Option<u16>,
    /// The overlay server's port.
    pub overlay_port: Option<u16>,
}

static DEFAULTS: OnceLock<AppDefaults> = OnceLock::new();

/// Only the first call counts (the app calls it once, before the wrapper starts).
pub fn set(defaults: AppDefaults) {
    let _ = DEFAULTS.set(defaults);
}

pub fn get() -> Option<&'static AppDefaults> {
    DEFAULTS.get()
}
