//! Host-visible parameters and the persisted settings that are not parameters.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

use crate::emotion::normalize::Calibration;
use crate::emotion::runtime::Device;
use crate::output::http::ServeSettings;
use crate::output::osc::{self, OscSettings};
use crate::output::osc_map::{OscMap, Preset};
use crate::output::{oscquery, overlay};
use crate::speech::models::{SpeechOptions, WhisperModel};
use crate::worker::{AnalysisSettings, DEFAULT_TEXT_WEIGHT};

/// Where the emotion model runs (takes effect at the next activation).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Auto,
    #[name = "CPU"]
    Cpu,
    #[name = "CUDA"]
    Cuda,
}

impl From<DeviceChoice> for Device {
    fn from(d: DeviceChoice) -> Self {
        match d {
            DeviceChoice::Auto => Device::Auto,
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda => Device::Cuda,
        }
    }
}

/// Which Whisper model transcribes (takes effect at the next activation).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhisperChoice {
    #[id = "tiny.en"]
    #[name = "tiny.en (fast, English)"]
    TinyEn,
    #[id = "base"]
    #[name = "base (multilingual)"]
    Base,
}

impl From<WhisperChoice> for WhisperModel {
    fn from(c: WhisperChoice) -> Self {
        match c {
            WhisperChoice::TinyEn => WhisperModel::TinyEn,
            WhisperChoice::Base => WhisperModel::Base,
        }
    }
}

/// The spoken language (the base model only; tiny.en is English). Auto-detection costs a
/// second encoder pass per utterance.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    #[id = "auto"]
    Auto,
    #[id = "en"]
    English,
    #[id = "de"]
    German,
    #[id = "fr"]
    French,
    #[id = "es"]
    Spanish,
    #[id = "it"]
    Italian,
    #[id = "pt"]
    Portuguese,
    #[id = "nl"]
    Dutch,
    #[id = "pl"]
    Polish,
    #[id = "ru"]
    Russian,
    #[id = "zh"]
    Chinese,
    #[id = "ja"]
    Japanese,
}

impl Language {
    /// Whisper's code, `None` for detection.
    pub fn code(self) -> Option<&'static str> {
        Some(match self {
            Self::Auto => return None,
            Self::English => "en",
            Self::German => "de",
            Self::French => "fr",
            Self::Spanish => "es",
            Self::Italian => "it",
            Self::Portuguese => "pt",
            Self::Dutch => "nl",
            Self::Polish => "pl",
            Self::Russian => "ru",
            Self::Chinese => "zh",
            Self::Japanese => "ja",
        })
    }
}

/// Which OSC map the sender uses.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OscPreset {
    #[id = "sentio"]
    Sentio,
    #[id = "touchdesigner"]
    #[name = "TouchDesigner"]
    TouchDesigner,
    #[id = "resolume"]
    Resolume,
    #[id = "qlcplus"]
    #[name = "QLC+"]
    Qlc,
    /// The map saved with the project (imported from `osc-map.json` in the data folder).
    #[id = "custom"]
    Custom,
}

#[derive(Params)]
pub struct SentioParams {
    /// OSC target host (name or address); strings cannot be host parameters.
    #[persist = "osc_host"]
    pub osc_host: Arc<RwLock<String>>,
    #[persist = "osc_prefix"]
    pub osc_prefix: Arc<RwLock<String>>,
    /// The custom OSC map (preset "Custom"), saved with the project.
    #[persist = "osc_map"]
    pub osc_map: Arc<RwLock<Option<OscMap>>>,
    /// Addresses the overlay and OSCQuery servers listen on: loopback unless the user sets a
    /// LAN address here.
    #[persist = "overlay_host"]
    pub overlay_host: Arc<RwLock<String>>,
    #[persist = "oscquery_host"]
    pub oscquery_host: Arc<RwLock<String>>,
    /// The user's "calibrate to my voice" statistics.
    #[persist = "calibration"]
    pub calibration: Arc<RwLock<Option<Calibration>>>,

    #[id = "emotion_on"]
    pub emotion_enabled: BoolParam,
    #[id = "emotion_device"]
    pub emotion_device: EnumParam<DeviceChoice>,
    #[id = "emotion_hop"]
    pub emotion_hop_ms: IntParam,
    #[id = "smoothing"]
    pub smoothing_ms: IntParam,
    /// Hold on while speaking neutrally for a few seconds; turning it off applies the calibration.
    #[id = "calibrate"]
    pub calibrate: BoolParam,

    /// Transcription and text emotion (next activation).
    #[id = "speech_on"]
    pub speech_enabled: BoolParam,
    #[id = "whisper_model"]
    pub whisper_model: EnumParam<WhisperChoice>,
    #[id = "language"]
    pub language: EnumParam<Language>,
    /// How much the words count against the voice (0: voice only).
    #[id = "text_weight"]
    pub text_weight: FloatParam,

    #[id = "osc_on"]
    pub osc_enabled: BoolParam,
    #[id = "osc_port"]
    pub osc_port: IntParam,
    #[id = "osc_rate"]
    pub osc_rate: IntParam,
    #[id = "osc_preset"]
    pub osc_preset: EnumParam<OscPreset>,
    /// How long a new dominant class must hold before `/sentio/onset` is sent.
    #[id = "onset_hold"]
    pub onset_hold_ms: IntParam,
    #[id = "trigger_threshold"]
    pub trigger_threshold: FloatParam,
    #[id = "trigger_hysteresis"]
    pub trigger_hysteresis: FloatParam,
    #[id = "midi_on"]
    pub midi_enabled: BoolParam,
    #[id = "midi_channel"]
    pub midi_channel: IntParam,

    /// The OBS overlay server (loopback HTTP).
    #[id = "overlay_on"]
    pub overlay_enabled: BoolParam,
    #[id = "overlay_port"]
    pub overlay_port: IntParam,
    /// The OSCQuery server (loopback HTTP) describing the OSC addresses.
    #[id = "oscquery_on"]
    pub oscquery_enabled: BoolParam,
    #[id = "oscquery_port"]
    pub oscquery_port: IntParam,
    /// Announce the OSCQuery server on the local network (mDNS `_oscjson._tcp`).
    #[id = "oscquery_mdns"]
    pub oscquery_mdns: BoolParam,
}

impl Default for SentioParams {
    fn default() -> Self {
        Self {
            osc_host: Arc::new(RwLock::new(osc::DEFAULT_HOST.into())),
            osc_prefix: Arc::new(RwLock::new(osc::DEFAULT_PREFIX.into())),
            calibration: Arc::new(RwLock::new(None)),
            osc_map: Arc::new(RwLock::new(None)),
            overlay_host: Arc::new(RwLock::new("127.0.0.1".into())),
            oscquery_host: Arc::new(RwLock::new("127.0.0.1".into())),
            emotion_enabled: BoolParam::new("Emotion Model", true),
            emotion_device: EnumParam::new("Model Device", DeviceChoice::Auto),
            emotion_hop_ms: IntParam::new(
                "Emotion Hop",
                250,
                IntRange::Linear { min: 50, max: 1000 },
            )
            .with_unit(" ms"),
            smoothing_ms: IntParam::new(
                "Emotion Smoothing",
                500,
                IntRange::Linear { min: 0, max: 5000 },
            )
            .with_unit(" ms"),
            calibrate: BoolParam::new("Calibrate To My Voice", false),
            speech_enabled: BoolParam::new("Speech Recognition", true),
            whisper_model: EnumParam::new("Whisper Model", WhisperChoice::TinyEn),
            language: EnumParam::new("Language", Language::English),
            text_weight: FloatParam::new(
                "Text Weight",
                DEFAULT_TEXT_WEIGHT,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
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
            osc_preset: EnumParam::new("OSC Preset", OscPreset::Sentio),
            onset_hold_ms: IntParam::new(
                "Onset Hold",
                crate::output::events::OnsetSettings::default().hold_ms as i32,
                IntRange::Linear { min: 0, max: 5000 },
            )
            .with_unit(" ms"),
            trigger_threshold: FloatParam::new(
                "Trigger Threshold",
                crate::output::events::TriggerSettings::default().threshold,
                FloatRange::Linear {
                    min: 0.05,
                    max: 0.95,
                },
            )
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage())
            .with_unit(" %"),
            trigger_hysteresis: FloatParam::new(
                "Trigger Hysteresis",
                crate::output::events::TriggerSettings::default().hysteresis,
                FloatRange::Linear { min: 0.0, max: 0.5 },
            )
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage())
            .with_unit(" %"),
            midi_enabled: BoolParam::new("MIDI CC Output", true),
            midi_channel: IntParam::new("MIDI Channel", 1, IntRange::Linear { min: 1, max: 16 }),
            overlay_enabled: BoolParam::new("Overlay Server", true),
            overlay_port: IntParam::new(
                "Overlay Port",
                overlay::DEFAULT_PORT as i32,
                IntRange::Linear { min: 1, max: 65535 },
            ),
            oscquery_enabled: BoolParam::new("OSCQuery Server", true),
            oscquery_port: IntParam::new(
                "OSCQuery Port",
                oscquery::DEFAULT_PORT as i32,
                IntRange::Linear { min: 1, max: 65535 },
            ),
            oscquery_mdns: BoolParam::new("OSCQuery mDNS", false),
        }
    }
}

impl SentioParams {
    pub fn analysis_settings(&self) -> AnalysisSettings {
        AnalysisSettings {
            smoothing_s: self.smoothing_ms.value() as f32 / 1000.0,
            calibrating: self.calibrate.value(),
            text_weight: self.text_weight.value(),
        }
    }

    pub fn speech_options(&self) -> SpeechOptions {
        SpeechOptions {
            model: self.whisper_model.value().into(),
            language: self.language.value().code().map(str::to_owned),
            device: self.emotion_device.value().into(),
        }
    }

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
            map: self.osc_map(),
        }
    }

    /// The map of the chosen preset (or the saved custom one), with the event settings of the
    /// parameters.
    pub fn osc_map(&self) -> OscMap {
        let mut map = match self.osc_preset.value() {
            OscPreset::Sentio => OscMap::preset(Preset::Sentio, 1),
            OscPreset::TouchDesigner => OscMap::preset(Preset::TouchDesigner, 1),
            OscPreset::Resolume => OscMap::preset(Preset::Resolume, 1),
            OscPreset::Qlc => OscMap::preset(Preset::Qlc, 1),
            OscPreset::Custom => self
                .osc_map
                .read()
                .ok()
                .and_then(|m| m.clone())
                .unwrap_or_default(),
        };
        map.onset.hold_ms = self.onset_hold_ms.value().max(0) as u32;
        map.triggers.threshold = self.trigger_threshold.value();
        map.triggers.hysteresis = self.trigger_hysteresis.value();
        map
    }

    pub fn overlay_settings(&self) -> ServeSettings {
        serve_settings(
            &self.overlay_enabled,
            &self.overlay_host,
            &self.overlay_port,
        )
    }

    pub fn oscquery_settings(&self) -> ServeSettings {
        serve_settings(
            &self.oscquery_enabled,
            &self.oscquery_host,
            &self.oscquery_port,
        )
    }
}

/// Where a local server listens: its on/off parameter, persisted host and port parameter.
fn serve_settings(enabled: &BoolParam, host: &RwLock<String>, port: &IntParam) -> ServeSettings {
    ServeSettings {
        enabled: enabled.value(),
        host: host.read().map(|s| s.clone()).unwrap_or_default(),
        port: port.value().clamp(1, 65535) as u16,
    }
}
