//! The plugin's analysis chain (capture → queue → worker → shared state) driven from a file, as
//! an offline render: the feeder waits for the worker, so results never depend on timing.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossbeam_channel::Sender;

use crate::dsp::{Capture, FeatureFrame};
use crate::speech::worker::{SpeechConfig, SpeechWorker};
use crate::state::{Outputs, SharedState};
use crate::worker::{Worker, WorkerConfig, QUEUE_FRAMES};

/// The longest a single utterance's transcription may take before the analysis gives up.
const SPEECH_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Pipeline {
    capture: Capture,
    frames: Sender<FeatureFrame>,
    shared: Arc<SharedState>,
    // Field order is drop order: the analysis worker stops before the speech worker it feeds.
    _worker: Worker,
    speech: Option<SpeechWorker>,
}

impl Pipeline {
    /// With `speech`, the speech worker runs too (fed by the analysis worker, as in the plugin).
    pub fn new(
        sample_rate: f32,
        shared: Arc<SharedState>,
        mut config: WorkerConfig,
        speech: Option<SpeechConfig>,
    ) -> Result<Self> {
        let capture = Capture::new(sample_rate).map_err(anyhow::Error::msg)?;
        let speech = match speech {
            Some(c) => Some(SpeechWorker::spawn(shared.clone(), c)?),
            None => None,
        };
        config.speech = speech.as_ref().map(SpeechWorker::input);
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
        let worker = Worker::spawn(rx, shared.clone(), config)?;
        Ok(Self {
            capture,
            frames: tx,
            shared,
            _worker: worker,
            speech,
        })
    }

    /// Like [`Self::sync`], then also waits until every utterance cut so far is transcribed
    /// (so transcripts land at the same place in the timeline however fast the machine is).
    pub fn sync_speech(&self) -> Result<Outputs> {
        self.sync()?;
        self.wait_speech()?;
        // The analysis worker folds a new transcript into the emotion outputs within a tick.
        let s = &self.shared;
        let t0 = Instant::now();
        while s.model_active.load(Relaxed)
            && s.emotion_updates.load(Relaxed) > 0
            && s.fused_text_updates.load(Relaxed) < s.text_updates.load(Relaxed)
            && t0.elapsed() < Duration::from_secs(1)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(s.outputs())
    }

    fn wait_speech(&self) -> Result<()> {
        let Some(speech) = &self.speech else {
            return Ok(());
        };
        let t0 = Instant::now();
        while !speech.is_idle() {
            if t0.elapsed() > SPEECH_TIMEOUT {
                bail!("the speech worker stopped responding");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// End of the file: the utterance in progress is closed and transcribed.
    pub fn finish(&self) -> Result<Outputs> {
        self.sync()?;
        if let Some(speech) = &self.speech {
            speech.flush();
        }
        self.sync_speech()
    }

    /// Analyse a block (one slice per channel), waiting for queue space like an offline host.
    pub fn feed<C: AsRef<[f32]>>(&mut self, channels: &[C]) {
        let (tx, shared) = (&self.frames, &self.shared);
        self.capture.process(channels, |f| {
            if tx.send(*f).is_err() {
                shared.frames_dropped.fetch_add(1, Relaxed);
            }
        });
    }

    /// Wait until the worker has analysed every frame fed so far, then read the outputs.
    pub fn sync(&self) -> Result<Outputs> {
        let want = self.capture.frames_emitted();
        let t0 = Instant::now();
        loop {
            let done = self.shared.frames_processed.load(Relaxed)
                + self.shared.frames_dropped.load(Relaxed);
            if done >= want {
                return Ok(self.shared.outputs());
            }
            if t0.elapsed() > Duration::from_secs(10) {
                bail!("the analysis worker stopped responding");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}
