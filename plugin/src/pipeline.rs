//! The plugin's analysis chain (capture → queue → worker → shared state) driven from a file, as
//! an offline render: the feeder waits for the worker, so results never depend on timing.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossbeam_channel::Sender;

use crate::dsp::{Capture, FeatureFrame};
use crate::state::{Outputs, SharedState};
use crate::worker::{Worker, WorkerConfig, QUEUE_FRAMES};

pub struct Pipeline {
    capture: Capture,
    frames: Sender<FeatureFrame>,
    shared: Arc<SharedState>,
    _worker: Worker,
}

impl Pipeline {
    pub fn new(sample_rate: f32, shared: Arc<SharedState>, config: WorkerConfig) -> Result<Self> {
        let capture = Capture::new(sample_rate).map_err(anyhow::Error::msg)?;
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
        let worker = Worker::spawn(rx, shared.clone(), config)?;
        Ok(Self {
            capture,
            frames: tx,
            shared,
            _worker: worker,
        })
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
