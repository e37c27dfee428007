//! The "Live" view: what a user reads at a glance. The dominant class with its confidence, one bar
//! per class, the valence/arousal plane with a fading trail, the last 30 s as a timeline, and the
//! latest transcripts with their text emotion. Everything is drawn with egui's painter from data
//! the editor already holds: no view touches the plugin.

use egui::{
    epaint::Vertex, Align2, Color32, CornerRadius, FontId, Mesh, Pos2, Rect, RichText, Sense,
    Shape, Stroke, StrokeKind, Ui, Vec2,
};

use super::history::{History, SPAN_S};
use super::theme::{self, CLASS_COLORS, TEXT_TO_CLASS};
use crate::emotion::circumplex::COORDINATES;
use crate::emotion::{CLASSES, N_CLASSES};
use crate::state::Outputs;
use crate::text::TEXT_CLASSES;
use crate::transcript::{Partial, Transcript};

/// How long the trail on the plane reaches back.
const TRAIL_S: f64 = 5.0;
/// Below this the dominant class is shown as a guess.
const UNSURE: f32 = 0.35;

/// The big readout: the dominant class in its colour, and how sure the model is.
pub fn dominant(ui: &mut Ui, out: &Outputs) {
    match &out.emotion {
        Some(e) => {
            let p = e.probs[e.dominant];
            let color = CLASS_COLORS[e.dominant];
            ui.label(
                RichText::new(theme::title(CLASSES[e.dominant]))
                    .size(40.0)
                    .strong()
                    .color(if p < UNSURE {
                        theme::faded(color, 0.6)
                    } else {
                        color
                    }),
            );
            let sure = if p < UNSURE {
                "unsure"
            } else if p < 0.6 {
                "likely"
            } else {
                "confident"
            };
            ui.label(
                RichText::new(format!("{:.0} % confidence · {sure}", p * 100.0))
                    .size(15.0)
                    .color(theme::TEXT),
            );
        }
        None => {
            ui.label(RichText::new("—").size(40.0).color(theme::DIM));
            ui.label(
                RichText::new("no emotion model running (see the status line)")
                    .size(15.0)
                    .color(theme::DIM),
            );
        }
    }
}

/// One horizontal bar per class with its probability.
pub fn bars(ui: &mut Ui, out: &Outputs, width: f32) {
    let probs = out.emotion.map(|e| e.probs);
    let dominant = out.emotion.map(|e| e.dominant);
    let row_h = 22.0;
    let (rect, _) =
        ui.allocate_exact_size(Vec2::new(width, row_h * N_CLASSES as f32), Sense::hover());
    let painter = ui.painter_at(rect);
    let label_w = 78.0;
    let value_w = 44.0;
    for (i, name) in CLASSES.iter().enumerate() {
        let y = rect.top() + i as f32 * row_h;
        let row = Rect::from_min_size(Pos2::new(rect.left(), y), Vec2::new(width, row_h));
        let strong = dominant == Some(i);
        painter.text(
            Pos2::new(row.left(), row.center().y),
            Align2::LEFT_CENTER,
            theme::title(name),
            FontId::proportional(14.0),
            if strong { theme::TEXT } else { theme::DIM },
        );
        let track = Rect::from_min_max(
            Pos2::new(row.left() + label_w, row.top() + 5.0),
            Pos2::new(row.right() - value_w, row.bottom() - 5.0),
        );
        painter.rect_filled(track, CornerRadius::same(3), theme::PANEL);
        let p = probs.map_or(0.0, |p| p[i]);
        if p > 0.0 {
            let fill = Rect::from_min_size(
                track.min,
                Vec2::new(track.width() * p.clamp(0.0, 1.0), track.height()),
            );
            let alpha = if strong { 1.0 } else { 0.75 };
            painter.rect_filled(
                fill,
                CornerRadius::same(3),
                theme::faded(CLASS_COLORS[i], alpha),
            );
        }
        painter.text(
            Pos2::new(row.right(), row.center().y),
            Align2::RIGHT_CENTER,
            probs.map_or("–".to_string(), |_| format!("{:.0} %", p * 100.0)),
            FontId::monospace(13.0),
            if strong { theme::TEXT } else { theme::DIM },
        );
    }
}

fn plane_point(rect: Rect, valence: f32, arousal: f32) -> Pos2 {
    let half = rect.width().min(rect.height()) / 2.0 - 14.0;
    rect.center() + Vec2::new(valence * half, -arousal * half)
}

/// Russell's circumplex: valence across, arousal up, each class at its place, the current point
/// and a trail of the last seconds that fades with age.
pub fn plane(ui: &mut Ui, out: &Outputs, history: &History, now: f64, side: f32) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, CornerRadius::same(6), theme::PANEL);
    let c = rect.center();
    let axis = Stroke::new(1.0, theme::GRID);
    painter.line_segment(
        [
            Pos2::new(rect.left() + 8.0, c.y),
            Pos2::new(rect.right() - 8.0, c.y),
        ],
        axis,
    );
    painter.line_segment(
        [
            Pos2::new(c.x, rect.top() + 8.0),
            Pos2::new(c.x, rect.bottom() - 8.0),
        ],
        axis,
    );
    let small = FontId::proportional(11.0);
    let edge = |align, pos, text: &str| {
        painter.text(pos, align, text, small.clone(), theme::DIM);
    };
    edge(
        Align2::CENTER_TOP,
        Pos2::new(c.x, rect.top() + 3.0),
        "excited",
    );
    edge(
        Align2::CENTER_BOTTOM,
        Pos2::new(c.x, rect.bottom() - 3.0),
        "relaxed",
    );
    edge(
        Align2::LEFT_BOTTOM,
        Pos2::new(rect.left() + 4.0, c.y - 2.0),
        "unpleasant",
    );
    edge(
        Align2::RIGHT_BOTTOM,
        Pos2::new(rect.right() - 4.0, c.y - 2.0),
        "pleasant",
    );
    for (i, (v, a)) in COORDINATES.iter().enumerate().skip(1) {
        let p = plane_point(rect, *v, *a);
        painter.circle_filled(p, 2.5, theme::faded(CLASS_COLORS[i], 0.7));
        painter.text(
            p + Vec2::new(0.0, 4.0),
            Align2::CENTER_TOP,
            CLASSES[i],
            FontId::proportional(10.0),
            theme::faded(CLASS_COLORS[i], 0.7),
        );
    }
    let trail: Vec<_> = history
        .since(now, TRAIL_S)
        .filter(|s| s.probs.is_some())
        .collect();
    for pair in trail.windows(2) {
        let age = (now - pair[1].t) / TRAIL_S;
        let alpha = (1.0 - age as f32).clamp(0.0, 1.0) * 0.8;
        painter.line_segment(
            [
                plane_point(rect, pair[0].valence, pair[0].arousal),
                plane_point(rect, pair[1].valence, pair[1].arousal),
            ],
            Stroke::new(3.0, theme::faded(Color32::WHITE, alpha)),
        );
    }
    if let Some(e) = &out.emotion {
        let p = plane_point(rect, e.valence, e.arousal);
        painter.circle_filled(p, 8.0, CLASS_COLORS[e.dominant]);
        painter.circle_stroke(p, 8.0, Stroke::new(2.0, Color32::WHITE));
        painter.text(
            Pos2::new(rect.left() + 6.0, rect.bottom() - 18.0),
            Align2::LEFT_BOTTOM,
            format!("valence {:+.2}\narousal {:+.2}", e.valence, e.arousal),
            FontId::monospace(10.0),
            theme::DIM,
        );
    }
}

/// The last 30 s: stacked class probabilities (so a change of mood shows as a change of colour),
/// with voice activity as a strip beneath.
pub fn timeline(ui: &mut Ui, history: &History, now: f64, size: Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, CornerRadius::same(6), theme::PANEL);
    let voice_h = 14.0;
    let axis_h = 14.0;
    let chart = Rect::from_min_max(
        rect.min + Vec2::new(6.0, 6.0),
        Pos2::new(rect.right() - 6.0, rect.bottom() - voice_h - axis_h - 8.0),
    );
    let voice = Rect::from_min_max(
        Pos2::new(chart.left(), chart.bottom() + 4.0),
        Pos2::new(chart.right(), chart.bottom() + 4.0 + voice_h),
    );
    let x = |t: f64| chart.right() - ((now - t) / SPAN_S) as f32 * chart.width();
    let samples: Vec<_> = history.since(now, SPAN_S).collect();
    let mut mesh = Mesh::default();
    let mut quad = |a: Pos2, b: Pos2, c: Pos2, d: Pos2, color: Color32| {
        let base = mesh.vertices.len() as u32;
        for pos in [a, b, c, d] {
            mesh.vertices.push(Vertex {
                pos,
                uv: egui::epaint::WHITE_UV,
                color,
            });
        }
        mesh.indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    };
    for pair in samples.windows(2) {
        let (s0, s1) = (pair[0], pair[1]);
        let (x0, x1) = (x(s0.t), x(s1.t));
        // Voice activity: one column per sample pair.
        let v = (s0.voice + s1.voice) / 2.0;
        quad(
            Pos2::new(x0, voice.bottom()),
            Pos2::new(x1, voice.bottom()),
            Pos2::new(x1, voice.bottom() - voice.height() * v),
            Pos2::new(x0, voice.bottom() - voice.height() * v),
            theme::faded(Color32::WHITE, 0.55),
        );
        let (Some(p0), Some(p1)) = (s0.probs, s1.probs) else {
            continue;
        };
        let (sum0, sum1): (f32, f32) = (p0.iter().sum(), p1.iter().sum());
        let (mut y0, mut y1) = (chart.bottom(), chart.bottom());
        for i in 0..N_CLASSES {
            let h0 = chart.height() * p0[i] / sum0.max(1e-6);
            let h1 = chart.height() * p1[i] / sum1.max(1e-6);
            quad(
                Pos2::new(x0, y0),
                Pos2::new(x1, y1),
                Pos2::new(x1, y1 - h1),
                Pos2::new(x0, y0 - h0),
                CLASS_COLORS[i],
            );
            y0 -= h0;
            y1 -= h1;
        }
    }
    painter.add(Shape::mesh(mesh));
    painter.rect_stroke(
        chart,
        CornerRadius::ZERO,
        Stroke::new(1.0, theme::GRID),
        StrokeKind::Outside,
    );
    painter.text(
        Pos2::new(voice.left() + 2.0, voice.center().y),
        Align2::LEFT_CENTER,
        "voice",
        FontId::proportional(10.0),
        theme::DIM,
    );
    if samples.iter().all(|s| s.probs.is_none()) {
        painter.text(
            chart.center(),
            Align2::CENTER_CENTER,
            "the last 30 s of emotion appear here while audio plays",
            FontId::proportional(13.0),
            theme::DIM,
        );
    }
    for s in [30, 20, 10, 0] {
        let px = x(now - s as f64);
        painter.line_segment(
            [Pos2::new(px, chart.top()), Pos2::new(px, voice.bottom())],
            Stroke::new(1.0, theme::faded(theme::GRID, 0.6)),
        );
        painter.text(
            Pos2::new(
                px.clamp(chart.left() + 12.0, chart.right() - 14.0),
                rect.bottom() - 4.0,
            ),
            Align2::CENTER_BOTTOM,
            if s == 0 {
                "now".to_string()
            } else {
                format!("−{s} s")
            },
            FontId::proportional(10.0),
            theme::DIM,
        );
    }
}

/// The latest transcripts, newest first, each with its strongest text emotion; above them the
/// words so far of the utterance being spoken.
pub fn transcripts(ui: &mut Ui, list: &[Transcript], partial: Option<&Partial>, height: f32) {
    egui::ScrollArea::vertical()
        .max_height(height)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if let Some(p) = partial {
                ui.label(
                    RichText::new("hearing…")
                        .size(11.0)
                        .color(Color32::BLACK)
                        .background_color(theme::DIM),
                );
                ui.label(
                    RichText::new(format!("{} …", p.text))
                        .size(14.0)
                        .italics()
                        .color(theme::DIM),
                );
                ui.add_space(6.0);
            }
            if list.is_empty() && partial.is_none() {
                ui.label(
                    RichText::new("Transcripts appear here when someone speaks.").color(theme::DIM),
                );
            }
            for t in list.iter().rev() {
                let best = t.probs.and_then(|probs| {
                    probs
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .map(|(i, p)| (i, *p))
                });
                ui.horizontal(|ui| {
                    // A transcript without text evidence (an unsure single word) says so.
                    let (tag, color) = match best {
                        Some((i, p)) => (
                            format!("{} {:.0} %", TEXT_CLASSES[i], p * 100.0),
                            CLASS_COLORS[TEXT_TO_CLASS[i]],
                        ),
                        None => ("no text evidence".to_string(), theme::DIM),
                    };
                    ui.label(
                        RichText::new(tag)
                            .size(11.0)
                            .color(Color32::BLACK)
                            .background_color(color),
                    );
                    let ago = crate::state::clock_ms().saturating_sub(t.cut_ms) / 1000;
                    ui.label(
                        RichText::new(if ago < 1 {
                            "just now".to_string()
                        } else {
                            format!("{ago} s ago")
                        })
                        .size(11.0)
                        .color(theme::DIM),
                    );
                });
                ui.label(RichText::new(&t.text).size(14.0).color(theme::TEXT));
                ui.add_space(6.0);
            }
        });
}
