//! Host-visible parameters and the persisted settings that are not parameters.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

use crate::emotion::adaptation::Adaptation;
use crate::emotion::normalize::Calibration;
use crate::emotion::runtime::{AcousticModel, Device};
use crate::emotion::{CLASSES, N_CLASSES};
use crate::output::host_params;
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

/// Whose encoder blocks the acoustic model is built on (takes effect at the next activation).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderChoice {
    #[id = "tiny.en"]
    #[name = "Whisper tiny.en (fast)"]
    TinyEn,
    #[id = "base"]
    #[name = "Whisper base (larger)"]
    Base,
}

impl From<EncoderChoice> for AcousticModel {
    fn from(c: EncoderChoice) -> Self {
        match c {
            EncoderChoice::TinyEn => AcousticModel::TinyEn,
            EncoderChoice::Base => AcousticModel::Base,
        }
    }
}

/// "Learn my voice": while set to an emotion, the speech heard is an example of it; back to Off,
/// the model learns from every take since it loaded (at least two emotions). Forget clears it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Teach {
    Off,
    Neutral,
    Calm,
    Happy,
    Sad,
    Angry,
    Fearful,
    Disgust,
    Surprised,
    Forget,
}

impl Teach {
    /// The class being taught (index in `CLASSES`).
    pub fn class(self) -> Option<usize> {
        use Teach::*;
        [
            Neutral, Calm, Happy, Sad, Angry, Fearful, Disgust, Surprised,
        ]
        .iter()
        .position(|t| *t == self)
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
    /// What "learn my voice" learnt (or `sentio adapt` fitted), saved with the project.
    #[persist = "adaptation"]
    pub adaptation: Arc<RwLock<Option<Adaptation>>>,

    #[id = "emotion_on"]
    pub emotion_enabled: BoolParam,
    #[id = "emotion_encoder"]
    pub emotion_encoder: EnumParam<EncoderChoice>,
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

    /// Report the emotion as the output parameters below (host automation).
    #[id = "outparams_on"]
    pub output_params_enabled: BoolParam,
    #[id = "outparams_rate"]
    pub output_params_rate: IntParam,
    /// Written by the plugin, never read: what the host shows and records.
    #[nested(group = "Emotion Outputs")]
    pub outputs: EmotionOutputParams,
    /// Last, after the outputs: hosts list parameters in this order, and a new one here keeps
    /// the existing ones' order unchanged.
    #[id = "teach"]
    pub teach: EnumParam<Teach>,
}

/// The analysis as host parameters (outputs: the plugin sets them from `process()`; the vendored
/// nice-plug's `ParamFlags::OUTPUT` makes the wrapper refuse host writes to them).
#[derive(Params)]
pub struct EmotionOutputParams {
    #[id = "out_neutral"]
    pub neutral: FloatParam,
    #[id = "out_calm"]
    pub calm: FloatParam,
    #[id = "out_happy"]
    pub happy: FloatParam,
    #[id = "out_sad"]
    pub sad: FloatParam,
    #[id = "out_angry"]
    pub angry: FloatParam,
    #[id = "out_fearful"]
    pub fearful: FloatParam,
    #[id = "out_disgust"]
    pub disgust: FloatParam,
    #[id = "out_surprised"]
    pub surprised: FloatParam,
    #[id = "out_valence"]
    pub valence: FloatParam,
    #[id = "out_arousal"]
    pub arousal: FloatParam,
    #[id = "out_voice"]
    pub voice: FloatParam,
    #[id = "out_dominant"]
    pub dominant: IntParam,
}

impl Default for EmotionOutputParams {
    fn default() -> Self {
        let unit = |name: String| {
            FloatParam::new(name, 0.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .output()
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage())
        };
        let prob = |i: usize| {
            let mut name = CLASSES[i].to_string();
            name[..1].make_ascii_uppercase();
            unit(name)
        };
        let bipolar = |name: &'static str| {
            FloatParam::new(
                name,
                0.0,
                FloatRange::Linear {
                    min: -1.0,
                    max: 1.0,
                },
            )
            .output()
            .with_value_to_string(formatters::v2s_f32_rounded(2))
        };
        Self {
            neutral: prob(0),
            calm: prob(1),
            happy: prob(2),
            sad: prob(3),
            angry: prob(4),
            fearful: prob(5),
            disgust: prob(6),
            surprised: prob(7),
            valence: bipolar("Valence"),
            arousal: bipolar("Arousal"),
            voice: unit("Voice Activity".into()),
            dominant: IntParam::new(
                "Dominant Emotion",
                0,
                IntRange::Linear {
                    min: 0,
                    max: N_CLASSES as i32 - 1,
                },
            )
            .output()
            .with_value_to_string(Arc::new(|i| {
                CLASSES
                    .get(i.max(0) as usize)
                    .copied()
                    .unwrap_or("?")
                    .to_string()
            }))
            .with_string_to_value(Arc::new(|s| {
                CLASSES
                    .iter()
                    .position(|c| c.eq_ignore_ascii_case(s.trim()))
                    .map(|i| i as i32)
            })),
        }
    }
}

impl EmotionOutputParams {
    /// What the host last set output `i` to (normalized), in `output::host_params` order.
    pub fn normalized(&self, i: usize) -> f32 {
        match i {
            0 => self.neutral.unmodulated_normalized_value(),
            1 => self.calm.unmodulated_normalized_value(),
            2 => self.happy.unmodulated_normalized_value(),
            3 => self.sad.unmodulated_normalized_value(),
            4 => self.angry.unmodulated_normalized_value(),
            5 => self.fearful.unmodulated_normalized_value(),
            6 => self.disgust.unmodulated_normalized_value(),
            7 => self.surprised.unmodulated_normalized_value(),
            8 => self.valence.unmodulated_normalized_value(),
            9 => self.arousal.unmodulated_normalized_value(),
            10 => self.voice.unmodulated_normalized_value(),
            _ => self.dominant.unmodulated_normalized_value(),
        }
    }

    /// The parameters in `output::host_params` order.
    pub fn ptrs(&self) -> [ParamPtr; host_params::COUNT] {
        [
            self.neutral.as_ptr(),
            self.calm.as_ptr(),
            self.happy.as_ptr(),
            self.sad.as_ptr(),
            self.angry.as_ptr(),
            self.fearful.as_ptr(),
            self.disgust.as_ptr(),
            self.surprised.as_ptr(),
            self.valence.as_ptr(),
            self.arousal.as_ptr(),
            self.voice.as_ptr(),
            self.dominant.as_ptr(),
        ]
    }
}

impl Default for SentioParams {
    fn default() -> Self {
        Self {
            osc_host: Arc::new(RwLock::new(osc::DEFAULT_HOST.into())),
            osc_prefix: Arc::new(RwLock::new(osc::DEFAULT_PREFIX.into())),
            calibration: Arc::new(RwLock::new(None)),
            adaptation: Arc::new(RwLock::new(None)),
            osc_map: Arc::new(RwLock::new(None)),
            overlay_host: Arc::new(RwLock::new("127.0.0.1".into())),
            oscquery_host: Arc::new(RwLock::new("127.0.0.1".into())),
            emotion_enabled: BoolParam::new("Emotion Model", true),
            emotion_encoder: EnumParam::new("Model Encoder", EncoderChoice::TinyEn),
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
            teach: EnumParam::new("Learn My Voice", Teach::Off),
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
            osc_port: port_param("OSC Port", osc::DEFAULT_PORT),
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
            overlay_port: port_param("Overlay Port", overlay::DEFAULT_PORT),
            oscquery_enabled: BoolParam::new("OSCQuery Server", true),
            oscquery_port: port_param("OSCQuery Port", oscquery::DEFAULT_PORT),
            oscquery_mdns: BoolParam::new("OSCQuery mDNS", false),
            output_params_enabled: BoolParam::new("Output Parameters", true),
            output_params_rate: IntParam::new(
                "Output Parameter Rate",
                host_params::MAX_RATE_HZ as i32,
                IntRange::Linear {
                    min: 1,
                    max: host_params::MAX_RATE_HZ as i32,
                },
            )
            .with_unit(" Hz"),
            outputs: EmotionOutputParams::default(),
        }
    }
}

impl SentioParams {
    /// The defaults with what `sentio-app` was told on its command line.
    pub fn for_app(app: &crate::standalone::AppDefaults) -> Self {
        let mut p = Self::default();
        if let Some(host) = &app.osc_host {
            p.osc_host = Arc::new(RwLock::new(host.clone()));
        }
        if let Some(port) = app.osc_port {
            p.osc_port = port_param("OSC Port", port);
        }
        if let Some(port) = app.overlay_port {
            p.overlay_port = port_param("Overlay Port", port);
        }
        p
    }

    pub fn analysis_settings(&self) -> AnalysisSettings {
        AnalysisSettings {
            smoothing_s: self.smoothing_ms.value() as f32 / 1000.0,
            calibrating: self.calibrate.value(),
            teaching: self.teach.value().class(),
            forget_voice: self.teach.value() == Teach::Forget,
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

fn port_param(name: &'static str, default: u16) -> IntParam {
    IntParam::new(
        name,
        default.max(1) as i32,
        IntRange::Linear { min: 1, max: 65535 },
    )
}

/// Where a local server listens: its on/off parameter, persisted host and port parameter.
fn serve_settings(enabled: &BoolParam, host: &RwLock<String>, port: &IntParam) -> ServeSettings {
    ServeSettings {
        enabled: enabled.value(),
        host: host.read().map(|s| s.clone()).unwrap_or_default(),
        port: port.value().clamp(1, 65535) as u16,
    }
}
