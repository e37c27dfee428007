//! What goes out over OSC, to which address, in which range: a mapping the user can edit and
//! save (JSON, in the plugin state or a file for `sentio analyze --osc-map`), with presets for
//! the targets people use — so TouchDesigner, Resolume and QLC+ take the values without glue.
//!
//! Each mapping names a *source* (`emotion/happy`, `valence`, `voice`, `trigger/angry`, …), an
//! *address* (relative to the OSC prefix unless it starts with `/`), and for numbers an optional
//! output *range* `[min, max]` onto which the source's natural domain is mapped linearly
//! (clamped), sent as a float or, with `"int": true`, rounded to an int. The default map is the
//! Sentio scheme documented in the README.

use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType};
use serde::{Deserialize, Serialize};

use super::events::{Event, OnsetSettings, TriggerSettings};
use super::finite;
use crate::emotion::{CLASSES, N_CLASSES};
use crate::state::{Outputs, Status};
use crate::text::TEXT_CLASSES;

/// A value the plugin can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Voice,
    Level,
    Pitch,
    Emotion(usize),
    Valence,
    Arousal,
    /// The dominant class's probability.
    Confidence,
    /// The dominant class's index in class order (0 = neutral … 7 = surprised).
    DominantIndex,
    Text(usize),
    /// 8 floats in class order.
    Probs,
    /// s class, f probability.
    Dominant,
    /// s words, once per finished utterance.
    Transcript,
    /// s words so far of the utterance being spoken, once per partial.
    Partial,
    Status,
    Speech,
    /// s class, f confidence: the dominant class changed and held (an event).
    Onset,
    /// A class's trigger switched on (range max) or off (range min) (an event).
    Trigger(usize),
}

impl Source {
    pub fn parse(id: &str) -> Result<Self, String> {
        let class = |name: &str, list: &[&str]| list.iter().position(|c| *c == name);
        Ok(match id {
            "voice" => Self::Voice,
            "level" => Self::Level,
            "pitch" => Self::Pitch,
            "valence" => Self::Valence,
            "arousal" => Self::Arousal,
            "confidence" => Self::Confidence,
            "dominant_index" => Self::DominantIndex,
            "probs" => Self::Probs,
            "dominant" => Self::Dominant,
            "transcript" => Self::Transcript,
            "status" => Self::Status,
            "speech" => Self::Speech,
            "onset" => Self::Onset,
            _ => {
                let (kind, name) = id
                    .split_once('/')
                    .ok_or_else(|| format!("unknown OSC source {id:?}"))?;
                match kind {
                    "transcript" if name == "partial" => Self::Partial,
                    "emotion" => Self::Emotion(
                        class(name, &CLASSES).ok_or_else(|| format!("unknown class in {id:?}"))?,
                    ),
                    "text" => Self::Text(
                        class(name, &TEXT_CLASSES)
                            .ok_or_else(|| format!("unknown text class in {id:?}"))?,
                    ),
                    "trigger" => Self::Trigger(
                        class(name, &CLASSES).ok_or_else(|| format!("unknown class in {id:?}"))?,
                    ),
                    _ => return Err(format!("unknown OSC source {id:?}")),
                }
            }
        })
    }

    pub fn id(self) -> String {
        match self {
            Self::Voice => "voice".into(),
            Self::Level => "level".into(),
            Self::Pitch => "pitch".into(),
            Self::Emotion(i) => format!("emotion/{}", CLASSES[i]),
            Self::Valence => "valence".into(),
            Self::Arousal => "arousal".into(),
            Self::Confidence => "confidence".into(),
            Self::DominantIndex => "dominant_index".into(),
            Self::Text(i) => format!("text/{}", TEXT_CLASSES[i]),
            Self::Probs => "probs".into(),
            Self::Dominant => "dominant".into(),
            Self::Transcript => "transcript".into(),
            Self::Partial => "transcript/partial".into(),
            Self::Status => "status".into(),
            Self::Speech => "speech".into(),
            Self::Onset => "onset".into(),
            Self::Trigger(i) => format!("trigger/{}", CLASSES[i]),
        }
    }

    /// Every source, in the order the default scheme sends them.
    pub fn all() -> Vec<Self> {
        let mut v = vec![Self::Voice, Self::Level, Self::Pitch];
        v.extend((0..N_CLASSES).map(Self::Emotion));
        v.extend([
            Self::Probs,
            Self::Dominant,
            Self::Confidence,
            Self::DominantIndex,
            Self::Valence,
            Self::Arousal,
        ]);
        v.extend((0..TEXT_CLASSES.len()).map(Self::Text));
        v.extend([
            Self::Transcript,
            Self::Partial,
            Self::Speech,
            Self::Status,
            Self::Onset,
        ]);
        v.extend((0..N_CLASSES).map(Self::Trigger));
        v
    }

    /// The natural domain of a number source, which a mapping's range is mapped from; `None` for
    /// sources that are not one number.
    pub fn domain(self) -> Option<(f32, f32)> {
        Some(match self {
            Self::Voice | Self::Emotion(_) | Self::Confidence | Self::Text(_) => (0.0, 1.0),
            Self::Trigger(_) => (0.0, 1.0),
            Self::Valence | Self::Arousal => (-1.0, 1.0),
            // dBFS: the range a microphone track lives in (as the MIDI CC).
            Self::Level => (-60.0, 0.0),
            Self::Pitch => (0.0, 500.0),
            Self::DominantIndex => (0.0, (N_CLASSES - 1) as f32),
            _ => return None,
        })
    }

    pub fn description(self) -> String {
        match self {
            Self::Voice => "voice activity, 0..1".into(),
            Self::Level => "level of the last 100 ms, dBFS".into(),
            Self::Pitch => "fundamental frequency, Hz (0 when unvoiced)".into(),
            Self::Emotion(i) => format!("probability of {} (voice fused with words)", CLASSES[i]),
            Self::Valence => "valence, -1 (negative) .. 1 (positive)".into(),
            Self::Arousal => "arousal, -1 (calm) .. 1 (excited)".into(),
            Self::Confidence => "probability of the dominant class".into(),
            Self::DominantIndex => "index of the dominant class (0 neutral .. 7 surprised)".into(),
            Self::Text(i) => format!(
                "text-emotion probability of {} in the latest transcript",
                TEXT_CLASSES[i]
            ),
            Self::Probs => "the 8 class probabilities in class order".into(),
            Self::Dominant => "dominant class and its probability".into(),
            Self::Transcript => "the words of each finished utterance (sent once)".into(),
            Self::Partial => {
                "the words so far of the utterance being spoken, about every second (each sent once; the finished utterance's transcript replaces them)".into()
            }
            Self::Status => "frames analysed, frames dropped, worker alive, OSC errors".into(),
            Self::Speech => {
                "utterances cut, transcribed, dropped, speech models running".into()
            }
            Self::Onset => {
                "event: the dominant class changed and held (class, confidence)".into()
            }
            Self::Trigger(i) => format!(
                "event: {} rose above the trigger threshold (max) or fell below it minus the hysteresis (min)",
                CLASSES[i]
            ),
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub source: String,
    /// Relative to the prefix (`voice` → `/sentio/voice`) unless it starts with `/`.
    pub address: String,
    /// Output range the source's domain is mapped onto; absent: the source's own value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f32; 2]>,
    /// Send a rounded int instead of a float.
    #[serde(default, skip_serializing_if = "is_false")]
    pub int: bool,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

impl Mapping {
    fn new(source: Source, address: impl Into<String>) -> Self {
        Self {
            source: source.id(),
            address: address.into(),
            range: None,
            int: false,
            enabled: true,
        }
    }

    fn range(mut self, min: f32, max: f32) -> Self {
        self.range = Some([min, max]);
        self
    }

    fn int(mut self) -> Self {
        self.int = true;
        self
    }

    fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OscMap {
    #[serde(default)]
    pub name: String,
    /// The port the target listens on by default (the CLI sends there when `--osc` has no
    /// target; the plugin's status warns when its OSC Port differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// One bundle per update, or one datagram per message (for targets that ignore bundles).
    #[serde(default = "yes")]
    pub bundle: bool,
    pub outputs: Vec<Mapping>,
    #[serde(default)]
    pub onset: OnsetSettings,
    #[serde(default)]
    pub triggers: TriggerSettings,
}

/// The built-in maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The Sentio scheme (README): every output, bundles, port 9000.
    Sentio,
    /// One float per address for an OSC In CHOP, port 9000.
    #[value(name = "touchdesigner")]
    TouchDesigner,
    /// Layer opacities and dashboard links of a composition, port 7000.
    Resolume,
    /// 0..255 per address for an OSC input universe, port 7700 + universe − 1.
    #[value(name = "qlcplus")]
    Qlc,
}

impl Default for OscMap {
    fn default() -> Self {
        Self::preset(Preset::Sentio, 1)
    }
}

impl OscMap {
    /// A preset; `universe` (1-based) only matters for QLC+.
    pub fn preset(preset: Preset, universe: u16) -> Self {
        let onset = OnsetSettings::default();
        let triggers = TriggerSettings::default();
        let classes = 0..N_CLASSES;
        match preset {
            Preset::Sentio => {
                let mut outputs: Vec<Mapping> = Source::all()
                    .into_iter()
                    .filter(|s| *s != Source::DominantIndex)
                    .map(|s| Mapping::new(s, s.id()))
                    .collect();
                for m in &mut outputs {
                    if m.source.starts_with("trigger/") {
                        m.int = true;
                    }
                }
                Self {
                    name: "Sentio".into(),
                    port: Some(9000),
                    bundle: true,
                    outputs,
                    onset,
                    triggers,
                }
            }
            Preset::TouchDesigner => {
                let mut outputs = vec![
                    Mapping::new(Source::Voice, "voice"),
                    Mapping::new(Source::Level, "level").range(0.0, 1.0),
                    Mapping::new(Source::Pitch, "pitch"),
                ];
                outputs.extend(
                    classes
                        .clone()
                        .map(|i| Mapping::new(Source::Emotion(i), CLASSES[i])),
                );
                outputs.extend([
                    Mapping::new(Source::Valence, "valence"),
                    Mapping::new(Source::Arousal, "arousal"),
                    Mapping::new(Source::Confidence, "confidence"),
                    Mapping::new(Source::DominantIndex, "dominant_index"),
                ]);
                outputs.extend(
                    classes.map(|i| {
                        Mapping::new(Source::Trigger(i), format!("trigger/{}", CLASSES[i]))
                    }),
                );
                Self {
                    name: "TouchDesigner".into(),
                    port: Some(9000),
                    bundle: true,
                    outputs,
                    onset,
                    triggers,
                }
            }
            Preset::Resolume => {
                // Layer n+1 holds the clip for class n; its opacity follows the probability.
                let mut outputs: Vec<Mapping> = classes
                    .clone()
                    .map(|i| {
                        Mapping::new(
                            Source::Emotion(i),
                            format!("/composition/layers/{}/video/opacity", i + 1),
                        )
                        .range(0.0, 1.0)
                    })
                    .collect();
                outputs.extend([
                    Mapping::new(Source::Valence, "/composition/dashboard/link1").range(0.0, 1.0),
                    Mapping::new(Source::Arousal, "/composition/dashboard/link2").range(0.0, 1.0),
                    Mapping::new(Source::Voice, "/composition/dashboard/link3").range(0.0, 1.0),
                    Mapping::new(Source::Confidence, "/composition/dashboard/link4")
                        .range(0.0, 1.0),
                ]);
                // Launching columns on triggers is a show decision: off until the user says so.
                outputs.extend(classes.map(|i| {
                    Mapping::new(
                        Source::Trigger(i),
                        format!("/composition/columns/{}/connect", i + 1),
                    )
                    .int()
                    .disabled()
                }));
                Self {
                    name: "Resolume".into(),
                    port: Some(7000),
                    bundle: false,
                    outputs,
                    onset,
                    triggers,
                }
            }
            Preset::Qlc => {
                let byte = |m: Mapping| m.range(0.0, 255.0).int();
                let mut outputs: Vec<Mapping> = classes
                    .clone()
                    .map(|i| byte(Mapping::new(Source::Emotion(i), CLASSES[i])))
                    .collect();
                outputs.extend([
                    byte(Mapping::new(Source::Valence, "valence")),
                    byte(Mapping::new(Source::Arousal, "arousal")),
                    byte(Mapping::new(Source::Voice, "voice")),
                    byte(Mapping::new(Source::Level, "level")),
                    byte(Mapping::new(Source::Confidence, "confidence")),
                ]);
                outputs.extend(classes.map(|i| {
                    byte(Mapping::new(
                        Source::Trigger(i),
                        format!("trigger/{}", CLASSES[i]),
                    ))
                }));
                Self {
                    name: "QLC+".into(),
                    port: Some(7700 + universe.clamp(1, 1000) - 1),
                    bundle: false,
                    outputs,
                    onset,
                    triggers,
                }
            }
        }
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let map: Self = serde_json::from_str(text).map_err(|e| format!("invalid OSC map: {e}"))?;
        map.compile("/sentio")?;
        Ok(map)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read OSC map {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Resolve sources and addresses under `prefix` (already normalised), checking everything.
    pub fn compile(&self, prefix: &str) -> Result<CompiledMap, String> {
        let mut entries = Vec::with_capacity(self.outputs.len());
        for (i, m) in self.outputs.iter().enumerate() {
            let at = |e: String| format!("output {} ({:?}): {e}", i + 1, m.source);
            let source = Source::parse(&m.source).map_err(at)?;
            let address = resolve_address(prefix, &m.address).map_err(at)?;
            if let Some([lo, hi]) = m.range {
                if !lo.is_finite() || !hi.is_finite() || lo == hi {
                    return Err(at(format!("invalid range [{lo}, {hi}]")));
                }
                if source.domain().is_none() {
                    return Err(at("a range applies only to single numbers".into()));
                }
            }
            if m.enabled {
                entries.push(Entry {
                    source,
                    address,
                    range: m.range,
                    int: m.int,
                });
            }
        }
        let t = &self.triggers;
        if !(0.0..=1.0).contains(&t.threshold) || !(0.0..=1.0).contains(&t.hysteresis) {
            return Err("trigger threshold and hysteresis must be within 0..1".into());
        }
        Ok(CompiledMap {
            entries,
            bundle: self.bundle,
        })
    }
}

/// A map file the user edits (`osc-map.json` in the data folder for the plugin's "Custom"
/// preset), re-read when it changes — checked at most once a second.
pub struct MapFile {
    path: std::path::PathBuf,
    checked: Option<std::time::Instant>,
    modified: Option<std::time::SystemTime>,
}

impl MapFile {
    pub fn new(path: std::path::PathBuf) -> Self {
        Self {
            path,
            checked: None,
            modified: None,
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `Some` when the file appeared or changed since the last call: its map, or why it is
    /// unusable. `None` when nothing changed (or it is too soon to look again).
    pub fn poll(&mut self) -> Option<Result<OscMap, String>> {
        if self
            .checked
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return None;
        }
        self.checked = Some(std::time::Instant::now());
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()?;
        if self.modified == Some(modified) {
            return None;
        }
        self.modified = Some(modified);
        Some(OscMap::load(&self.path))
    }
}

/// Address characters OSC reserves for patterns, and spaces, are refused.
fn valid_address(a: &str) -> bool {
    a.starts_with('/')
        && a.len() > 1
        && !a.ends_with('/')
        && !a.contains("//")
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "#*,?[]{}".contains(c))
}

fn resolve_address(prefix: &str, address: &str) -> Result<String, String> {
    let full = if address.starts_with('/') {
        address.to_string()
    } else {
        format!("{prefix}/{address}")
    };
    if valid_address(&full) {
        Ok(full)
    } else {
        Err(format!("invalid OSC address {full:?}"))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    source: Source,
    address: String,
    range: Option<[f32; 2]>,
    int: bool,
}

/// One address as it is sent: what OSCQuery describes.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressInfo {
    pub address: String,
    pub source: Source,
    /// OSC type tags, e.g. `f`, `i`, `sf`, `ffffffff`.
    pub types: String,
    /// Per argument: (min, max) when the argument is a bounded number.
    pub ranges: Vec<Option<(f32, f32)>>,
    pub description: String,
    /// Events are sent on change only.
    pub event: bool,
}

/// A map resolved against a prefix, ready to turn outputs into packets.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledMap {
    entries: Vec<Entry>,
    pub bundle: bool,
}

fn clamp_i32(v: u64) -> i32 {
    v.min(i32::MAX as u64) as i32
}

impl Entry {
    fn number(&self, raw: f32) -> OscType {
        let v = match (self.range, self.source.domain()) {
            (Some([min, max]), Some((lo, hi))) => {
                let t = ((finite(raw, lo) - lo) / (hi - lo)).clamp(0.0, 1.0);
                min + t * (max - min)
            }
            _ => raw,
        };
        if self.int {
            OscType::Int(v.round() as i32)
        } else {
            OscType::Float(v)
        }
    }

    fn number_range(&self) -> Option<(f32, f32)> {
        let (lo, hi) = self.range.map(|[a, b]| (a, b)).or(self.source.domain())?;
        Some(if self.int {
            (lo.round(), hi.round())
        } else {
            (lo, hi)
        })
    }
}

impl CompiledMap {
    /// The messages of one update: streams for what is known now, plus `transcripts` (finished
    /// since the last update), the newest `partial` (if one came since) and `events` (from
    /// [`super::events::EventDetector`]).
    pub fn messages(
        &self,
        out: &Outputs,
        status: &Status,
        transcripts: &[String],
        partial: Option<&str>,
        events: &[Event],
    ) -> Vec<OscMessage> {
        let mut msgs = Vec::with_capacity(self.entries.len() + transcripts.len());
        let f = |v: f32| OscType::Float(finite(v, 0.0));
        for e in &self.entries {
            let emotion = out.emotion.as_ref();
            let one = |v: Option<f32>| v.map(|v| vec![e.number(v)]);
            let args: Option<Vec<OscType>> = match e.source {
                Source::Voice => one(Some(finite(out.voice, 0.0))),
                Source::Level => one(Some(finite(out.level_db, -100.0))),
                Source::Pitch => one(Some(finite(out.pitch_hz, 0.0))),
                Source::Emotion(i) => one(emotion.map(|m| finite(m.probs[i], 0.0))),
                Source::Valence => one(emotion.map(|m| finite(m.valence, 0.0))),
                Source::Arousal => one(emotion.map(|m| finite(m.arousal, 0.0))),
                Source::Confidence => one(emotion.map(|m| finite(m.probs[m.dominant], 0.0))),
                Source::DominantIndex => one(emotion.map(|m| m.dominant as f32)),
                Source::Text(i) => one(out.text.map(|t| finite(t[i], 0.0))),
                Source::Probs => emotion.map(|m| m.probs.iter().map(|&p| f(p)).collect()),
                Source::Dominant => emotion.map(|m| {
                    vec![
                        OscType::String(CLASSES[m.dominant].into()),
                        f(m.probs[m.dominant]),
                    ]
                }),
                Source::Transcript => {
                    for t in transcripts {
                        msgs.push(OscMessage {
                            addr: e.address.clone(),
                            args: vec![OscType::String(t.clone())],
                        });
                    }
                    None
                }
                Source::Partial => partial.map(|t| vec![OscType::String(t.to_owned())]),
                Source::Speech => (!status.speech_state.is_empty()).then(|| {
                    vec![
                        OscType::Int(clamp_i32(status.speech_utterances)),
                        OscType::Int(clamp_i32(status.speech_transcripts)),
                        OscType::Int(clamp_i32(status.speech_dropped)),
                        OscType::Int(status.speech_active as i32),
                    ]
                }),
                Source::Status => Some(vec![
                    OscType::Int(clamp_i32(status.frames_processed)),
                    OscType::Int(clamp_i32(status.frames_dropped)),
                    OscType::Int(status.worker_alive as i32),
                    OscType::Int(clamp_i32(status.osc_errors)),
                ]),
                Source::Onset => {
                    for ev in events {
                        if let Event::Onset { class, confidence } = ev {
                            msgs.push(OscMessage {
                                addr: e.address.clone(),
                                args: vec![OscType::String(CLASSES[*class].into()), f(*confidence)],
                            });
                        }
                    }
                    None
                }
                Source::Trigger(c) => {
                    for ev in events {
                        if let Event::Trigger { class, on } = ev {
                            if *class == c {
                                msgs.push(OscMessage {
                                    addr: e.address.clone(),
                                    args: vec![e.number(if *on { 1.0 } else { 0.0 })],
                                });
                            }
                        }
                    }
                    None
                }
            };
            if let Some(args) = args {
                msgs.push(OscMessage {
                    addr: e.address.clone(),
                    args,
                });
            }
        }
        msgs
    }

    /// The datagrams of one update: one bundle, or one per message.
    pub fn packets(&self, msgs: Vec<OscMessage>) -> Vec<OscPacket> {
        if msgs.is_empty() {
            return Vec::new();
        }
        if self.bundle {
            vec![OscPacket::Bundle(OscBundle {
                // "Immediately" (OSC 1.0).
                timetag: OscTime {
                    seconds: 0,
                    fractional: 1,
                },
                content: msgs.into_iter().map(OscPacket::Message).collect(),
            })]
        } else {
            msgs.into_iter().map(OscPacket::Message).collect()
        }
    }

    /// Every address this map can send, with its types and ranges (for OSCQuery).
    pub fn describe(&self) -> Vec<AddressInfo> {
        self.entries
            .iter()
            .map(|e| {
                let number = |e: &Entry| (if e.int { "i" } else { "f" }).to_string();
                let (types, ranges) = match e.source {
                    Source::Probs => ("f".repeat(N_CLASSES), vec![Some((0.0, 1.0)); N_CLASSES]),
                    Source::Dominant | Source::Onset => ("sf".into(), vec![None, Some((0.0, 1.0))]),
                    Source::Transcript | Source::Partial => ("s".into(), vec![None]),
                    Source::Status | Source::Speech => ("iiii".into(), vec![None; 4]),
                    _ => (number(e), vec![e.number_range()]),
                };
                AddressInfo {
                    address: e.address.clone(),
                    source: e.source,
                    types,
                    ranges,
                    description: e.source.description(),
                    event: matches!(
                        e.source,
                        Source::Onset | Source::Trigger(_) | Source::Transcript | Source::Partial
                    ),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Emotion;

    fn outputs() -> Outputs {
        let mut probs = [0.0; N_CLASSES];
        probs[2] = 0.75;
        probs[0] = 0.25;
        Outputs {
            voice: 0.5,
            level_db: -30.0,
            pitch_hz: 220.0,
            emotion: Some(Emotion {
                probs,
                dominant: 2,
                valence: 0.5,
                arousal: -0.5,
            }),
            text: Some([0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0]),
        }
    }

    fn find<'a>(msgs: &'a [OscMessage], addr: &str) -> &'a [OscType] {
        &msgs
            .iter()
            .find(|m| m.addr == addr)
            .unwrap_or_else(|| panic!("{addr} missing from {msgs:?}"))
            .args
    }

    #[test]
    fn the_default_map_is_the_documented_scheme() {
        let map = OscMap::default().compile("/sentio").unwrap();
        let msgs = map.messages(&outputs(), &Status::default(), &["Hi.".into()], None, &[]);
        let addrs: Vec<&str> = msgs.iter().map(|m| m.addr.as_str()).collect();
        assert_eq!(
            &addrs[..4],
            [
                "/sentio/voice",
                "/sentio/level",
                "/sentio/pitch",
                "/sentio/emotion/neutral"
            ]
        );
        assert_eq!(
            find(&msgs, "/sentio/level"),
            [OscType::Float(-30.0)],
            "raw dBFS"
        );
        assert_eq!(find(&msgs, "/sentio/emotion/happy"), [OscType::Float(0.75)]);
        assert_eq!(find(&msgs, "/sentio/confidence"), [OscType::Float(0.75)]);
        assert_eq!(
            find(&msgs, "/sentio/dominant"),
            [OscType::String("happy".into()), OscType::Float(0.75)]
        );
        assert_eq!(find(&msgs, "/sentio/text/joy"), [OscType::Float(0.9)]);
        assert_eq!(
            find(&msgs, "/sentio/transcript"),
            [OscType::String("Hi.".into())]
        );
        assert!(
            !addrs.contains(&"/sentio/transcript/partial"),
            "no partial came"
        );
        assert!(matches!(
            map.packets(msgs).as_slice(),
            [OscPacket::Bundle(_)]
        ));
        let msgs = map.messages(&outputs(), &Status::default(), &[], Some("Hi th"), &[]);
        assert_eq!(
            find(&msgs, "/sentio/transcript/partial"),
            [OscType::String("Hi th".into())]
        );
        assert!(msgs.iter().all(|m| m.addr != "/sentio/transcript"));
    }

    #[test]
    fn presets_send_their_targets_formats() {
        let out = outputs();
        let st = Status::default();
        let events = [Event::Trigger { class: 2, on: true }];

        let td = OscMap::preset(Preset::TouchDesigner, 1)
            .compile("/sentio")
            .unwrap();
        let msgs = td.messages(&out, &st, &["words".into()], None, &events);
        assert!(
            msgs.iter()
                .all(|m| m.args.len() == 1 && matches!(m.args[0], OscType::Float(_))),
            "TouchDesigner gets one float per address: {msgs:?}"
        );
        assert_eq!(find(&msgs, "/sentio/happy"), [OscType::Float(0.75)]);
        assert_eq!(
            find(&msgs, "/sentio/level"),
            [OscType::Float(0.5)],
            "-30 dB of -60..0"
        );
        assert_eq!(find(&msgs, "/sentio/trigger/happy"), [OscType::Float(1.0)]);
        assert_eq!(find(&msgs, "/sentio/dominant_index"), [OscType::Float(2.0)]);

        let res = OscMap::preset(Preset::Resolume, 1);
        assert_eq!(res.port, Some(7000));
        let res = res.compile("/sentio").unwrap();
        let msgs = res.messages(&out, &st, &[], None, &events);
        assert_eq!(
            find(&msgs, "/composition/layers/3/video/opacity"),
            [OscType::Float(0.75)]
        );
        assert_eq!(
            find(&msgs, "/composition/dashboard/link1"),
            [OscType::Float(0.75)],
            "valence 0.5 of -1..1"
        );
        assert_eq!(
            find(&msgs, "/composition/dashboard/link2"),
            [OscType::Float(0.25)]
        );
        assert!(msgs.iter().all(|m| m.addr.starts_with("/composition/")));
        assert!(
            !msgs.iter().any(|m| m.addr.contains("columns")),
            "column triggers start disabled"
        );
        let packets = res.packets(msgs);
        assert!(
            packets.iter().all(|p| matches!(p, OscPacket::Message(_))),
            "no bundles for Resolume"
        );

        let qlc = OscMap::preset(Preset::Qlc, 3);
        assert_eq!(qlc.port, Some(7702), "universe 3 listens on 7700 + 2");
        let msgs = qlc
            .compile("/sentio")
            .unwrap()
            .messages(&out, &st, &[], None, &events);
        assert!(
            msgs.iter()
                .all(|m| matches!(m.args[..], [OscType::Int(0..=255)])),
            "{msgs:?}"
        );
        assert_eq!(find(&msgs, "/sentio/happy"), [OscType::Int(191)]);
        assert_eq!(find(&msgs, "/sentio/valence"), [OscType::Int(191)]);
        assert_eq!(find(&msgs, "/sentio/arousal"), [OscType::Int(64)]);
        assert_eq!(find(&msgs, "/sentio/trigger/happy"), [OscType::Int(255)]);
    }

    #[test]
    fn maps_round_trip_through_json_and_bad_ones_say_why() {
        for p in [
            Preset::Sentio,
            Preset::TouchDesigner,
            Preset::Resolume,
            Preset::Qlc,
        ] {
            let map = OscMap::preset(p, 1);
            assert_eq!(OscMap::from_json(&map.to_json()).unwrap(), map, "{p:?}");
        }
        let custom = r#"{"outputs":[{"source":"emotion/angry","address":"/strobe","range":[0,127],"int":true}]}"#;
        let map = OscMap::from_json(custom).unwrap();
        assert!(map.bundle, "bundles by default");
        let msgs =
            map.compile("/x")
                .unwrap()
                .messages(&outputs(), &Status::default(), &[], None, &[]);
        assert_eq!(msgs.len(), 1);
        assert_eq!(find(&msgs, "/strobe"), [OscType::Int(0)]);
        for (bad, why) in [
            (
                r#"{"outputs":[{"source":"emotion/bored","address":"x"}]}"#,
                "unknown class",
            ),
            (
                r#"{"outputs":[{"source":"voice","address":"bad address"}]}"#,
                "invalid OSC address",
            ),
            (
                r#"{"outputs":[{"source":"voice","address":"v","range":[1,1]}]}"#,
                "invalid range",
            ),
            (
                r#"{"outputs":[{"source":"probs","address":"p","range":[0,1]}]}"#,
                "single numbers",
            ),
            (r#"{"outputs":[{"source":"voice"}]}"#, "invalid OSC map"),
            ("not json", "invalid OSC map"),
        ] {
            let err = OscMap::from_json(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn nan_never_goes_out_and_streams_wait_for_their_data() {
        let map = OscMap::default().compile("/sentio").unwrap();
        let out = Outputs {
            voice: f32::NAN,
            level_db: f32::NEG_INFINITY,
            ..Outputs::default()
        };
        let msgs = map.messages(&out, &Status::default(), &[], None, &[]);
        assert_eq!(find(&msgs, "/sentio/voice"), [OscType::Float(0.0)]);
        assert_eq!(find(&msgs, "/sentio/level"), [OscType::Float(-100.0)]);
        assert!(!msgs
            .iter()
            .any(|m| m.addr.contains("emotion") || m.addr.contains("text")));
    }
}
