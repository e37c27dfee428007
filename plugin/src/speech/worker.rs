//! The speech worker: two threads of its own, never the audio thread's business.
//!
//! - **sentio-vad** drains the 16 kHz PCM the analysis worker forwards, runs the voice detector on
//!   512-sample chunks and cuts utterances ([`super::utterance`]). It is cheap and keeps up.
//! - **sentio-transcribe** loads Whisper and the text path, then transcribes one utterance at a
//!   time and publishes the transcript and its text probabilities to the shared state.
//!
//! **Partial transcripts.** While an utterance is still going, every [`PARTIAL_EVERY_S`] of new
//! audio (once it has [`PARTIAL_MIN_SPEECH_S`] of speech) the VAD thread offers a copy of it so
//! far — only when the transcription thread is idle and no finished utterance waits, and never in
//! lossless mode. Its words are published as a [`crate::transcript::Partial`] until the finished utterance's
//! transcript replaces them. Finals come first: a partial is abandoned (whisper.cpp's abort
//! callback) the moment an utterance closes, and a partial whose utterance closed while it was
//! transcribed is discarded.
//!
//! Between them sits a bounded ring of utterances. Transcription can be slower than real time
//! (a 2-core machine, the base model, a long monologue): then the ring overwrites its **oldest**
//! pending utterance and counts it as dropped, so what is transcribed stays recent and memory
//! stays bounded (ring capacity × the maximum utterance length). In lossless mode (offline
//! rendering, the CLI) the cutter waits for room instead, so results do not depend on speed.
//!
//! The analysis worker's hand-over is a bounded channel it only `try_send`s to (live): if the
//! VAD thread is behind, PCM is dropped and counted, and the analysis never waits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use crossbeam_queue::ArrayQueue;

use super::utterance::{CutterConfig, Utterance, UtteranceCutter};
use super::vad::{VoiceDetector, CHUNK};
use super::{words, ClassifyText, LoadedTranscription, Transcribe, SAMPLE_RATE};
use crate::dsp::FeatureFrame;
use crate::state::{clock_ms, SharedState};
use crate::transcript::Transcript;

/// PCM hand-over from the analysis worker: 10 s of 10 ms hops (about 680 kB, pre-allocated).
pub const PCM_QUEUE: usize = 1000;
/// Utterances waiting for Whisper. With the 15 s maximum that is at most 4 × 960 kB.
pub const UTTERANCE_QUEUE: usize = 4;
const TICK: Duration = Duration::from_millis(2);
/// New audio between two partial transcripts of one utterance, seconds.
pub const PARTIAL_EVERY_S: f32 = 1.0;
/// Speech an utterance needs before its first partial, seconds.
pub const PARTIAL_MIN_SPEECH_S: f32 = 1.0;

/// One 10 ms hop of 16 kHz audio and the stream position of its first sample.
pub type PcmChunk = (u64, [f32; crate::dsp::HOP_LENGTH]);

pub type VadLoader = Box<dyn FnOnce() -> Result<(Box<dyn VoiceDetector>, String), String> + Send>;
/// Receives the cancel flag: a transcription in progress polls it and ends early (and fails)
/// while it is set — when the worker stops, or when a partial must make way for a final.
pub type TranscriptionLoader =
    Box<dyn FnOnce(Arc<AtomicBool>) -> Result<LoadedTranscription, String> + Send>;

pub struct SpeechConfig {
    pub vad: VadLoader,
    pub transcription: TranscriptionLoader,
    pub cutter: CutterConfig,
    /// Wait instead of dropping (offline rendering and the CLI).
    pub lossless: bool,
    pub queue: usize,
}

impl SpeechConfig {
    pub fn new(vad: VadLoader, transcription: TranscriptionLoader) -> Self {
        Self {
            vad,
            transcription,
            cutter: CutterConfig::default(),
            lossless: false,
            queue: UTTERANCE_QUEUE,
        }
    }
}

#[derive(Default)]
struct Progress {
    /// Hops handed to the VAD thread and hops it has consumed.
    forwarded: AtomicU64,
    consumed: AtomicU64,
    /// End of stream: close the utterance in progress once the PCM is drained.
    flush: AtomicBool,
}

/// An utterance so far, offered for a partial transcript.
struct PartialJob {
    utterance: u64,
    start_sample: u64,
    samples: Vec<f32>,
}

/// What the two speech threads tell each other about partials.
#[derive(Default)]
struct Handover {
    /// The transcription thread is working (a final or a partial).
    busy: AtomicBool,
    /// It is working on a partial.
    partial_running: AtomicBool,
    /// Id of the last utterance the cutter closed.
    closed: AtomicU64,
    /// The abort flag whisper.cpp polls (set on stop, and to abandon a partial).
    cancel: Arc<AtomicBool>,
}

/// The analysis worker's end of the PCM path.
#[derive(Clone)]
pub struct SpeechInput {
    tx: Sender<PcmChunk>,
    lossless: bool,
    progress: Arc<Progress>,
    shared: Arc<SharedState>,
}

impl SpeechInput {
    /// Hands the frame's newest hop over (its first sample is stream sample 160·index + 240:
    /// the front end's frame `index` covers samples [160·index, 160·index + 400)).
    pub fn forward(&self, frame: &FeatureFrame) {
        let hop = crate::dsp::HOP_LENGTH as u64;
        let first = frame.index * hop + (crate::dsp::WIN_LENGTH as u64 - hop);
        let chunk = (first, frame.pcm);
        let sent = if self.lossless {
            self.tx.send(chunk).is_ok()
        } else {
            self.tx.try_send(chunk).is_ok()
        };
        if sent {
            self.progress.forwarded.fetch_add(1, Relaxed);
        } else {
            self.shared.speech_pcm_dropped.fetch_add(1, Relaxed);
        }
    }
}

pub struct SpeechWorker {
    stop: Arc<AtomicBool>,
    handover: Arc<Handover>,
    threads: Vec<JoinHandle<()>>,
    input: SpeechInput,
    shared: Arc<SharedState>,
}

impl SpeechWorker {
    pub fn spawn(shared: Arc<SharedState>, config: SpeechConfig) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Progress::default());
        let (tx, rx) = crossbeam_channel::bounded(PCM_QUEUE);
        let queue = Arc::new(ArrayQueue::new(config.queue.max(1)));
        let partials = Arc::new(ArrayQueue::new(1));
        let handover = Arc::new(Handover::default());
        shared.set_speech_state("loading");
        let vad_thread = {
            let (shared, stop, progress, queue, partials, handover) = (
                shared.clone(),
                stop.clone(),
                progress.clone(),
                queue.clone(),
                partials.clone(),
                handover.clone(),
            );
            let (loader, cutter, lossless) = (config.vad, config.cutter, config.lossless);
            std::thread::Builder::new()
                .name("sentio-vad".into())
                .spawn(move || {
                    let ctx = VadContext {
                        shared: &shared,
                        stop: &stop,
                        progress: &progress,
                        queue: &queue,
                        partials: &partials,
                        handover: &handover,
                        lossless,
                    };
                    run_vad(rx, loader, cutter, &ctx)
                })?
        };
        let transcribe_thread = {
            let ctx = TranscriptionContext {
                shared: shared.clone(),
                stop: stop.clone(),
                queue: queue.clone(),
                partials,
                handover: handover.clone(),
            };
            let loader = config.transcription;
            std::thread::Builder::new()
                .name("sentio-transcribe".into())
                .spawn(move || run_transcription(&ctx, loader))?
        };
        Ok(Self {
            input: SpeechInput {
                tx,
                lossless: config.lossless,
                progress,
                shared: shared.clone(),
            },
            stop,
            handover,
            threads: vec![vad_thread, transcribe_thread],
            shared,
        })
    }

    pub fn input(&self) -> SpeechInput {
        self.input.clone()
    }

    /// End of stream: the utterance in progress is closed once the forwarded PCM is drained.
    pub fn flush(&self) {
        self.input.progress.flush.store(true, Relaxed);
    }

    /// True when every forwarded hop is consumed, no flush is pending and every utterance cut
    /// so far is finished (transcribed, found empty, failed or dropped).
    pub fn is_idle(&self) -> bool {
        let p = &self.input.progress;
        let s = &self.shared;
        p.consumed.load(Relaxed) >= p.forwarded.load(Relaxed)
            && !p.flush.load(Relaxed)
            && s.speech_utterances.load(Relaxed)
                <= s.speech_finished.load(Relaxed) + s.speech_dropped.load(Relaxed)
    }
}

impl Drop for SpeechWorker {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        self.handover.cancel.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct VadContext<'a> {
    shared: &'a SharedState,
    stop: &'a AtomicBool,
    progress: &'a Progress,
    queue: &'a ArrayQueue<(Utterance, u64)>,
    partials: &'a ArrayQueue<PartialJob>,
    handover: &'a Handover,
    lossless: bool,
}

impl VadContext<'_> {
    fn enqueue(&self, u: Utterance) {
        self.handover.closed.fetch_max(u.id, Relaxed);
        // A partial in Whisper's hands makes way for the final now.
        if self.handover.partial_running.load(Relaxed) {
            self.handover.cancel.store(true, Relaxed);
        }
        self.shared.speech_utterances.fetch_add(1, Relaxed);
        let mut item = (u, clock_ms());
        if self.lossless {
            while let Err(back) = self.queue.push(item) {
                if self.stop.load(Relaxed) {
                    return;
                }
                item = back;
                std::thread::sleep(TICK);
            }
        } else if self.queue.force_push(item).is_some() {
            // The oldest waiting utterance made room: recent words matter more live.
            self.shared.speech_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Offers the utterance in progress for a partial transcript when it has grown by
    /// [`PARTIAL_EVERY_S`] since the last offer and the transcription thread has nothing better
    /// to do. `offered` is (utterance id, its length at the last offer).
    fn offer_partial(&self, cutter: &UtteranceCutter, offered: &mut (u64, usize)) {
        let Some(p) = cutter.in_progress() else {
            return;
        };
        if p.id != offered.0 {
            *offered = (p.id, 0);
        }
        let every = (PARTIAL_EVERY_S * SAMPLE_RATE as f32) as usize;
        if self.lossless
            || p.speech_s < PARTIAL_MIN_SPEECH_S
            || p.samples.len() < offered.1 + every
            || self.handover.busy.load(Relaxed)
            || !self.queue.is_empty()
        {
            return;
        }
        offered.1 = p.samples.len();
        self.partials.force_push(PartialJob {
            utterance: p.id,
            start_sample: p.start_sample,
            samples: p.samples.to_vec(),
        });
    }
}

fn run_vad(rx: Receiver<PcmChunk>, loader: VadLoader, config: CutterConfig, ctx: &VadContext) {
    let mut vad = match loader() {
        Ok((vad, label)) => {
            ctx.shared.set_vad_state(label);
            Some(vad)
        }
        Err(e) => {
            ctx.shared.set_vad_state(format!("VAD not running: {e}"));
            None
        }
    };
    let mut cutter = UtteranceCutter::new(config);
    let mut buf: Vec<f32> = Vec::with_capacity(CHUNK);
    let mut expected: Option<u64> = None;
    let mut failed = false;
    let mut offered = (0, 0);
    while !ctx.stop.load(Relaxed) {
        let (first, pcm) = match rx.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Empty) => {
                if ctx.progress.flush.load(Relaxed) {
                    buf.clear();
                    if let Some(u) = cutter.flush() {
                        ctx.enqueue(u);
                    }
                    ctx.progress.flush.store(false, Relaxed);
                }
                std::thread::sleep(TICK);
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
        };
        ctx.progress.consumed.fetch_add(1, Relaxed);
        let Some(vad) = vad.as_mut() else {
            continue;
        };
        if expected != Some(first) {
            // A gap (dropped hops) or the first hop: restart chunking at this position. Inside
            // an utterance the gap is simply closed up.
            buf.clear();
            cutter.set_position(first);
        }
        expected = Some(first + pcm.len() as u64);
        for &x in &pcm {
            buf.push(x);
            if buf.len() < CHUNK {
                continue;
            }
            let p = match vad.speech_probability(&buf) {
                Ok(p) => {
                    failed = false;
                    p
                }
                Err(e) => {
                    if !failed {
                        ctx.shared.set_vad_state(format!("VAD failed: {e}"));
                        failed = true;
                    }
                    0.0
                }
            };
            if let Some(u) = cutter.push(&buf, p) {
                ctx.enqueue(u);
            } else {
                ctx.offer_partial(&cutter, &mut offered);
            }
            buf.clear();
        }
    }
}

struct TranscriptionContext {
    shared: Arc<SharedState>,
    stop: Arc<AtomicBool>,
    queue: Arc<ArrayQueue<(Utterance, u64)>>,
    partials: Arc<ArrayQueue<PartialJob>>,
    handover: Arc<Handover>,
}

type Models = (Box<dyn Transcribe>, Box<dyn ClassifyText>);

fn run_transcription(ctx: &TranscriptionContext, loader: TranscriptionLoader) {
    let shared = &ctx.shared;
    let mut models = match loader(ctx.handover.cancel.clone()) {
        Ok((t, c, label)) => {
            shared.set_speech_state(label);
            shared.speech_active.store(true, Relaxed);
            Some((t, c))
        }
        Err(e) => {
            shared.set_speech_state(format!("not running: {e}"));
            None
        }
    };
    while !ctx.stop.load(Relaxed) {
        if let Some((utterance, cut_ms)) = ctx.queue.pop() {
            ctx.handover.busy.store(true, Relaxed);
            if let Some(models) = models.as_mut() {
                finish(ctx, models, &utterance, cut_ms);
            }
            shared.clear_partial(utterance.id);
            shared.speech_finished.fetch_add(1, Relaxed);
            ctx.handover.busy.store(false, Relaxed);
        } else if let Some(job) = ctx.partials.pop() {
            if let Some(models) = models.as_mut() {
                partial(ctx, models, &job);
            }
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    shared.speech_active.store(false, Relaxed);
}

/// Clears the cancel flag unless the worker is stopping (checked after clearing, so a stop that
/// lands in between is not lost).
fn rearm(ctx: &TranscriptionContext) {
    ctx.handover.cancel.store(false, Relaxed);
    if ctx.stop.load(Relaxed) {
        ctx.handover.cancel.store(true, Relaxed);
    }
}

/// Transcribes a finished utterance and publishes it.
fn finish(ctx: &TranscriptionContext, models: &mut Models, u: &Utterance, cut_ms: u64) {
    let shared = &ctx.shared;
    let (transcriber, classifier) = (models.0.as_mut(), models.1.as_mut());
    rearm(ctx);
    let t0 = Instant::now();
    let mut result = transcribe(transcriber, classifier, u);
    if result.is_err() && !ctx.stop.load(Relaxed) && ctx.handover.cancel.load(Relaxed) {
        // The cancel meant for a partial that had just finished reached this call: once more.
        rearm(ctx);
        result = transcribe(transcriber, classifier, u);
    }
    match result {
        Ok(Some((text, probs))) => {
            shared.publish_transcript(Transcript {
                seq: 0,
                start_s: u.start_sample as f64 / SAMPLE_RATE as f64,
                end_s: u.end_sample() as f64 / SAMPLE_RATE as f64,
                text,
                probs,
                compute_ms: t0.elapsed().as_millis() as u64,
                cut_ms,
                published_ms: clock_ms(),
            });
        }
        Ok(None) => {
            shared.speech_empty.fetch_add(1, Relaxed);
        }
        // An aborted transcription (deactivation) is not an error worth reporting.
        Err(_) if ctx.stop.load(Relaxed) => {}
        Err(e) => shared.set_speech_error(e),
    }
}

/// Transcribes an utterance so far and publishes its words, unless a final overtook it.
fn partial(ctx: &TranscriptionContext, models: &mut Models, job: &PartialJob) {
    let h = &ctx.handover;
    if h.closed.load(Relaxed) >= job.utterance || !ctx.queue.is_empty() {
        return;
    }
    h.busy.store(true, Relaxed);
    h.partial_running.store(true, Relaxed);
    rearm(ctx);
    let raw = models.0.transcribe(&job.samples);
    h.partial_running.store(false, Relaxed);
    rearm(ctx);
    // Words only: the text emotion waits for the whole utterance.
    if let Ok(Some(w)) = raw.map(|r| words::read(&r)) {
        if h.closed.load(Relaxed) < job.utterance {
            let start_s = job.start_sample as f64 / SAMPLE_RATE as f64;
            ctx.shared
                .publish_partial(job.utterance, start_s, w.display);
        }
    }
    h.busy.store(false, Relaxed);
}

/// The words of one utterance and their emotion; `None` when there are no real words.
fn transcribe(
    transcriber: &mut dyn Transcribe,
    classifier: &mut dyn ClassifyText,
    u: &Utterance,
) -> Result<Option<(String, Option<crate::transcript::TextProbs>)>, String> {
    let raw = transcriber.transcribe(&u.samples)?;
    let Some(words) = words::read(&raw) else {
        return Ok(None);
    };
    let probs = words::evidence(&words, |text| classifier.classify(text))?;
    Ok(Some((words.display, probs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Partial, TextProbs};
    use std::sync::Mutex;

    /// Speech wherever the chunk is loud.
    struct EnergyVad;

    impl VoiceDetector for EnergyVad {
        fn speech_probability(&mut self, chunk: &[f32]) -> Result<f32, String> {
            let rms = (chunk.iter().map(|x| x * x).sum::<f32>() / chunk.len() as f32).sqrt();
            Ok(if rms > 0.05 { 0.95 } else { 0.02 })
        }
        fn reset(&mut self) {}
    }

    /// Takes `delay` per utterance and says how long the utterance was; records what it saw.
    struct SlowTranscriber {
        delay: Duration,
        seen: Arc<Mutex<Vec<usize>>>,
    }

    impl Transcribe for SlowTranscriber {
        fn transcribe(&mut self, pcm: &[f32]) -> Result<String, String> {
            std::thread::sleep(self.delay);
            self.seen.lock().unwrap().push(pcm.len());
            Ok(if pcm.len() > 100 {
                format!("utterance of {} samples", pcm.len())
            } else {
                "[BLANK_AUDIO]".into()
            })
        }
    }

    struct JoyClassifier;

    impl ClassifyText for JoyClassifier {
        fn classify(&mut self, _text: &str) -> Result<TextProbs, String> {
            Ok([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
        }
    }

    /// The energy VAD, `transcriber` (given the cancel flag) and the joy classifier.
    fn config_with(
        transcriber: impl FnOnce(Arc<AtomicBool>) -> Box<dyn Transcribe> + Send + 'static,
        lossless: bool,
    ) -> SpeechConfig {
        let mut c = SpeechConfig::new(
            Box::new(|| {
                Ok((
                    Box::new(EnergyVad) as Box<dyn VoiceDetector>,
                    "energy".into(),
                ))
            }),
            Box::new(move |cancel| {
                Ok((
                    transcriber(cancel),
                    Box::new(JoyClassifier) as Box<dyn ClassifyText>,
                    "test".into(),
                ))
            }),
        );
        c.lossless = lossless;
        c
    }

    fn config(delay: Duration, seen: Arc<Mutex<Vec<usize>>>, lossless: bool) -> SpeechConfig {
        config_with(move |_| Box::new(SlowTranscriber { delay, seen }), lossless)
    }

    /// `n` utterances of 1 s of tone, each followed by 1 s of silence, as analysis frames.
    fn frames(n: usize) -> Vec<FeatureFrame> {
        tones(n, 1.0, 1.0)
    }

    /// `n` utterances of `tone_s` of tone, each followed by `gap_s` of silence.
    fn tones(n: usize, tone_s: f32, gap_s: f32) -> Vec<FeatureFrame> {
        let hop = crate::dsp::HOP_LENGTH;
        let hops_per_s = SAMPLE_RATE / hop;
        let (on, period) = (
            (tone_s * hops_per_s as f32) as usize,
            ((tone_s + gap_s) * hops_per_s as f32) as usize,
        );
        let mut out = Vec::new();
        for u in 0..n {
            for h in 0..period {
                let mut f = FeatureFrame {
                    index: (u * period + h) as u64,
                    ..FeatureFrame::default()
                };
                if h < on {
                    for (i, x) in f.pcm.iter_mut().enumerate() {
                        *x = 0.3 * (i as f32 * 0.3).sin();
                    }
                }
                out.push(f);
            }
        }
        out
    }

    fn wait_idle(w: &SpeechWorker, limit: Duration) {
        let t0 = Instant::now();
        while !w.is_idle() && t0.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(w.is_idle(), "speech worker not idle after {limit:?}");
    }

    #[test]
    fn a_fast_transcriber_gets_every_utterance_with_its_stream_time() {
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let w = SpeechWorker::spawn(shared.clone(), config(Duration::ZERO, seen, false)).unwrap();
        let input = w.input();
        for f in frames(3) {
            input.forward(&f);
            std::thread::sleep(Duration::from_micros(200));
        }
        w.flush();
        wait_idle(&w, Duration::from_secs(10));
        let st = shared.status();
        assert_eq!(
            (
                st.speech_utterances,
                st.speech_transcripts,
                st.speech_dropped
            ),
            (3, 3, 0),
            "{st:?}"
        );
        let ts = shared.transcripts_since(0);
        assert_eq!(ts.len(), 3);
        for (k, t) in ts.iter().enumerate() {
            // Tone k starts at 2k s (+ the 15 ms the front end's first window hides).
            assert!(
                (t.start_s - 2.0 * k as f64).abs() < 0.25,
                "utterance {k} starts at {}",
                t.start_s
            );
            assert!(
                t.end_s - t.start_s > 1.0 && t.end_s - t.start_s < 1.5,
                "{t:?}"
            );
            assert_eq!(t.seq, k as u64 + 1);
        }
        let out = shared.outputs();
        assert_eq!(out.text, Some([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]));
        assert!(shared.speech_active.load(Relaxed));
    }

    /// Feeds `frames` at `speed` × real time.
    fn feed(w: &SpeechWorker, frames: &[FeatureFrame], speed: f64) {
        let input = w.input();
        let t0 = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            input.forward(f);
            let due = Duration::from_secs_f64((i + 1) as f64 * 0.01 / speed);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }

    /// Records every partial published, as an output reader polling the state would.
    fn watch_partials(shared: &Arc<SharedState>) -> (Arc<AtomicBool>, JoinHandle<Vec<Partial>>) {
        let done = Arc::new(AtomicBool::new(false));
        let (shared, stop) = (shared.clone(), done.clone());
        let h = std::thread::spawn(move || {
            let mut seen: Vec<Partial> = Vec::new();
            while !stop.load(Relaxed) {
                if let Some(p) = shared.partial() {
                    if seen.last().is_none_or(|l| l.seq != p.seq) {
                        seen.push(p);
                    }
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            seen
        });
        (done, h)
    }

    #[test]
    fn a_long_utterance_gets_growing_partials_that_its_transcript_replaces() {
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let w = SpeechWorker::spawn(shared.clone(), config(Duration::ZERO, seen, false)).unwrap();
        let (done, watcher) = watch_partials(&shared);
        // 4.5 s of speech, then silence: partials after about 1, 2, 3 and 4 s.
        feed(&w, &tones(1, 4.5, 1.0), 4.0);
        w.flush();
        wait_idle(&w, Duration::from_secs(10));
        done.store(true, Relaxed);
        let partials = watcher.join().unwrap();
        let lens: Vec<usize> = partials
            .iter()
            .map(|p| p.text.split(' ').nth(2).unwrap().parse().unwrap())
            .collect();
        eprintln!("partials of {lens:?} samples");
        assert!(partials.len() >= 3, "{partials:?}");
        assert!(lens.windows(2).all(|w| w[1] > w[0]), "{lens:?}");
        assert!(lens[0] >= SAMPLE_RATE, "{lens:?}");
        assert!(partials.iter().all(|p| p.utterance == 1 && p.start_s < 0.3));
        let ts = shared.transcripts_since(0);
        assert_eq!(ts.len(), 1);
        assert!(ts[0].end_s - ts[0].start_s > 4.5);
        // The transcript replaced the partial.
        assert_eq!(shared.partial(), None);
        assert_eq!(shared.speech_partials.load(Relaxed), partials.len() as u64);
    }

    #[test]
    fn lossless_mode_and_short_utterances_get_no_partials() {
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let w = SpeechWorker::spawn(shared.clone(), config(Duration::ZERO, seen, true)).unwrap();
        feed(&w, &tones(1, 3.0, 1.0), 4.0);
        w.flush();
        wait_idle(&w, Duration::from_secs(10));
        assert_eq!(shared.speech_partials.load(Relaxed), 0);

        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let w = SpeechWorker::spawn(shared.clone(), config(Duration::ZERO, seen, false)).unwrap();
        feed(&w, &tones(3, 0.8, 0.8), 4.0);
        w.flush();
        wait_idle(&w, Duration::from_secs(10));
        assert_eq!(shared.status().speech_transcripts, 3);
        assert_eq!(
            shared.speech_partials.load(Relaxed),
            0,
            "under 1 s of speech"
        );
    }

    /// Its first call (a partial) runs until cancelled or 3 s pass; later calls are instant.
    struct StubbornTranscriber {
        cancel: Arc<AtomicBool>,
        calls: Arc<Mutex<Vec<(usize, bool)>>>,
    }

    impl Transcribe for StubbornTranscriber {
        fn transcribe(&mut self, pcm: &[f32]) -> Result<String, String> {
            let first = self.calls.lock().unwrap().is_empty();
            let t0 = Instant::now();
            let mut cancelled = false;
            while first && t0.elapsed() < Duration::from_secs(3) {
                if self.cancel.load(Relaxed) {
                    cancelled = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            self.calls.lock().unwrap().push((pcm.len(), cancelled));
            if cancelled {
                Err("aborted".into())
            } else {
                Ok(format!("utterance of {} samples", pcm.len()))
            }
        }
    }

    #[test]
    fn a_closing_utterance_cancels_its_partial_so_the_final_is_not_late() {
        let shared = Arc::new(SharedState::new());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let c = config_with(
            move |cancel| Box::new(StubbornTranscriber { cancel, calls }),
            false,
        );
        let w = SpeechWorker::spawn(shared.clone(), c).unwrap();
        // 1.5 s of speech at real time: one partial starts at ~1 s and is still running when
        // the utterance closes (hangover 0.5 s).
        let frames = tones(1, 1.5, 1.0);
        let hop_s = crate::dsp::HOP_LENGTH as f64 / SAMPLE_RATE as f64;
        let t0 = Instant::now();
        feed(&w, &frames, 1.0);
        wait_idle(&w, Duration::from_secs(10));
        let ts = shared.transcripts_since(0);
        assert_eq!(ts.len(), 1, "{:?}", recorded.lock().unwrap());
        let calls = recorded.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls[0].1, "the partial was cancelled: {calls:?}");
        assert!(calls[0].0 < calls[1].0, "{calls:?}");
        // Published well before the stubborn partial's 3 s would have ended.
        let published = Duration::from_millis(ts[0].published_ms.saturating_sub(ts[0].cut_ms));
        assert!(published < Duration::from_millis(500), "{published:?}");
        assert!(t0.elapsed() < Duration::from_secs_f64(frames.len() as f64 * hop_s + 1.5));
        assert_eq!(shared.speech_partials.load(Relaxed), 0);
        assert!(shared.speech_error.lock().unwrap().is_empty());
    }

    #[test]
    fn a_slow_transcriber_drops_the_oldest_utterances_and_memory_stays_bounded() {
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        // 40 utterances arrive in well under a second; each takes 150 ms to transcribe.
        let w = SpeechWorker::spawn(
            shared.clone(),
            config(Duration::from_millis(150), seen.clone(), false),
        )
        .unwrap();
        let input = w.input();
        let all = frames(40);
        let t0 = Instant::now();
        for f in &all {
            input.forward(f);
            // Faster than real time, slow enough for the VAD thread to keep up.
            if f.index % 20 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let fed_in = t0.elapsed();
        w.flush();
        wait_idle(&w, Duration::from_secs(20));
        let st = shared.status();
        eprintln!("fed 80 s of audio in {fed_in:?}: {st:?}");
        assert_eq!(st.speech_pcm_dropped, 0, "the VAD thread should keep up");
        assert_eq!(st.speech_utterances, 40, "{st:?}");
        assert!(st.speech_dropped > 0, "nothing was dropped: {st:?}");
        assert_eq!(
            st.speech_transcripts + st.speech_dropped,
            40,
            "every utterance is either transcribed or counted as dropped: {st:?}"
        );
        // Never more than the ring plus the one in Whisper's hands was waiting.
        assert!(st.speech_transcripts <= 40 - st.speech_dropped, "{st:?}");
        // Dropping the oldest keeps the newest: the last utterance is always transcribed.
        let ts = shared.transcripts_since(0);
        let last = ts.last().expect("a transcript");
        assert!(last.start_s > 77.0, "the last transcript is old: {last:?}");
        // Whisper's input never exceeded the maximum utterance length.
        let max = seen.lock().unwrap().iter().copied().max().unwrap();
        assert!(max <= 15 * SAMPLE_RATE);
    }

    #[test]
    fn lossless_mode_transcribes_everything_even_when_slow() {
        let shared = Arc::new(SharedState::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let w = SpeechWorker::spawn(
            shared.clone(),
            config(Duration::from_millis(30), seen, true),
        )
        .unwrap();
        let input = w.input();
        for f in frames(12) {
            input.forward(&f);
        }
        w.flush();
        wait_idle(&w, Duration::from_secs(20));
        let st = shared.status();
        assert_eq!(
            (
                st.speech_utterances,
                st.speech_transcripts,
                st.speech_dropped
            ),
            (12, 12, 0),
            "{st:?}"
        );
    }

    #[test]
    fn missing_models_are_reported_and_the_input_is_still_drained() {
        let shared = Arc::new(SharedState::new());
        let mut c = SpeechConfig::new(
            Box::new(|| Err("Silero VAD model not found".into())),
            Box::new(|_| Err("Whisper tiny.en model not found".into())),
        );
        c.lossless = false;
        let w = SpeechWorker::spawn(shared.clone(), c).unwrap();
        let input = w.input();
        for f in frames(2) {
            input.forward(&f);
        }
        wait_idle(&w, Duration::from_secs(5));
        let st = shared.status();
        assert!(
            st.speech_state
                .contains("VAD not running: Silero VAD model not found")
                && st
                    .speech_state
                    .contains("not running: Whisper tiny.en model not found"),
            "{st:?}"
        );
        assert!(!shared.speech_active.load(Relaxed));
        assert_eq!(st.speech_pcm_dropped, 0);
    }
}
