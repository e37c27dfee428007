//! The plugin's public contract (docs/contract.md) as constants and conversions.
//!
//! Parameter values here are *normalized* 0..1, the form the harness's `set_param` takes for both
//! formats. (Over CLAP, nice-plug exposes stepped parameters — bool and int — with *plain* values
//! `normalized × step_count` in `0..=step_count`; the CLAP harness converts using the range the
//! plugin reports in its parameter info. Over VST3 the value is the normalized one.)

/// CLAP plugin id.
pub const PLUGIN_ID: &str = "org.sentio.sentio";

/// Parameter string ids.
pub const OSC_ON: &str = "osc_on";
pub const OSC_PORT: &str = "osc_port";
pub const OSC_RATE: &str = "osc_rate";
pub const MIDI_ON: &str = "midi_on";
pub const MIDI_CHANNEL: &str = "midi_channel";
/// The speech path: on/off, Whisper model (enum), language (enum), Text Weight (float 0..1,
/// normalized = value).
pub const SPEECH_ON: &str = "speech_on";
pub const WHISPER_MODEL: &str = "whisper_model";
/// Whose encoder blocks the acoustic model is built on (enum: tiny.en, base; next activation).
pub const EMOTION_ENCODER: &str = "emotion_encoder";
pub const LANGUAGE: &str = "language";
pub const TEXT_WEIGHT: &str = "text_weight";
/// The overlay server's and the OSCQuery server's ports (1–65535, like `osc_port`).
pub const OVERLAY_PORT: &str = "overlay_port";
pub const OSCQUERY_PORT: &str = "oscquery_port";
/// The output parameters (plugin → host): the class probabilities in `CLASSES` order, then
/// valence and arousal (-1..1, normalized (x + 1) / 2), voice activity (0..1) and the dominant
/// class (an int 0..7: CLAP plain value = index).
pub const OUTPUT_PARAMS: [&str; 12] = [
    "out_neutral",
    "out_calm",
    "out_happy",
    "out_sad",
    "out_angry",
    "out_fearful",
    "out_disgust",
    "out_surprised",
    "out_valence",
    "out_arousal",
    "out_voice",
    "out_dominant",
];
pub const OUTPUT_PARAMS_ON: &str = "outparams_on";
pub const OUTPUT_PARAMS_RATE: &str = "outparams_rate";
pub const ALL_PARAMS: [&str; 5] = [OSC_ON, OSC_PORT, OSC_RATE, MIDI_ON, MIDI_CHANNEL];

/// OSC addresses (default prefix `/sentio`).
pub const ADDR_VOICE: &str = "/sentio/voice";
pub const ADDR_LEVEL: &str = "/sentio/level";
pub const ADDR_PITCH: &str = "/sentio/pitch";
pub const ADDR_STATUS: &str = "/sentio/status";
/// s: the words of each finished utterance (sent once).
pub const ADDR_TRANSCRIPT: &str = "/sentio/transcript";
pub const ADDR_TRANSCRIPT_PARTIAL: &str = "/sentio/transcript/partial";
/// i utterances, i transcribed, i dropped, i speech models running (0/1).
pub const ADDR_SPEECH: &str = "/sentio/speech";

/// MIDI CC numbers.
pub const CC_VOICE: u8 = 20;
pub const CC_LEVEL: u8 = 21;
pub const CC_PITCH: u8 = 22;
/// Every controller of the README's table: prosody 20–22, then the emotion outputs 23–34.
pub const CC_ALL: std::ops::RangeInclusive<u8> = 20..=34;

/// Front-end framing at 16 kHz.
pub const FRONTEND_RATE: u32 = 16_000;
pub const WIN_LENGTH: u64 = 400;
pub const HOP_LENGTH: u64 = 160;

/// Frames the front end produces from `n16` samples at 16 kHz: `1 + (n16 - 400) / 160`.
pub fn expected_frames(n16: u64) -> u64 {
    if n16 < WIN_LENGTH {
        0
    } else {
        1 + (n16 - WIN_LENGTH) / HOP_LENGTH
    }
}

pub fn bool_normalized(on: bool) -> f64 {
    if on {
        1.0
    } else {
        0.0
    }
}

/// `osc_port` 1..=65535 → (port - 1) / 65534.
pub fn port_normalized(port: u16) -> f64 {
    assert!(port >= 1);
    (port as f64 - 1.0) / 65534.0
}

/// `osc_rate` 1..=60 Hz → (rate - 1) / 59.
pub fn rate_normalized(hz: u32) -> f64 {
    assert!((1..=60).contains(&hz));
    (hz as f64 - 1.0) / 59.0
}

/// `midi_channel` 1..=16 → (channel - 1) / 15.
pub fn midi_channel_normalized(channel: u8) -> f64 {
    assert!((1..=16).contains(&channel));
    (channel as f64 - 1.0) / 15.0
}

/// nice-plug's parameter id hash (`nice_plug::wrapper::util::hash_param_id`): the CLAP `clap_id`
/// and the VST3 `ParamID` of a parameter with string id `id`.
pub fn hash_param_id(id: &str) -> u32 {
    let mut hash: u32 = 0;
    for b in id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(b as u32);
    }
    hash & !(1 << 31)
}
