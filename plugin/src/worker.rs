//! The analysis worker thread: owns everything that may allocate or block (the analysis, the
//! emotion model), drains the frames the audio thread sends, and publishes results to the shared
//! state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};

use crate::analysis::Analyzer;
use crate::dsp::{FeatureFrame, FRAMES_PER_SECOND};
use crate::emotion::adaptation::Adaptation;
use crate::emotion::fusion::{fuse, TextEvidence, NEGLIGIBLE};
use crate::emotion::normalize::Calibration;
use crate::emotion::smoothing::Smoother;
use crate::emotion::{EmotionModel, ExecutionBackend, N_CLASSES};
use crate::speech::worker::SpeechInput;
use crate::state::SharedState;

/// Queue between the audio thread and the worker: 20 s of frames (about 1.1 kB each, 2.2 MB in
/// all, pre-allocated), so a worker stalled for seconds still loses nothing.
pub const QUEUE_FRAMES: usize = 2048;
/// How often the worker looks for frames. It never blocks on the channel: a blocked receiver
/// would make the audio thread's `try_send` take the channel's waker lock.
const TICK: Duration = Duration::from_millis(2);
/// A frame counts as voiced for the model above this voice activity.
pub(crate) const VOICED: f32 = 0.5;
/// While the text still weighs in, the fused output is refreshed this often (frames) between
/// acoustic estimates, so its decay shows.
const FUSION_REFRESH_FRAMES: u64 = 10;

/// Loads the emotion model on the worker thread (loading can take a while; never on the host's
/// threads).
pub type ModelLoader = Box<dyn FnOnce() -> Result<Box<dyn EmotionModel>, String> + Send>;

/// User settings the worker follows live.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisSettings {
    /// Time constant of the emotion smoothing, seconds (0: none).
    pub smoothing_s: f32,
    /// While true, voiced frames are recorded for a "calibrate to my voice" take; the falling
    /// edge computes and applies the calibration.
    pub calibrating: bool,
    /// "Learn my voice": the class (index in `CLASSES`) the speech now heard is an example of;
    /// the end of a take refits the user's correction.
    pub teaching: Option<usize>,
    /// While true, the learnt correction and its takes are dropped.
    pub forget_voice: bool,
    /// How much the words count against the voice, 0..1 (see `emotion::fusion`).
    pub text_weight: f32,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            smoothing_s: 0.5,
            calibrating: false,
            teaching: None,
            forget_voice: false,
            text_weight: DEFAULT_TEXT_WEIGHT,
        }
    }
}

pub const DEFAULT_TEXT_WEIGHT: f32 = 0.5;

/// Where what "learn my voice" learnt goes (`None`: forgotten).
pub type AdaptationSink = Box<dyn Fn(Option<&Adaptation>) + Send>;

pub struct WorkerConfig {
    pub model: Option<ModelLoader>,
    pub settings: Box<dyn Fn() -> AnalysisSettings + Send>,
    /// Receives a new calibration (e.g. to save it with the plugin state).
    pub on_calibration: Box<dyn Fn(&Calibration) + Send>,
    /// Receives what "learn my voice" learnt (`None`: forgotten), e.g. to save it.
    pub on_adaptation: AdaptationSink,
    /// Where the 16 kHz audio goes for transcription (when the speech path is on).
    pub speech: Option<SpeechInput>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            model: None,
            speech: None,
            settings: Box::new(AnalysisSettings::default),
            on_calibration: Box::new(|_| {}),
            on_adaptation: Box::new(|_| {}),
        }
    }
}

pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(
        frames: Receiver<FeatureFrame>,
        shared: Arc<SharedState>,
        config: WorkerConfig,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentio-analysis".into())
            .spawn(move || run(frames, &shared, &stop_flag, config))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The loaded model and how it is described in the status.
fn load_model(
    loader: Option<ModelLoader>,
    shared: &SharedState,
) -> Option<(Box<dyn EmotionModel>, String)> {
    shared.heartbeat();
    let Some(loader) = loader else {
        shared.set_model_state("off");
        return None;
    };
    shared.set_model_state("loading");
    match loader() {
        Ok(model) => {
            let backend = match model.backend() {
                ExecutionBackend::Cpu => "CPU",
                ExecutionBackend::Cuda => "CUDA",
            };
            let mut label = format!("{} on {backend}", model.name());
            if !model.note().is_empty() {
                label = format!("{label} — {}", model.note());
            }
            shared.set_model_state(label.clone());
            shared.model_active.store(true, Ordering::Relaxed);
            Some((model, label))
        }
        Err(e) => {
            shared.set_model_state(format!("not running: {e}"));
            None
        }
    }
}

/// Blends the latest smoothed acoustic probabilities with the latest transcript's text
/// probabilities and publishes the result; returns the text's share.
fn publish_fused(
    shared: &SharedState,
    acoustic: &[f32; N_CLASSES],
    frame_index: u64,
    text_weight: f32,
) -> f32 {
    let text = (shared.text_updates.load(Ordering::Relaxed) > 0).then(|| TextEvidence {
        probs: std::array::from_fn(|i| shared.text_probs[i].load(Ordering::Relaxed)),
        age_s: frame_index.saturating_sub(shared.text_end_frame.load(Ordering::Relaxed)) as f32
            / FRAMES_PER_SECOND as f32,
    });
    let (probs, share) = fuse(acoustic, text.as_ref(), text_weight);
    shared.text_share.store(share, Ordering::Relaxed);
    shared.publish_emotion(&probs, frame_index);
    share
}

/// The fusion's inputs since the last publication.
#[derive(Default)]
struct FusionState {
    acoustic: Option<[f32; N_CLASSES]>,
    text_seen: u64,
    share: f32,
    published_at: u64,
}

impl FusionState {
    /// Republishes when a new transcript arrived, or periodically while the text still weighs in.
    fn refresh(&mut self, shared: &SharedState, frame_index: u64, text_weight: f32) {
        let Some(acoustic) = self.acoustic else {
            return;
        };
        let text = shared.text_updates.load(Ordering::Relaxed);
        let due =
            self.share > NEGLIGIBLE && frame_index >= self.published_at + FUSION_REFRESH_FRAMES;
        if text != self.text_seen || due {
            self.publish(shared, &acoustic, frame_index, text_weight);
        }
    }

    fn publish(
        &mut self,
        shared: &SharedState,
        acoustic: &[f32; N_CLASSES],
        frame_index: u64,
        text_weight: f32,
    ) {
        self.acoustic = Some(*acoustic);
        self.text_seen = shared.text_updates.load(Ordering::Relaxed);
        self.share = publish_fused(shared, acoustic, frame_index, text_weight);
        self.published_at = frame_index;
        shared
            .fused_text_updates
            .store(self.text_seen, Ordering::Relaxed);
    }
}

fn run(
    frames: Receiver<FeatureFrame>,
    shared: &SharedState,
    stop: &AtomicBool,
    config: WorkerConfig,
) {
    let mut model = load_model(config.model, shared);
    let mut analyzer = Analyzer::new();
    let mut smoother = Smoother::default();
    let mut fusion = FusionState::default();
    let mut last_estimate: Option<u64> = None;
    let mut last_frame = 0;
    // "Forget" acts once per time it is chosen.
    let mut forgotten = false;
    while !stop.load(Ordering::Relaxed) {
        shared.heartbeat();
        let frame = match frames.try_recv() {
            Ok(f) => f,
            Err(TryRecvError::Empty) => {
                // A transcript that lands while the host sends no audio still shows.
                fusion.refresh(shared, last_frame, (config.settings)().text_weight);
                std::thread::sleep(TICK);
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
        };
        last_frame = frame.index;
        if let Some(speech) = &config.speech {
            speech.forward(&frame);
        }
        let prosody = analyzer.push(&frame);
        shared.publish(&prosody);
        let Some((m, label)) = model.as_mut() else {
            continue;
        };
        let settings = (config.settings)();
        match m.record_calibration(settings.calibrating) {
            Some(Ok(c)) => {
                (config.on_calibration)(&c);
                shared.set_model_state(format!(
                    "{label} (calibrated on {:.1} s of speech)",
                    c.frames as f32 / 100.0
                ));
            }
            Some(Err(e)) => shared.set_model_state(format!("calibration failed: {e}")),
            None => {}
        }
        if settings.forget_voice {
            if !forgotten {
                m.forget_adaptation();
                (config.on_adaptation)(None);
                shared.set_model_state(format!("{label} (forgot your voice)"));
            }
            forgotten = true;
        } else {
            forgotten = false;
            match m.teach(settings.teaching) {
                Some(Ok(a)) => {
                    (config.on_adaptation)(Some(&a));
                    shared.set_model_state(format!("{label} (learnt your voice: {})", a.taught()));
                }
                Some(Err(e)) => shared.set_model_state(format!("{label} (learn my voice: {e})")),
                None => {}
            }
        }
        shared
            .calibration_s
            .store(m.calibration_seconds().unwrap_or(-1.0), Ordering::Relaxed);
        match m.push(&frame, prosody.voice > VOICED) {
            Ok(Some(est)) => {
                let dt = last_estimate.map_or(0.0, |prev| {
                    est.frame_index.saturating_sub(prev) as f32 / FRAMES_PER_SECOND as f32
                });
                last_estimate = Some(est.frame_index);
                let probs = smoother.update(&est.probs, dt, settings.smoothing_s);
                fusion.publish(shared, &probs, est.frame_index, settings.text_weight);
            }
            Ok(None) => fusion.refresh(shared, frame.index, settings.text_weight),
            // A failed inference costs one update; the stream goes on.
            Err(e) => shared.set_model_state(format!("inference failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::FrontEnd;
    use crate::emotion::{EmotionEstimate, N_CLASSES};
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    /// Says "happy" every 25 voiced frames.
    struct FakeModel(Arc<AtomicUsize>);

    impl EmotionModel for FakeModel {
        fn name(&self) -> &str {
            "fake"
        }
        fn backend(&self) -> ExecutionBackend {
            ExecutionBackend::Cpu
        }
        fn push(
            &mut self,
            f: &FeatureFrame,
            voiced: bool,
        ) -> Result<Option<EmotionEstimate>, String> {
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            let mut probs = [0.0; N_CLASSES];
            probs[2] = 1.0;
            Ok((voiced && n.is_multiple_of(25)).then_some(EmotionEstimate {
                frame_index: f.index,
                probs,
            }))
        }
        fn reset(&mut self) {}
    }

    fn tone() -> Vec<f32> {
        (0..16_000)
            .map(|i| 0.2 * (2.0 * std::f32::consts::PI * 180.0 * i as f32 / 16_000.0).sin())
            .collect()
    }

    /// Runs one second of a voiced tone through a worker built with `model`; returns the worker
    /// (still running), its shared state and the number of frames sent.
    fn run_tone(model: ModelLoader) -> (Worker, Arc<SharedState>, u64) {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
        let shared = Arc::new(SharedState::new());
        let config = WorkerConfig {
            model: Some(model),
            ..WorkerConfig::default()
        };
        let worker = Worker::spawn(rx, shared.clone(), config).unwrap();
        let mut sent = 0;
        FrontEnd::new().push(&tone(), |f| {
            tx.try_send(*f).unwrap();
            sent += 1;
        });
        let t0 = Instant::now();
        while shared.status().frames_processed < sent && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        (worker, shared, sent)
    }

    #[test]
    fn worker_publishes_every_frame_and_the_models_estimates() {
        let seen = Arc::new(AtomicUsize::new(0));
        let model_seen = seen.clone();
        let (worker, shared, sent) = run_tone(Box::new(move || {
            Ok(Box::new(FakeModel(model_seen)) as Box<dyn EmotionModel>)
        }));
        let st = shared.status();
        assert_eq!(st.frames_processed, sent);
        assert_eq!(seen.load(Ordering::Relaxed) as u64, sent);
        assert!(
            st.worker_alive && st.model_active && st.model_state == "fake on CPU",
            "{st:?}"
        );
        assert!(st.emotion_updates >= 2, "{st:?}");
        let out = shared.outputs();
        assert!(out.voice > 0.9);
        let emotion = out.emotion.unwrap();
        assert_eq!(emotion.dominant, 2);
        assert_eq!((emotion.valence, emotion.arousal), (0.8, 0.5));
        drop(worker);
        std::thread::sleep(Duration::from_millis(1100));
        assert!(!shared.worker_alive());
    }

    #[test]
    fn a_model_that_fails_to_load_leaves_prosody_running_and_says_why() {
        let (_worker, shared, sent) =
            run_tone(Box::new(|| Err("emotion model not found".to_string())));
        let st = shared.status();
        assert_eq!(st.frames_processed, sent);
        assert!(!st.model_active && st.model_state == "not running: emotion model not found");
        assert!(shared.outputs().emotion.is_none());
    }

    /// Records what the worker asks of "learn my voice" and answers like the real model.
    struct TeachModel(Arc<std::sync::Mutex<Vec<String>>>, Option<usize>);

    impl EmotionModel for TeachModel {
        fn name(&self) -> &str {
            "teach"
        }
        fn backend(&self) -> ExecutionBackend {
            ExecutionBackend::Cpu
        }
        fn push(&mut self, _: &FeatureFrame, _: bool) -> Result<Option<EmotionEstimate>, String> {
            Ok(None)
        }
        fn teach(&mut self, class: Option<usize>) -> Option<Result<Adaptation, String>> {
            let ended = std::mem::replace(&mut self.1, class);
            if ended == class {
                return None;
            }
            self.0.lock().unwrap().push(format!("teach {class:?}"));
            let mut clips = [0; N_CLASSES];
            clips[ended?] = 1;
            Some(Ok(Adaptation {
                model: "m".into(),
                bias: [0.0; N_CLASSES],
                weight: Vec::new(),
                clips,
                penalty: 0.001,
                calibration: None,
            }))
        }
        fn forget_adaptation(&mut self) {
            self.0.lock().unwrap().push("forget".into());
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn teaching_takes_reach_the_model_and_what_it_learnt_reaches_the_plugin_state() {
        use std::sync::atomic::AtomicU8;
        use std::sync::Mutex;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let saved: Arc<Mutex<Vec<Option<[usize; N_CLASSES]>>>> = Arc::default();
        // 0: off, 1: teaching happy, 2: forget — what the parameter says now.
        let mode = Arc::new(AtomicU8::new(0));
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
        let shared = Arc::new(SharedState::new());
        let (m, c, s) = (mode.clone(), calls.clone(), saved.clone());
        let config = WorkerConfig {
            model: Some(Box::new(move || {
                Ok(Box::new(TeachModel(c, None)) as Box<dyn EmotionModel>)
            })),
            settings: Box::new(move || {
                let mode = m.load(Ordering::Relaxed);
                AnalysisSettings {
                    teaching: (mode == 1).then_some(2),
                    forget_voice: mode == 2,
                    ..AnalysisSettings::default()
                }
            }),
            on_adaptation: Box::new(move |a| s.lock().unwrap().push(a.map(|a| a.clips))),
            ..WorkerConfig::default()
        };
        let _worker = Worker::spawn(rx, shared.clone(), config).unwrap();
        let mut sent = 0;
        let mut fe = FrontEnd::new();
        let mut play = |mode_now: u8| {
            mode.store(mode_now, Ordering::Relaxed);
            fe.push(&tone()[..3200], |f| {
                tx.try_send(*f).unwrap();
                sent += 1;
            });
            let t0 = Instant::now();
            while shared.status().frames_processed < sent && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            shared.status().model_state
        };
        play(0);
        play(1);
        let state = play(0);
        assert!(state.contains("learnt your voice: happy 1"), "{state}");
        let state = play(2);
        assert!(state.contains("forgot your voice"), "{state}");
        play(2);
        play(0);
        let mut happy = [0; N_CLASSES];
        happy[2] = 1;
        // One take, one refit, one forget (however long Forget stays chosen).
        assert_eq!(*saved.lock().unwrap(), vec![Some(happy), None]);
        assert_eq!(
            *calls.lock().unwrap(),
            vec!["teach Some(2)", "teach None", "forget"]
        );
    }
}
