//! Host-visible parameters and the persisted settings that are not parameters.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

use crate::output::osc::{self, OscSettings};

#[derive(Params)]
pub struct SentioParams {
    /// OSC target host (name or address); strings cannot be host parameters.
    #[persist = "osc_host"]
    pub osc_host: Arc<RwLock<String>>,
    #[persist = "osc_prefix"]
    pub osc_prefix: Arc<RwLock<String>>,

    #[id = "osc_on"]
    pub osc_enabled: BoolParam,
    #[id = "osc_port"]
    pub osc_port: IntParam,
    #[id = "osc_rate"]
    pub osc_rate: IntParam,
    #[id = "midi_on"]
    pub midi_enabled: BoolParam,
    #[id = "midi_channel"]
    pub midi_channel: IntParam,
}

impl Default for SentioParams {
    fn default() -> Self {
        Self {
            osc_host: Arc::new(RwLock::new(osc::DEFAULT_HOST.into())),
            osc_prefix: Arc::new(RwLock::new(osc::DEFAULT_PREFIX.into())),
            osc_enabled: BoolParam::new("OSC Output", true),
            osc_port: IntParam::new(
                "OSC Port",
                osc::DEFAULT_PORT as i32,
                IntRange::Linear { min: 1, max: 65535 },
            ),
            osc_rate: IntParam::new(
                "OSC Rate",
                osc::DEFAULT_RATE_HZ as i32,
                IntRange::Linear {
                    min: 1,
                    max: osc::MAX_RATE_HZ as i32,
                },
            )
            .with_unit(" Hz"),
            midi_enabled: BoolParam::new("MIDI CC Output", true),
            midi_channel: IntParam::new("MIDI Channel", 1, IntRange::Linear { min: 1, max: 16 }),
        }
    }
}

impl SentioParams {
    /// The OSC settings as the sender thread needs them (takes read locks: not for `process()`).
    pub fn osc_settings(&self) -> OscSettings {
        OscSettings {
            enabled: self.osc_enabled.value(),
            host: self.osc_host.read().map(|s| s.clone()).unwrap_or_default(),
            port: self.osc_port.value().clamp(1, 65535) as u16,
            prefix: self
                .osc_prefix
                .read()
                .map(|s| s.clone())
                .unwrap_or_default(),
            rate_hz: self.osc_rate.value().max(1) as u32,
        }
    }
}
