//! The status line: first what to fix (the same `Status::problems()` the CLI and the overlay
//! show), then what runs where: model and device, speech, OSC target, local servers, frames.

use egui::{RichText, Ui};

use super::theme;
use crate::state::Status;

fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() {
        fallback
    } else {
        s
    }
}

/// A status line led by a dot of its colour (drawn: the bundled fonts have no bullet glyphs).
fn line(ui: &mut Ui, color: egui::Color32, text: &str) {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 14.0), egui::Sense::hover());
        ui.painter().circle_filled(rect.center(), 4.0, color);
        ui.label(RichText::new(text).color(color));
    });
}

pub fn show(ui: &mut Ui, s: &Status) {
    ui.add_space(2.0);
    let problems = s.problems();
    if problems.is_empty() {
        line(ui, theme::OK, "Everything is running");
    } else {
        for p in &problems {
            line(ui, theme::WARN, p);
        }
    }
    let mut facts = vec![
        format!("Model: {}", or(&s.model_state, "none")),
        format!("Speech: {}", or(&s.speech_state, "off")),
        format!(
            "OSC: {} ({} sent, {} errors)",
            or(&s.osc_state, "off"),
            s.osc_sent,
            s.osc_errors
        ),
    ];
    if !s.overlay_state.is_empty() {
        facts.push(format!("Overlay: {}", s.overlay_state));
    }
    if !s.oscquery_state.is_empty() {
        facts.push(format!("OSCQuery: {}", s.oscquery_state));
    }
    facts.push(format!("Frames dropped: {}", s.frames_dropped));
    ui.label(
        RichText::new(facts.join("  ·  "))
            .size(11.0)
            .color(theme::DIM),
    );
    ui.add_space(2.0);
}
