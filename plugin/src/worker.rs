//! The analysis worker thread: owns everything that may allocate or block, drains the frames the
//! audio thread sends, and publishes results to the shared state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};

use crate::analysis::model::EmotionModel;
use crate::analysis::Analyzer;
use crate::dsp::FeatureFrame;
use crate::state::SharedState;

/// Queue between the audio thread and the worker: 20 s of frames (about 1.1 kB each, 2.2 MB in
/// all, pre-allocated), so a worker stalled for seconds still loses nothing.
pub const QUEUE_FRAMES: usize = 2048;
/// How often the worker looks for frames. It never blocks on the channel: a blocked receiver
/// would make the audio thread's `try_send` take the channel's waker lock.
const TICK: Duration = Duration::from_millis(2);

pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(
        frames: Receiver<FeatureFrame>,
        shared: Arc<SharedState>,
        mut model: Option<Box<dyn EmotionModel>>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentio-analysis".into())
            .spawn(move || {
                let mut analyzer = Analyzer::new();
                while !stop_flag.load(Ordering::Relaxed) {
                    shared.heartbeat();
                    match frames.try_recv() {
                        Ok(frame) => {
                            shared.publish(&analyzer.push(&frame));
                            if let Some(m) = model.as_mut() {
                                // Model errors degrade the emotion outputs, never the worker.
                                let _ = m.push(&frame);
                            }
                        }
                        Err(TryRecvError::Empty) => std::thread::sleep(TICK),
                        Err(TryRecvError::Disconnected) => break,
                    }
                }
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::model::{EmotionEstimate, ExecutionBackend};
    use crate::dsp::FrontEnd;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    struct CountingModel(Arc<AtomicUsize>);

    impl EmotionModel for CountingModel {
        fn name(&self) -> &str {
            "counting"
        }
        fn backend(&self) -> ExecutionBackend {
            ExecutionBackend::Cpu
        }
        fn push(&mut self, f: &FeatureFrame) -> Result<Option<EmotionEstimate>, String> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn worker_publishes_every_frame_and_feeds_the_model() {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(AtomicUsize::new(0));
        let worker = Worker::spawn(
            rx,
            shared.clone(),
            Some(Box::new(CountingModel(seen.clone()))),
        )
        .unwrap();
        let tone: Vec<f32> = (0..16_000)
            .map(|i| 0.2 * (2.0 * std::f32::consts::PI * 180.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mut fe = FrontEnd::new();
        let mut sent = 0;
        fe.push(&tone, |f| {
            tx.try_send(*f).unwrap();
            sent += 1;
        });
        let t0 = Instant::now();
        while shared.status().frames_processed < sent && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(shared.status().frames_processed, sent);
        assert_eq!(seen.load(Ordering::Relaxed) as u64, sent);
        assert!(shared.worker_alive());
        assert!(shared.outputs().voice > 0.9);
        drop(worker);
        std::thread::sleep(Duration::from_millis(1100));
        assert!(!shared.worker_alive());
    }
}
