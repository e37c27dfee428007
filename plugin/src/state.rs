//! What the workers publish and everyone else reads: plain atomics, so the audio thread, the
//! OSC sender and the editor can read without locks.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use atomic_float::AtomicF32;

use crate::analysis::Prosody;
use crate::emotion::circumplex::{dominant, valence_arousal};
use crate::emotion::N_CLASSES;

/// A worker whose heartbeat is older than this is reported dead.
const WORKER_TIMEOUT_MS: u64 = 1000;

#[derive(Default)]
pub struct SharedState {
    pub voice: AtomicF32,
    pub level_db: AtomicF32,
    pub pitch_hz: AtomicF32,
    /// Smoothed class probabilities, in `CLASSES` order.
    pub probs: [AtomicF32; N_CLASSES],
    pub valence: AtomicF32,
    pub arousal: AtomicF32,
    pub dominant: AtomicU32,
    /// True while an emotion model is loaded and running.
    pub model_active: AtomicBool,
    /// Emotion updates published so far.
    pub emotion_updates: AtomicU64,
    /// Index of the last frame the latest emotion update has seen.
    pub emotion_frame: AtomicU64,
    /// Human-readable state of the emotion model.
    pub model_state: Mutex<String>,
    /// Frames the worker has analysed.
    pub frames_processed: AtomicU64,
    /// Frames the audio thread dropped because the worker's queue was full.
    pub frames_dropped: AtomicU64,
    /// Milliseconds since [`clock_ms`]'s epoch, plus one, at the worker's last tick (0: never).
    pub worker_heartbeat: AtomicU64,
    pub osc_sent: AtomicU64,
    pub osc_errors: AtomicU64,
    /// Human-readable state of the OSC output (never touched by the audio thread).
    pub osc_state: Mutex<String>,
}

/// The outputs as one consistent-enough snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outputs {
    pub voice: f32,
    pub level_db: f32,
    pub pitch_hz: f32,
    /// Present once a model is running.
    pub emotion: Option<Emotion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Emotion {
    pub probs: [f32; N_CLASSES],
    pub dominant: usize,
    pub valence: f32,
    pub arousal: f32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub frames_processed: u64,
    pub frames_dropped: u64,
    pub worker_alive: bool,
    pub osc_sent: u64,
    pub osc_errors: u64,
    pub osc_state: String,
    pub model_active: bool,
    pub model_state: String,
    pub emotion_updates: u64,
}

/// Monotonic milliseconds since the first call in this process.
pub fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl SharedState {
    pub fn new() -> Self {
        let s = Self::default();
        s.level_db.store(-100.0, Relaxed);
        s
    }

    pub fn publish(&self, p: &Prosody) {
        self.voice.store(p.voice, Relaxed);
        self.level_db.store(p.level_db, Relaxed);
        self.pitch_hz.store(p.pitch_hz, Relaxed);
        self.frames_processed.fetch_add(1, Relaxed);
    }

    pub fn publish_emotion(&self, probs: &[f32; N_CLASSES], frame_index: u64) {
        for (dst, p) in self.probs.iter().zip(probs) {
            dst.store(*p, Relaxed);
        }
        let (v, a) = valence_arousal(probs);
        self.valence.store(v, Relaxed);
        self.arousal.store(a, Relaxed);
        self.dominant.store(dominant(probs) as u32, Relaxed);
        self.emotion_frame.store(frame_index, Relaxed);
        self.emotion_updates.fetch_add(1, Relaxed);
    }

    pub fn heartbeat(&self) {
        self.worker_heartbeat.store(clock_ms() + 1, Relaxed);
    }

    pub fn outputs(&self) -> Outputs {
        Outputs {
            voice: self.voice.load(Relaxed),
            level_db: self.level_db.load(Relaxed),
            pitch_hz: self.pitch_hz.load(Relaxed),
            emotion: self.model_active.load(Relaxed).then(|| Emotion {
                probs: std::array::from_fn(|i| self.probs[i].load(Relaxed)),
                dominant: self.dominant.load(Relaxed) as usize % N_CLASSES,
                valence: self.valence.load(Relaxed),
                arousal: self.arousal.load(Relaxed),
            }),
        }
    }

    pub fn worker_alive(&self) -> bool {
        let beat = self.worker_heartbeat.load(Relaxed);
        beat != 0 && clock_ms() + 1 - beat < WORKER_TIMEOUT_MS
    }

    pub fn set_osc_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.osc_state.lock() {
            *s = text.into();
        }
    }

    pub fn set_model_state(&self, text: impl Into<String>) {
        if let Ok(mut s) = self.model_state.lock() {
            *s = text.into();
        }
    }

    pub fn status(&self) -> Status {
        Status {
            frames_processed: self.frames_processed.load(Relaxed),
            frames_dropped: self.frames_dropped.load(Relaxed),
            worker_alive: self.worker_alive(),
            osc_sent: self.osc_sent.load(Relaxed),
            osc_errors: self.osc_errors.load(Relaxed),
            osc_state: self.osc_state.lock().map(|s| s.clone()).unwrap_or_default(),
            model_active: self.model_active.load(Relaxed),
            model_state: self
                .model_state
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default(),
            emotion_updates: self.emotion_updates.load(Relaxed),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frames processed {}, dropped {}, worker {}, OSC sent {} errors {} ({}), emotion model: {}",
            self.frames_processed,
            self.frames_dropped,
            if self.worker_alive {
                "alive"
            } else {
                "not running"
            },
            self.osc_sent,
            self.osc_errors,
            if self.osc_state.is_empty() {
                "off"
            } else {
                &self.osc_state
            },
            if self.model_state.is_empty() {
                "none"
            } else {
                &self.model_state
            },
        )
    }
}
