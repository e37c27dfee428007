//! Where the analysis leaves the plugin. Every surface here reads the shared state
//! ([`crate::state::SharedState`]) on its own thread, the way the OSC sender does; none of them
//! is a path into the worker or the audio thread.
//!
//! - `osc`, `osc_map`, `events`: OSC over UDP, its address map and presets, onset/trigger events
//! - `midi`: MIDI CC (sent from `process()`)
//! - `host_params`: the same values as host parameters a DAW records (sent from `process()`)
//! - `snapshot`: the outputs as one JSON document (overlay, `/api/state`, OSCQuery values)
//! - `http`: the small loopback HTTP server the overlay and OSCQuery run on
//! - `overlay`: the OBS Browser Source page and its live event stream
//! - `oscquery`, `mdns`: the OSCQuery namespace describing every OSC address sent, and its
//!   opt-in mDNS announcement

/// `v`, or `fallback` for NaN and ±Inf: nothing non-finite ever leaves the plugin.
pub(crate) fn finite(v: f32, fallback: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        fallback
    }
}

pub mod events;
pub mod host_params;
pub mod http;
pub mod mdns;
pub mod midi;
pub mod osc;
pub mod osc_map;
pub mod oscquery;
pub mod overlay;
pub mod snapshot;
