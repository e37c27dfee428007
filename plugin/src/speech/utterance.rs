//! Cuts a stream of voice-activity decisions into utterances for Whisper.
//!
//! Whisper wants whole phrases: a cut in mid-word costs words, and one call costs about a 30 s
//! encoder window however short the audio, so tiny fragments are not worth transcribing. The
//! cutter therefore waits for a stretch of silence (the hangover) before it closes an utterance,
//! keeps a little audio from before the speech started (the pre-roll, so the first consonant is
//! not clipped), drops blips shorter than the minimum, and cuts long monologues at the maximum so
//! that transcripts keep coming.

use super::SAMPLE_RATE;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CutterConfig {
    /// A chunk whose speech probability reaches this starts (or continues) speech.
    pub on_threshold: f32,
    /// Below this a chunk counts as silence; between the two, the current state holds
    /// (hysteresis, as Silero's own `get_speech_timestamps` does with threshold − 0.15).
    pub off_threshold: f32,
    /// Silence that ends an utterance, seconds.
    pub hangover_s: f32,
    /// Audio kept from before the first speech chunk, seconds.
    pub preroll_s: f32,
    /// Utterances with less speech than this are dropped, seconds.
    pub min_speech_s: f32,
    /// An utterance is cut here even if the speaker goes on, seconds.
    pub max_s: f32,
}

impl Default for CutterConfig {
    fn default() -> Self {
        Self {
            on_threshold: 0.5,
            off_threshold: 0.35,
            hangover_s: 0.5,
            preroll_s: 0.2,
            min_speech_s: 0.3,
            max_s: 15.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// 1, 2, … in the order the cutter started them (a partial transcript names its utterance).
    pub id: u64,
    /// Stream position of the first sample (16 kHz samples since the stream started).
    pub start_sample: u64,
    pub samples: Vec<f32>,
    /// True when the maximum length cut it, not silence.
    pub forced: bool,
}

impl Utterance {
    /// Stream position just after the last sample.
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.samples.len() as u64
    }

    pub fn duration_s(&self) -> f32 {
        self.samples.len() as f32 / SAMPLE_RATE as f32
    }
}

fn samples(s: f32) -> usize {
    (s.max(0.0) * SAMPLE_RATE as f32).round() as usize
}

pub struct UtteranceCutter {
    config: CutterConfig,
    /// Stream position of the next sample pushed.
    position: u64,
    /// The last `preroll` samples while idle.
    preroll: Vec<f32>,
    /// The utterance being collected (empty while idle).
    current: Vec<f32>,
    start: u64,
    in_speech: bool,
    /// Samples judged speech in the current utterance.
    speech: usize,
    /// Samples of silence since the last speech chunk.
    silence: usize,
    /// Id of the utterance being collected (or the last one).
    id: u64,
}

/// The utterance still being collected, for a partial transcript.
pub struct InProgress<'a> {
    pub id: u64,
    pub start_sample: u64,
    pub samples: &'a [f32],
    /// Seconds judged speech so far.
    pub speech_s: f32,
}

impl UtteranceCutter {
    pub fn new(config: CutterConfig) -> Self {
        Self {
            current: Vec::with_capacity(samples(config.max_s)),
            preroll: Vec::with_capacity(samples(config.preroll_s) * 2),
            config,
            position: 0,
            start: 0,
            in_speech: false,
            speech: 0,
            silence: 0,
            id: 0,
        }
    }

    /// The utterance being collected, while there is one.
    pub fn in_progress(&self) -> Option<InProgress<'_>> {
        self.in_speech.then(|| InProgress {
            id: self.id,
            start_sample: self.start,
            samples: &self.current,
            speech_s: self.speech as f32 / SAMPLE_RATE as f32,
        })
    }

    /// Jumps the stream position (e.g. when the first sample is not sample 0 of the stream).
    pub fn set_position(&mut self, position: u64) {
        if !self.in_speech {
            self.position = position;
            self.preroll.clear();
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// One chunk of samples with the voice detector's speech probability for it; returns an
    /// utterance when this chunk completes one. A non-finite probability counts as silence.
    pub fn push(&mut self, chunk: &[f32], speech_prob: f32) -> Option<Utterance> {
        let c = self.config;
        let p = if speech_prob.is_finite() {
            speech_prob
        } else {
            0.0
        };
        let chunk_start = self.position;
        self.position += chunk.len() as u64;
        if !self.in_speech {
            if p < c.on_threshold {
                let keep = samples(c.preroll_s);
                self.preroll.extend_from_slice(chunk);
                if self.preroll.len() > keep {
                    let excess = self.preroll.len() - keep;
                    self.preroll.drain(..excess);
                }
                return None;
            }
            self.in_speech = true;
            self.id += 1;
            self.start = chunk_start - self.preroll.len() as u64;
            self.current.clear();
            self.current.append(&mut self.preroll);
            self.speech = 0;
            self.silence = 0;
        }
        let max = samples(c.max_s).max(chunk.len());
        // A chunk that would overflow the maximum closes the utterance first.
        let forced = if self.current.len() + chunk.len() > max {
            let done = self.finish(true);
            self.start = chunk_start;
            self.id += 1;
            done
        } else {
            None
        };
        self.current.extend_from_slice(chunk);
        if p >= c.off_threshold {
            self.speech += chunk.len();
            self.silence = 0;
        } else {
            self.silence += chunk.len();
        }
        if forced.is_some() {
            return forced;
        }
        if self.silence >= samples(c.hangover_s) {
            // Keep a short tail of the silence: Whisper likes a word to fade out, not to be cut.
            let tail = self.silence.saturating_sub(samples(0.1));
            self.current.truncate(self.current.len() - tail);
            self.in_speech = false;
            self.preroll.clear();
            return self.finish(false);
        }
        None
    }

    /// The utterance in progress (e.g. at the end of a file), if it has enough speech.
    pub fn flush(&mut self) -> Option<Utterance> {
        if !self.in_speech {
            return None;
        }
        self.in_speech = false;
        self.finish(false)
    }

    fn finish(&mut self, forced: bool) -> Option<Utterance> {
        let speech = std::mem::take(&mut self.speech);
        self.silence = 0;
        let capacity = samples(self.config.max_s);
        let samples_ = std::mem::replace(&mut self.current, Vec::with_capacity(capacity));
        (speech >= samples(self.config.min_speech_s)).then_some(Utterance {
            id: self.id,
            start_sample: self.start,
            samples: samples_,
            forced,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: usize = 512;

    /// Pushes `seconds` of chunks with probability `p`; the samples carry their stream index.
    fn feed(c: &mut UtteranceCutter, seconds: f32, p: f32, out: &mut Vec<Utterance>) {
        let n = (seconds * SAMPLE_RATE as f32 / CHUNK as f32).round() as usize;
        for _ in 0..n {
            let base = c.position();
            let chunk: Vec<f32> = (0..CHUNK).map(|i| (base + i as u64) as f32).collect();
            out.extend(c.push(&chunk, p));
        }
    }

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn speech_between_silences_is_one_utterance_with_preroll_and_a_short_tail() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        let mut out = Vec::new();
        feed(&mut c, 1.0, 0.05, &mut out);
        feed(&mut c, 2.0, 0.9, &mut out);
        feed(&mut c, 1.0, 0.05, &mut out);
        assert_eq!(out.len(), 1, "{:?}", out.iter().map(|u| u.duration_s()));
        let u = &out[0];
        assert!(!u.forced);
        // Speech starts at chunk 31 (0.992 s); 0.2 s of pre-roll before it.
        let speech_start = 31 * CHUNK as u64;
        assert!(close(
            (speech_start - u.start_sample) as f32 / 16_000.0,
            0.2,
            0.001
        ));
        // Samples are contiguous stream samples (nothing lost or duplicated).
        for (i, s) in u.samples.iter().enumerate() {
            assert_eq!(*s, (u.start_sample + i as u64) as f32);
        }
        // 0.2 s pre-roll + ~2 s speech + 0.1 s tail.
        assert!(close(u.duration_s(), 2.3, 0.04), "{}", u.duration_s());
        assert!(!c.in_speech());
    }

    #[test]
    fn the_utterance_in_progress_is_visible_with_its_id_until_it_closes() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        let mut out = Vec::new();
        feed(&mut c, 0.5, 0.0, &mut out);
        assert!(c.in_progress().is_none());
        feed(&mut c, 1.5, 0.9, &mut out);
        let p = c.in_progress().expect("speech in progress");
        assert_eq!(p.id, 1);
        assert!(close(p.speech_s, 1.5, 0.04), "{}", p.speech_s);
        // What a partial transcript would see is the start of the final utterance.
        let seen = p.samples.to_vec();
        let start = p.start_sample;
        feed(&mut c, 1.0, 0.05, &mut out);
        assert!(c.in_progress().is_none());
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].id, out[0].start_sample), (1, start));
        assert_eq!(&out[0].samples[..seen.len()], &seen[..]);
        feed(&mut c, 1.0, 0.9, &mut out);
        assert_eq!(c.in_progress().map(|p| p.id), Some(2));
    }

    #[test]
    fn pauses_shorter_than_the_hangover_do_not_split() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        let mut out = Vec::new();
        feed(&mut c, 0.5, 0.0, &mut out);
        feed(&mut c, 1.0, 0.8, &mut out);
        feed(&mut c, 0.3, 0.1, &mut out);
        // Between the thresholds: inside an utterance that still counts as speech (hysteresis).
        feed(&mut c, 0.2, 0.4, &mut out);
        feed(&mut c, 1.0, 0.8, &mut out);
        assert!(out.is_empty());
        feed(&mut c, 0.6, 0.0, &mut out);
        assert_eq!(out.len(), 1);
        assert!(close(out[0].duration_s(), 0.2 + 2.5 + 0.1, 0.05));
    }

    #[test]
    fn blips_shorter_than_the_minimum_are_dropped() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        let mut out = Vec::new();
        feed(&mut c, 0.5, 0.0, &mut out);
        feed(&mut c, 0.2, 0.9, &mut out);
        feed(&mut c, 1.0, 0.0, &mut out);
        assert!(out.is_empty(), "a 0.2 s blip is below the 0.3 s minimum");
        feed(&mut c, 0.5, 0.9, &mut out);
        feed(&mut c, 1.0, 0.0, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn long_monologues_are_cut_at_the_maximum_without_losing_samples() {
        let config = CutterConfig {
            max_s: 4.0,
            ..CutterConfig::default()
        };
        let mut c = UtteranceCutter::new(config);
        let mut out = Vec::new();
        feed(&mut c, 0.5, 0.0, &mut out);
        feed(&mut c, 10.0, 0.9, &mut out);
        feed(&mut c, 1.0, 0.0, &mut out);
        assert_eq!(out.len(), 3, "{:?}", out.iter().map(|u| u.duration_s()));
        assert!(out[0].forced && out[1].forced && !out[2].forced);
        for u in &out[..2] {
            assert!(u.duration_s() <= 4.0 && u.duration_s() > 3.9);
        }
        for pair in out.windows(2) {
            assert_eq!(pair[0].end_sample(), pair[1].start_sample, "gap or overlap");
        }
    }

    #[test]
    fn flush_returns_the_utterance_in_progress_and_nan_counts_as_silence() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        let mut out = Vec::new();
        feed(&mut c, 1.0, 0.9, &mut out);
        feed(&mut c, 2.0, f32::NAN, &mut out);
        assert_eq!(out.len(), 1, "NaN probabilities end the utterance");
        feed(&mut c, 1.0, 0.9, &mut out);
        let last = c.flush().expect("utterance in progress");
        assert!(close(last.duration_s(), 1.2, 0.05), "{}", last.duration_s());
        assert!(c.flush().is_none());
    }

    #[test]
    fn set_position_offsets_the_timestamps() {
        let mut c = UtteranceCutter::new(CutterConfig::default());
        c.set_position(240);
        let mut out = Vec::new();
        feed(&mut c, 1.0, 0.9, &mut out);
        feed(&mut c, 1.0, 0.0, &mut out);
        assert_eq!(out[0].start_sample, 240);
    }
}
