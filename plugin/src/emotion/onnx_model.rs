//! The shipped acoustic model through ONNX Runtime: a sliding window of normalised frames,
//! classified every hop.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::adaptation::{Adaptation, Example, DEFAULT_PENALTY};
use super::normalize::{Calibration, SpeakerNormalizer};
use super::runtime::{find_model_for, session_builder, AcousticModel, Device};
use super::sidecar::Sidecar;
use super::speaker_embedding::{EmbeddingNormalizer, RunningStats};
use super::{EmotionEstimate, EmotionModel, ExecutionBackend, N_CLASSES};
use crate::dsp::FeatureFrame;

/// Windows with less voiced speech than this share are not classified (the outputs hold).
const MIN_VOICED_SHARE: f32 = 0.2;
/// Frames before a new utterance's first voiced frame that its window keeps (the voice activity
/// detector calls an onset a few frames late).
const ONSET_PREROLL_FRAMES: usize = 20;
/// The default of [`ModelOptions::restart_after_frames`]: off. Restarting reacts sooner but
/// scored lower on validation (model card, "What a listener sees").
pub const DEFAULT_RESTART_AFTER_FRAMES: usize = 0;

/// One classified window: its probabilities and its embedding (empty for models without one).
pub type ClassifiedWindow = ([f32; N_CLASSES], Vec<f32>);

#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Which shipped model [`OnnxEmotionModel::load`] looks for.
    pub acoustic: AcousticModel,
    pub device: Device,
    /// Frames between inferences (10 ms each).
    pub hop_frames: usize,
    pub calibration: Option<Calibration>,
    /// A per-user correction from `sentio adapt` (its calibration serves when `calibration` is
    /// `None`).
    pub adaptation: Option<Adaptation>,
    /// After this many frames without voice, the next voiced frame starts a new window: the
    /// utterance is classified on its own, 0.3 s after it starts (with 0.2 s of the pause before
    /// it), instead of sharing the window with the one before (0: the window always slides).
    pub restart_after_frames: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            acoustic: AcousticModel::TinyEn,
            device: Device::Auto,
            hop_frames: 25,
            calibration: None,
            adaptation: None,
            restart_after_frames: DEFAULT_RESTART_AFTER_FRAMES,
        }
    }
}

pub struct OnnxEmotionModel {
    session: Session,
    sidecar: Sidecar,
    normalizer: SpeakerNormalizer,
    /// Raw (unnormalised) selected columns of the last `window_frames` frames, oldest first once
    /// `filled == window_frames` (rotated on read).
    ring: Vec<f32>,
    voiced: Vec<bool>,
    next: usize,
    filled: usize,
    since_hop: usize,
    hop_frames: usize,
    /// Frames the current window covers: the last `filled`, or fewer since a new utterance began.
    span: usize,
    /// Frames without voice in a row, and after how many of them a window restarts (0: never).
    unvoiced_run: usize,
    restart_after: usize,
    input: Vec<f32>,
    backend: ExecutionBackend,
    /// Voiced rows collected while the user records a calibration.
    recording: Option<Vec<Vec<f32>>>,
    /// The speaker's embedding statistics, for models that normalise their embedding.
    embedding: Option<EmbeddingNormalizer>,
    /// The last inference's embedding (empty for models without one).
    last_embedding: Vec<f32>,
    /// Voiced frames since the last classified window: what the next one adds to the estimate.
    voiced_since_infer: usize,
    /// A calibration take of an embedding model: its windows' statistics.
    recording_embedding: Option<RunningStats>,
    /// The user's learnt correction, applied to every output.
    adaptation: Option<Adaptation>,
    /// What the linear layer read in the last inference (for the adaptation; empty for
    /// models that publish no head statistics).
    head_input: Vec<f32>,
    /// The last inference's probabilities before the adaptation (what a take learns from).
    unadapted: [f32; N_CLASSES],
    /// A "learn my voice" take in progress: its class and windows.
    take: Option<(usize, Vec<Example>)>,
    /// The windows of every finished take since the model loaded, and takes per class.
    taught: Vec<Example>,
    takes: [usize; N_CLASSES],
    note: String,
    name: String,
}

fn session(path: &Path, device: Device) -> Result<(Session, ExecutionBackend, String), String> {
    let (mut builder, backend, note) = session_builder(device)?;
    let session = builder
        .commit_from_file(path)
        .map_err(|e| format!("cannot load the emotion model {}: {e}", path.display()))?;
    Ok((session, backend, note))
}

/// How the status names a model: its file, and whose encoder it is built on when the sidecar
/// says (both shipped models are `sentio-ser.onnx`).
fn model_name(path: &Path, sidecar: &Sidecar) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    match &sidecar.whisper {
        Some(w) => format!("{stem} (Whisper {w})"),
        None => stem,
    }
}

impl OnnxEmotionModel {
    /// The installed model (see [`super::runtime`] for where it is looked for).
    pub fn load(options: &ModelOptions) -> Result<Self, String> {
        Self::load_from(&find_model_for(options.acoustic)?, options)
    }

    /// [`Self::load`] with the state a project saved: a learnt voice or a voice calibration
    /// recorded for another model (an earlier model version, the other encoder) is dropped with
    /// a note, rather than keeping the emotion outputs off until the user redoes it.
    pub fn load_saved(options: &ModelOptions) -> Result<Self, String> {
        Self::load_from_saved(&find_model_for(options.acoustic)?, options)
    }

    /// [`Self::load_saved`] from a given file.
    pub fn load_from_saved(path: &Path, options: &ModelOptions) -> Result<Self, String> {
        let mut model = Self::open(path, options)?;
        let mut dropped = Vec::new();
        if let Some(a) = &options.adaptation {
            if let Err(e) = model.adopt(a) {
                dropped.push(format!("your learnt voice is not applied: {e}"));
            }
        }
        if let Err(e) = model.set_calibration(model.saved_calibration(options)) {
            dropped.push(format!("your voice calibration is not applied: {e}"));
        }
        for note in dropped {
            model.add_note(&note);
        }
        Ok(model)
    }

    /// The model with the project's learnt voice and calibration, refusing either if it was
    /// recorded for another model.
    pub fn load_from(path: &Path, options: &ModelOptions) -> Result<Self, String> {
        let mut model = Self::open(path, options)?;
        if let Some(a) = &options.adaptation {
            model.adopt(a)?;
        }
        model.set_calibration(model.saved_calibration(options))?;
        Ok(model)
    }

    /// Takes a learnt correction that was fitted on this model.
    fn adopt(&mut self, a: &Adaptation) -> Result<(), String> {
        a.check(&self.sidecar.fingerprint())?;
        let head = self
            .sidecar
            .embedding
            .as_ref()
            .map_or(0, |e| e.head_mean.len());
        if !a.weight.is_empty() && a.weight.len() != head * N_CLASSES {
            return Err(
                "the adaptation's layer does not fit this model: run `sentio adapt` again".into(),
            );
        }
        self.adaptation = Some(a.clone());
        Ok(())
    }

    /// The calibration to use: the one given, else the one the adopted correction carries.
    fn saved_calibration(&self, options: &ModelOptions) -> Option<Calibration> {
        options
            .calibration
            .clone()
            .or_else(|| self.adaptation.as_ref().and_then(|a| a.calibration.clone()))
    }

    /// The model and its session, with no learnt voice and no calibration yet.
    fn open(path: &Path, options: &ModelOptions) -> Result<Self, String> {
        let sidecar = Sidecar::load(&sidecar_path(path))?;
        let (session, backend, note) = session(path, options.device)?;
        let width = sidecar.width();
        let normalizer = SpeakerNormalizer::new(
            sidecar.normalization.global_mean.clone(),
            sidecar.normalization.global_std.clone(),
            sidecar.normalization.mode == "speaker",
        );
        let embedding = sidecar.embedding.as_ref().map(EmbeddingNormalizer::new);
        Ok(Self {
            adaptation: None,
            head_input: Vec::with_capacity(embedding.as_ref().map_or(0, |e| e.dims())),
            unadapted: [0.0; N_CLASSES],
            take: None,
            taught: Vec::new(),
            takes: [0; N_CLASSES],
            last_embedding: Vec::with_capacity(embedding.as_ref().map_or(0, |e| e.dims())),
            embedding,
            voiced_since_infer: 0,
            recording_embedding: None,
            ring: vec![0.0; sidecar.window_frames * width],
            voiced: vec![false; sidecar.window_frames],
            input: Vec::with_capacity(sidecar.window_frames * width),
            next: 0,
            filled: 0,
            since_hop: 0,
            hop_frames: options.hop_frames.max(1),
            span: 0,
            unvoiced_run: 0,
            restart_after: options.restart_after_frames,
            name: model_name(path, &sidecar),
            session,
            sidecar,
            normalizer,
            backend,
            note,
            recording: None,
        })
    }

    /// Adds to what the user should know about how it runs.
    pub fn add_note(&mut self, note: &str) {
        if !self.note.is_empty() {
            self.note.push_str("; ");
        }
        self.note.push_str(note);
    }

    pub fn sidecar(&self) -> &Sidecar {
        &self.sidecar
    }

    /// Probabilities for already-normalised rows (`frames × width`, row-major), with the
    /// current speaker embedding statistics (the global ones until a speaker has been heard).
    pub fn infer(&mut self, rows: &[f32]) -> Result<[f32; N_CLASSES], String> {
        let stats = self.embedding.take();
        let result = self.infer_with(
            rows,
            stats.as_ref().map(|e| {
                let (mean, std) = e.current();
                (mean, std, e.weight())
            }),
        );
        self.embedding = stats;
        result
    }

    /// The embedding of the last inference (empty for models without one).
    pub fn last_embedding(&self) -> &[f32] {
        &self.last_embedding
    }

    /// The embedding statistics the model applies now (the running estimate or calibration mixed
    /// with the global prior), as a calibration; `None` for models without an embedding.
    pub fn embedding_stats(&self) -> Option<Calibration> {
        self.embedding.as_ref().map(|e| {
            let (mean, std) = e.current();
            Calibration {
                mean: mean.to_vec(),
                std: std.to_vec(),
                frames: (e.speaker_seconds() * 100.0) as usize,
            }
        })
    }

    /// Whether the model normalises its embedding with the speaker's statistics.
    pub fn has_embedding(&self) -> bool {
        self.embedding.is_some()
    }

    /// [`Self::infer`] with the given embedding statistics `(mean, std, weight)` (embedding
    /// models; `weight`: the speaker's share of them, which two-head models blend their heads by).
    pub fn infer_with(
        &mut self,
        rows: &[f32],
        embedding_stats: Option<(&[f32], &[f32], f32)>,
    ) -> Result<[f32; N_CLASSES], String> {
        let width = self.sidecar.width();
        let frames = rows.len() / width;
        let tensor = TensorRef::from_array_view(([1usize, frames, width], rows))
            .map_err(|e| format!("model input: {e}"))?;
        // A weight that is not a number is a cold start, never a NaN into the graph. The
        // sidecar's ceiling keeps the cold-start head in the blend once the speaker is known,
        // its floor the speaker head before (the load checked floor <= ceiling).
        let (floor, ceiling) = self
            .sidecar
            .embedding
            .as_ref()
            .map_or((0.0, 1.0), |e| (e.min_speaker_weight, e.max_speaker_weight));
        let weight = [embedding_stats
            .map(|(_, _, w)| w)
            .filter(|w| w.is_finite())
            .map_or(0.0, |w| w.clamp(0.0, 1.0))
            .clamp(floor, ceiling)];
        let outputs = match (&self.sidecar.embedding, embedding_stats) {
            (Some(spec), Some((mean, std, _))) => {
                let m = TensorRef::from_array_view(([mean.len()], mean))
                    .map_err(|e| format!("model input: {e}"))?;
                let s = TensorRef::from_array_view(([std.len()], std))
                    .map_err(|e| format!("model input: {e}"))?;
                match &spec.weight_input {
                    Some(name) => {
                        let w = TensorRef::from_array_view(([1usize], &weight[..]))
                            .map_err(|e| format!("model input: {e}"))?;
                        self.session.run(ort::inputs![
                            self.sidecar.input.as_str() => tensor,
                            spec.mean_input.as_str() => m,
                            spec.std_input.as_str() => s,
                            name.as_str() => w,
                        ])
                    }
                    None => self.session.run(ort::inputs![
                        self.sidecar.input.as_str() => tensor,
                        spec.mean_input.as_str() => m,
                        spec.std_input.as_str() => s,
                    ]),
                }
            }
            (Some(_), None) => return Err("embedding statistics missing".into()),
            (None, _) => self
                .session
                .run(ort::inputs![self.sidecar.input.as_str() => tensor]),
        }
        .map_err(|e| format!("model inference: {e}"))?;
        let (_, probs) = outputs[self.sidecar.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("model output: {e}"))?;
        if probs.len() != N_CLASSES || probs.iter().any(|p| !p.is_finite()) {
            return Err(format!(
                "model output is not {N_CLASSES} finite probabilities"
            ));
        }
        let mut probs = std::array::from_fn(|i| probs[i]);
        if let Some(spec) = &self.sidecar.embedding {
            let (_, e) = outputs[spec.output.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output: {e}"))?;
            self.last_embedding.clear();
            self.last_embedding.extend_from_slice(e);
        }
        self.head_input.clear();
        if let (Some(spec), Some((mean, std, _))) = (&self.sidecar.embedding, embedding_stats) {
            if !spec.head_mean.is_empty() {
                spec.head_input(&self.last_embedding, mean, std, &mut self.head_input);
            }
        }
        self.unadapted = probs;
        if let Some(a) = &self.adaptation {
            // Offsets-only adaptations read no embedding (the load checked the layer's shape).
            let z = if self.head_input.len() * N_CLASSES == a.weight.len() {
                &self.head_input[..]
            } else {
                &[][..]
            };
            a.apply(&mut probs, z);
        }
        Ok(probs)
    }

    /// The model's columns of one frame.
    pub fn columns(&self, frame: &FeatureFrame) -> Vec<f32> {
        let [start, end] = self.sidecar.columns;
        frame.columns().skip(start).take(end - start).collect()
    }

    /// File-level decision: windows of `window_frames` every `hop` frames over the clip, each
    /// normalised with `stats` (the speaker's feature statistics; `None`: the shipped global
    /// ones) and classified when at least 20 % of it is voiced, as live; the clip's probabilities
    /// are the mean over those windows. A clip with no such window is classified whole. Embedding
    /// models normalise their embedding with `embedding_stats`, taken as all of a speaker's
    /// statistics (weight 1), or with `None` the model's own: its calibration mixed with the
    /// global prior, or the global statistics (a cold start: weight 0, which `infer_with` raises
    /// to the sidecar's floor) when it has none.
    pub fn classify_clip(
        &mut self,
        rows: &[Vec<f32>],
        voiced: &[bool],
        stats: Option<&Calibration>,
        embedding_stats: Option<&Calibration>,
    ) -> Result<[f32; N_CLASSES], String> {
        let windows = self.clip_windows(rows, voiced, stats, embedding_stats)?;
        let mut sum = [0.0f32; N_CLASSES];
        for (p, _) in &windows {
            for (s, p) in sum.iter_mut().zip(p) {
                *s += p;
            }
        }
        Ok(sum.map(|s| s / windows.len() as f32))
    }

    /// The classified windows of a clip (as [`Self::classify_clip`]): each one's probabilities and
    /// embedding (empty for models without one) — `sentio eval` derives a speaker's embedding
    /// statistics from them.
    pub fn clip_windows(
        &mut self,
        rows: &[Vec<f32>],
        voiced: &[bool],
        stats: Option<&Calibration>,
        embedding_stats: Option<&Calibration>,
    ) -> Result<Vec<ClassifiedWindow>, String> {
        if rows.is_empty() {
            return Err("no frames (shorter than 25 ms)".into());
        }
        let width = self.sidecar.width();
        let (mean, std) = match stats {
            Some(c) => (c.mean.clone(), c.std.clone()),
            None => (
                self.sidecar.normalization.global_mean.clone(),
                self.sidecar.normalization.global_std.clone(),
            ),
        };
        let normalised: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.iter().zip(&mean).zip(&std).map(|((x, m), s)| (x - m) / s))
            .collect();
        let emb = match (embedding_stats, &self.embedding) {
            (Some(c), Some(_)) => Some((c.mean.clone(), c.std.clone(), 1.0)),
            (None, Some(e)) => Some((e.current().0.to_vec(), e.current().1.to_vec(), e.weight())),
            (_, None) => None,
        };
        let emb = emb.as_ref().map(|(m, s, w)| (&m[..], &s[..], *w));
        let win = self.sidecar.window_frames.min(rows.len());
        let hop = self.hop_frames;
        let mut windows = Vec::new();
        let mut start = 0;
        loop {
            let end = start + win;
            let voiced_share =
                voiced[start..end].iter().filter(|v| **v).count() as f32 / win as f32;
            if voiced_share >= MIN_VOICED_SHARE {
                let p = self.infer_with(&normalised[start * width..end * width], emb)?;
                windows.push((p, self.last_embedding.clone()));
            }
            if end >= rows.len() {
                break;
            }
            start = (start + hop).min(rows.len() - win);
        }
        if windows.is_empty() {
            let p = self.infer_with(&normalised, emb)?;
            windows.push((p, self.last_embedding.clone()));
        }
        Ok(windows)
    }

    /// The ring slot of the first of the last `n` frames.
    fn first_of_last(&self, n: usize) -> usize {
        let cap = self.sidecar.window_frames;
        (self.next + cap - n) % cap
    }

    /// The window's normalised rows (its last `span` frames from ring slot `start`, oldest first)
    /// into `input`.
    fn window_rows(&mut self, start: usize) {
        let width = self.sidecar.width();
        let cap = self.sidecar.window_frames;
        self.input.clear();
        for k in 0..self.span {
            let i = (start + k) % cap;
            let from = self.input.len();
            self.input
                .extend_from_slice(&self.ring[i * width..(i + 1) * width]);
            self.normalizer.apply(&mut self.input[from..]);
        }
    }
}

fn sidecar_path(model: &Path) -> PathBuf {
    model.with_extension("json")
}

impl EmotionModel for OnnxEmotionModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> ExecutionBackend {
        self.backend
    }

    fn note(&self) -> &str {
        &self.note
    }

    fn push(
        &mut self,
        frame: &FeatureFrame,
        voiced: bool,
    ) -> Result<Option<EmotionEstimate>, String> {
        let width = self.sidecar.width();
        let row = self.columns(frame);
        let row = &row[..];
        self.normalizer.observe(row, voiced);
        self.voiced_since_infer += voiced as usize;
        if let (Some(rec), true) = (self.recording.as_mut(), voiced) {
            rec.push(row.to_vec());
        }
        // Speech after a pause starts a new window (with a little of the pause before it), and
        // is classified as soon as the window is long enough rather than at the next hop.
        if voiced {
            if self.restart_after > 0 && self.unvoiced_run >= self.restart_after {
                self.span = self.span.min(ONSET_PREROLL_FRAMES);
                self.since_hop = self.hop_frames;
            }
            self.unvoiced_run = 0;
        } else {
            self.unvoiced_run = self.unvoiced_run.saturating_add(1);
        }
        let cap = self.sidecar.window_frames;
        self.ring[self.next * width..(self.next + 1) * width].copy_from_slice(row);
        self.voiced[self.next] = voiced;
        self.next = (self.next + 1) % cap;
        self.filled = (self.filled + 1).min(cap);
        self.span = (self.span + 1).min(self.filled);
        self.since_hop = self.since_hop.saturating_add(1);
        if self.since_hop < self.hop_frames || self.span < self.sidecar.min_frames {
            return Ok(None);
        }
        self.since_hop = 0;
        let start = self.first_of_last(self.span);
        let voiced_frames = (0..self.span)
            .filter(|k| self.voiced[(start + k) % cap])
            .count();
        // A window with no new speech since the last estimate would only re-judge the last
        // words with more silence in them: the outputs hold instead (live UA +0.4 points over
        // the three held-out corpora, and the right class shows sooner; model card).
        if (voiced_frames as f32) < MIN_VOICED_SHARE * self.span as f32
            || self.voiced_since_infer == 0
        {
            return Ok(None);
        }
        self.window_rows(start);
        let rows = std::mem::take(&mut self.input);
        let result = self.infer(&rows);
        self.input = rows;
        let probs = result?;
        // The window's embedding teaches the speaker's statistics what its new speech brought.
        let seconds = self.voiced_since_infer as f64 / 100.0;
        self.voiced_since_infer = 0;
        if let Some(e) = &mut self.embedding {
            e.observe(&self.last_embedding, seconds);
        }
        if let Some(take) = &mut self.recording_embedding {
            take.observe(&self.last_embedding, seconds, f64::INFINITY);
        }
        if let Some((label, windows)) = &mut self.take {
            windows.push(Example {
                probs: self.unadapted,
                z: self.head_input.clone(),
                label: *label,
                weight: 1.0,
            });
        }
        Ok(Some(EmotionEstimate {
            frame_index: frame.index,
            probs,
        }))
    }

    fn record_calibration(&mut self, on: bool) -> Option<Result<Calibration, String>> {
        match (on, self.recording.is_some()) {
            (true, false) => {
                self.recording = Some(Vec::new());
                if let Some(e) = &self.embedding {
                    self.recording_embedding = Some(RunningStats::new(e.dims()));
                }
                None
            }
            (false, true) => {
                let rows = self.recording.take().unwrap_or_default();
                let take = self.recording_embedding.take();
                let result = match (&mut self.embedding, take) {
                    (Some(e), Some(take)) => take.to_calibration(rows.len()).inspect(|c| {
                        // Cannot fail: the take has the model's width.
                        let _ = e.set_calibration(Some(c.clone()));
                    }),
                    _ => Calibration::from_rows(&rows).inspect(|c| {
                        let _ = self.normalizer.set_calibration(Some(c.clone()));
                    }),
                };
                Some(result)
            }
            _ => None,
        }
    }

    fn teach(&mut self, class: Option<usize>) -> Option<Result<Adaptation, String>> {
        if self.take.as_ref().map(|(c, _)| *c) == class {
            return None;
        }
        let ended = self.take.take();
        self.take = class.map(|c| (c, Vec::new()));
        let (label, mut windows) = ended?;
        if windows.is_empty() {
            return Some(Err(format!(
                "heard no speech while learning {}",
                super::CLASSES[label]
            )));
        }
        // Every take weighs the same, however long.
        let weight = 1.0 / windows.len() as f32;
        windows.iter_mut().for_each(|w| w.weight = weight);
        self.taught.extend(windows);
        self.takes[label] += 1;
        if self.takes.iter().filter(|&&n| n > 0).count() < 2 {
            return Some(Err(format!(
                "{} learnt; teach at least one more emotion",
                super::CLASSES[label]
            )));
        }
        let fitted = Adaptation::fit(&self.taught, DEFAULT_PENALTY).map(|(bias, weight)| {
            let a = Adaptation {
                model: self.sidecar.fingerprint(),
                bias,
                weight,
                clips: self.takes,
                penalty: DEFAULT_PENALTY,
                calibration: None,
            };
            self.adaptation = Some(a.clone());
            a
        });
        Some(fitted)
    }

    fn forget_adaptation(&mut self) {
        self.take = None;
        self.taught.clear();
        self.takes = [0; N_CLASSES];
        self.adaptation = None;
    }

    fn set_calibration(&mut self, c: Option<Calibration>) -> Result<(), String> {
        match &mut self.embedding {
            Some(e) => e.set_calibration(c),
            None => self.normalizer.set_calibration(c),
        }
    }

    fn calibration_seconds(&self) -> Option<f32> {
        // One row per voiced 10 ms frame.
        self.recording.as_ref().map(|r| r.len() as f32 / 100.0)
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.next = 0;
        self.since_hop = 0;
        self.span = 0;
        self.unvoiced_run = 0;
        self.voiced_since_infer = 0;
        self.normalizer.reset();
        if let Some(e) = &mut self.embedding {
            e.reset();
        }
    }
}
