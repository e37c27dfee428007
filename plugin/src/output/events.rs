//! Events for lighting cues, derived from the emotion stream: an *onset* when the dominant class
//! changes and holds, and per-class *triggers* that switch on above a threshold and off only
//! after falling below it by a hysteresis margin (so a probability hovering at the threshold
//! does not flicker a cue).
//!
//! Time comes from the caller (wall clock in the plugin, stream time in `sentio analyze`), so an
//! offline rehearsal fires the same events at the same stream times as a live show.

use serde::{Deserialize, Serialize};

use crate::emotion::N_CLASSES;
use crate::state::Emotion;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnsetSettings {
    /// How long a new dominant class must stay dominant before its onset is sent.
    pub hold_ms: u32,
    /// Onsets of a class whose probability is below this are not sent (0: all).
    pub min_confidence: f32,
}

impl Default for OnsetSettings {
    fn default() -> Self {
        Self {
            hold_ms: 750,
            min_confidence: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerSettings {
    /// A class's trigger switches on when its probability reaches this.
    pub threshold: f32,
    /// …and off when it falls below `threshold - hysteresis`.
    pub hysteresis: f32,
}

impl Default for TriggerSettings {
    fn default() -> Self {
        Self {
            threshold: 0.6,
            hysteresis: 0.15,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The dominant class changed to `class` and held for the hold time.
    Onset { class: usize, confidence: f32 },
    /// A class's trigger switched on or off.
    Trigger { class: usize, on: bool },
}

#[derive(Debug, Default)]
pub struct EventDetector {
    /// The class that is dominant now and since when (seconds).
    candidate: Option<(usize, f64)>,
    /// The class whose onset was sent last.
    announced: Option<usize>,
    triggers: [bool; N_CLASSES],
}

impl EventDetector {
    /// Feed the emotion outputs at time `t_s` (None while no model runs: active triggers switch
    /// off and the next dominant class gets a fresh onset).
    pub fn update(
        &mut self,
        t_s: f64,
        emotion: Option<&Emotion>,
        onset: &OnsetSettings,
        trig: &TriggerSettings,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(e) = emotion else {
            self.candidate = None;
            self.announced = None;
            for (class, on) in self.triggers.iter_mut().enumerate() {
                if *on {
                    *on = false;
                    events.push(Event::Trigger { class, on: false });
                }
            }
            return events;
        };
        let d = e.dominant.min(N_CLASSES - 1);
        let since = match self.candidate {
            Some((c, since)) if c == d => since,
            _ => {
                self.candidate = Some((d, t_s));
                t_s
            }
        };
        let confidence = e.probs[d];
        let held = (t_s - since) * 1000.0 >= onset.hold_ms as f64;
        if held && self.announced != Some(d) && confidence >= onset.min_confidence {
            self.announced = Some(d);
            events.push(Event::Onset {
                class: d,
                confidence,
            });
        }
        let off_below = trig.threshold - trig.hysteresis.max(0.0);
        for (class, on) in self.triggers.iter_mut().enumerate() {
            let p = e.probs[class];
            if !*on && p >= trig.threshold {
                *on = true;
                events.push(Event::Trigger { class, on: true });
            } else if *on && p < off_below {
                *on = false;
                events.push(Event::Trigger { class, on: false });
            }
        }
        events
    }

    /// Which triggers are on now.
    pub fn triggers(&self) -> [bool; N_CLASSES] {
        self.triggers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emotion(dominant: usize, p: f32) -> Emotion {
        let mut probs = [(1.0 - p) / 7.0; N_CLASSES];
        probs[dominant] = p;
        Emotion {
            probs,
            dominant,
            valence: 0.0,
            arousal: 0.0,
        }
    }

    #[test]
    fn onset_fires_once_after_the_hold_and_not_for_brief_changes() {
        let onset = OnsetSettings {
            hold_ms: 500,
            min_confidence: 0.0,
        };
        let trig = TriggerSettings {
            threshold: 2.0,
            hysteresis: 0.1,
        };
        let mut d = EventDetector::default();
        let mut fired = Vec::new();
        // happy 0–1 s, a 0.3 s flicker of angry, happy again to 2 s, then sad from 2 s on.
        for i in 0..=40 {
            let t = i as f64 * 0.1;
            let class = match t {
                t if t < 1.0 => 2,
                t if t < 1.3 => 4,
                t if t < 2.0 => 2,
                _ => 3,
            };
            for ev in d.update(t, Some(&emotion(class, 0.7)), &onset, &trig) {
                fired.push((t, ev));
            }
        }
        let classes: Vec<(f64, usize)> = fired
            .iter()
            .map(|(t, e)| match e {
                Event::Onset { class, .. } => ((t * 10.0).round() / 10.0, *class),
                _ => panic!("no triggers expected"),
            })
            .collect();
        // happy at 0.5 s; the angry flicker is shorter than the hold; sad at 2.5 s.
        assert_eq!(classes, vec![(0.5, 2), (2.5, 3)]);
        assert!(
            matches!(fired[0].1, Event::Onset { confidence, .. } if (confidence - 0.7).abs() < 1e-6)
        );
    }

    #[test]
    fn triggers_switch_with_hysteresis() {
        let onset = OnsetSettings {
            hold_ms: 0,
            min_confidence: 2.0,
        };
        let trig = TriggerSettings {
            threshold: 0.6,
            hysteresis: 0.2,
        };
        let mut d = EventDetector::default();
        let mut log = Vec::new();
        for (i, p) in [0.5, 0.61, 0.55, 0.45, 0.41, 0.39, 0.5, 0.59, 0.6]
            .into_iter()
            .enumerate()
        {
            for ev in d.update(i as f64, Some(&emotion(4, p)), &onset, &trig) {
                if let Event::Trigger { class: 4, on } = ev {
                    log.push((i, on));
                }
            }
        }
        // On at 0.61; stays on through 0.55, 0.45, 0.41; off at 0.39 (< 0.4); on again at 0.6.
        assert_eq!(log, vec![(1, true), (5, false), (8, true)]);
        assert!(d.triggers()[4]);
        // The model stopping switches every active trigger off.
        let off = d.update(9.0, None, &onset, &trig);
        assert_eq!(
            off,
            vec![Event::Trigger {
                class: 4,
                on: false
            }]
        );
    }

    #[test]
    fn min_confidence_holds_back_weak_onsets_until_they_firm_up() {
        let onset = OnsetSettings {
            hold_ms: 0,
            min_confidence: 0.5,
        };
        let trig = TriggerSettings::default();
        let mut d = EventDetector::default();
        let weak = d.update(0.0, Some(&emotion(1, 0.3)), &onset, &trig);
        assert!(!weak.iter().any(|e| matches!(e, Event::Onset { .. })));
        let firm = d.update(0.1, Some(&emotion(1, 0.55)), &onset, &trig);
        assert!(firm.contains(&Event::Onset {
            class: 1,
            confidence: 0.55
        }));
    }
}
