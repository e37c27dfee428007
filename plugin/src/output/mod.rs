//! Where the analysis leaves the plugin: OSC (UDP) and MIDI CC.

pub mod midi;
pub mod osc;
