//! The "Settings" view: every parameter, grouped as a user thinks of them (Output, Model, Words),
//! and the persisted settings that cannot be host parameters (strings: the OSC target and
//! prefix, the addresses the local servers listen on). Changes go through the host
//! (`ParamSetter`), so they are undoable and automatable like any other parameter.

use std::sync::RwLock;

use egui::{RichText, Ui};
use nice_plug::prelude::{Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use super::theme;
use crate::params::SentioParams;

/// Text fields being edited, applied when the user presses Enter or leaves the field.
#[derive(Default)]
pub struct Drafts {
    osc_host: Option<String>,
    osc_prefix: Option<String>,
    overlay_host: Option<String>,
    oscquery_host: Option<String>,
}

fn param<P: Param>(ui: &mut Ui, setter: &ParamSetter, p: &P) {
    ui.label(p.name());
    ui.add(ParamSlider::for_param(p, setter).with_width(170.0));
    ui.end_row();
}

/// A persisted string setting as a text field; `check` explains a value that will not work.
fn text_setting(
    ui: &mut Ui,
    label: &str,
    slot: &RwLock<String>,
    draft: &mut Option<String>,
    check: impl Fn(&str) -> Option<&'static str>,
) {
    ui.label(label);
    let current = slot.read().map(|s| s.clone()).unwrap_or_default();
    let text = draft.get_or_insert_with(|| current.clone());
    let response = ui.add(egui::TextEdit::singleline(text).desired_width(170.0));
    if response.lost_focus() {
        let value = text.trim().to_string();
        if value != current {
            if let Ok(mut s) = slot.write() {
                *s = value;
            }
        }
        *draft = None;
    } else if !response.has_focus() {
        *draft = None;
    }
    ui.end_row();
    if let Some(why) = check(&current) {
        ui.label("");
        ui.label(RichText::new(why).size(11.0).color(theme::WARN));
        ui.end_row();
    }
}

fn beyond_loopback(host: &str) -> Option<&'static str> {
    let loopback = host.is_empty()
        || host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    (!loopback).then_some("reachable from the network: anyone there can read it")
}

fn group(ui: &mut Ui, title: &str, id: &str, body: impl FnOnce(&mut Ui)) {
    ui.vertical(|ui| {
        ui.label(RichText::new(title).size(16.0).strong().color(theme::TEXT));
        ui.add_space(4.0);
        egui::Grid::new(id)
            .num_columns(2)
            .spacing([10.0, 6.0])
            .show(ui, body);
    });
}

pub fn show(ui: &mut Ui, params: &SentioParams, setter: &ParamSetter, drafts: &mut Drafts) {
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                group(ui, "Output", "settings-output", |ui| {
                    param(ui, setter, &params.osc_enabled);
                    text_setting(ui, "OSC Host", &params.osc_host, &mut drafts.osc_host, |_| None);
                    param(ui, setter, &params.osc_port);
                    text_setting(
                        ui,
                        "OSC Prefix",
                        &params.osc_prefix,
                        &mut drafts.osc_prefix,
                        |p| (!p.starts_with('/')).then_some("an OSC prefix starts with /"),
                    );
                    param(ui, setter, &params.osc_rate);
                    param(ui, setter, &params.osc_preset);
                    param(ui, setter, &params.onset_hold_ms);
                    param(ui, setter, &params.trigger_threshold);
                    param(ui, setter, &params.trigger_hysteresis);
                    param(ui, setter, &params.midi_enabled);
                    param(ui, setter, &params.midi_channel);
                    param(ui, setter, &params.output_params_enabled);
                    param(ui, setter, &params.output_params_rate);
                });
                ui.add_space(24.0);
                ui.vertical(|ui| {
                    group(ui, "Model", "settings-model", |ui| {
                        param(ui, setter, &params.emotion_enabled);
                        param(ui, setter, &params.emotion_encoder);
                        param(ui, setter, &params.emotion_device);
                        param(ui, setter, &params.emotion_hop_ms);
                        param(ui, setter, &params.smoothing_ms);
                        param(ui, setter, &params.calibrate);
                        param(ui, setter, &params.teach);
                    });
                    ui.add_space(16.0);
                    group(ui, "Words", "settings-words", |ui| {
                        param(ui, setter, &params.speech_enabled);
                        param(ui, setter, &params.whisper_model);
                        param(ui, setter, &params.language);
                        param(ui, setter, &params.text_weight);
                    });
                    ui.add_space(16.0);
                    group(ui, "Overlay & OSCQuery", "settings-servers", |ui| {
                        param(ui, setter, &params.overlay_enabled);
                        text_setting(
                            ui,
                            "Overlay Host",
                            &params.overlay_host,
                            &mut drafts.overlay_host,
                            beyond_loopback,
                        );
                        param(ui, setter, &params.overlay_port);
                        param(ui, setter, &params.oscquery_enabled);
                        text_setting(
                            ui,
                            "OSCQuery Host",
                            &params.oscquery_host,
                            &mut drafts.oscquery_host,
                            beyond_loopback,
                        );
                        param(ui, setter, &params.oscquery_port);
                        param(ui, setter, &params.oscquery_mdns);
                    });
                    ui.add_space(12.0);
                    ui.label(
                        RichText::new(
                            "Model device, hop, speech, Whisper model and language take effect \
                             when the host next activates the plugin (e.g. stop and start playback).",
                        )
                        .size(11.0)
                        .color(theme::DIM),
                    );
                });
            });
        });
}
