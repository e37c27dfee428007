//! The plugin's window (nice-plug-egui). It reads the shared state the way the OSC sender does
//! and changes settings only through the host's parameter setter: nothing here reaches the
//! audio thread or the worker. The worker wakes it through a lock-free repaint flag
//! ([`crate::state::SharedState::set_repaint`]); a host that never opens it pays nothing.
//!
//! - `live`: the dominant class, bars, valence/arousal plane, timeline, transcripts
//! - `settings`: every parameter, grouped, and the text settings
//! - `status`: the line that names what is missing or failing and how to fix it
//! - `history`: the samples the trail and the timeline draw
//! - `theme`: colours shared with the overlay

mod history;
mod live;
mod settings;
mod status;
mod theme;

use std::sync::Arc;
use std::time::Instant;

use egui::{Align, Layout, RichText, Ui, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};

use crate::params::{SentioParams, Teach};
use crate::state::SharedState;
use crate::transcript::Transcript;
use history::History;

/// The size a new editor opens at (logical pixels); hosts may resize it down to `MIN_SIZE`.
pub const DEFAULT_SIZE: (u32, u32) = (980, 660);
const MIN_SIZE: (f32, f32) = (760.0, 520.0);

pub type Editor = EguiEditor<SentioEditor>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Live,
    Settings,
}

pub struct SentioEditor {
    params: Arc<SentioParams>,
    shared: Arc<SharedState>,
    gui: Option<GuiContext>,
    clock: Instant,
    history: History,
    transcripts: Vec<Transcript>,
    transcripts_seq: u64,
    tab: Tab,
    drafts: settings::Drafts,
}

/// The editor nice-plug hands to the host. `repaint` is the notifier the plugin registered with
/// the shared state.
pub fn create(
    params: Arc<SentioParams>,
    shared: Arc<SharedState>,
    state: Arc<EguiEditorState>,
    repaint: RepaintNotifier,
) -> Option<Editor> {
    let settings = EguiNiceSettings::new()
        .with_tile("Sentio")
        .with_resize_hint(
            ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
        );
    create_egui_editor(
        state,
        repaint,
        settings,
        SentioEditor {
            params,
            shared,
            gui: None,
            clock: Instant::now(),
            history: History::default(),
            transcripts: Vec::new(),
            transcripts_seq: 0,
            tab: Tab::Live,
            drafts: settings::Drafts::default(),
        },
    )
}

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(
        LogicalSize::new(DEFAULT_SIZE.0 as f32, DEFAULT_SIZE.1 as f32),
        1.0,
    )
}

impl SentioEditor {
    /// New transcripts only: the list is copied when its newest entry changes.
    fn refresh_transcripts(&mut self) {
        let newest = self.shared.latest_transcript().map_or(0, |t| t.seq);
        if newest != self.transcripts_seq {
            self.transcripts = self.shared.transcripts_since(0);
            self.transcripts_seq = newest;
        }
    }

    fn calibrate_button(&self, ui: &mut Ui, setter: &ParamSetter) {
        let on = self.params.calibrate.value();
        let seconds = self
            .shared
            .calibration_s
            .load(std::sync::atomic::Ordering::Relaxed);
        let label = if on {
            format!("Apply calibration ({seconds:.1} s of speech)")
        } else {
            "Calibrate to my voice".to_string()
        };
        let button = egui::Button::new(RichText::new(label).size(14.0)).selected(on);
        let response = ui.add(button).on_hover_text(if on {
            "Speak normally; 10–30 s of speech is enough. Click again to apply it."
        } else {
            "Records your voice's statistics so the model hears you, not the average actor."
        });
        if response.clicked() {
            setter.begin_set_parameter(&self.params.calibrate);
            setter.set_parameter(&self.params.calibrate, !on);
            setter.end_set_parameter(&self.params.calibrate);
        }
    }

    /// "Learn my voice": pick an emotion, speak it, pick the next; Off learns from the takes.
    fn teach_menu(&self, ui: &mut Ui, setter: &ParamSetter) {
        let current = self.params.teach.value();
        let title = match current {
            Teach::Off => "Learn my voice".to_string(),
            Teach::Forget => "Forgetting your voice".to_string(),
            t => format!(
                "Speak {}… (Off learns)",
                Teach::variants()[t.to_index()].to_lowercase()
            ),
        };
        let response = egui::ComboBox::from_id_salt("sentio-teach")
            .selected_text(RichText::new(title).size(14.0))
            // Every choice visible at once, Forget included.
            .height(260.0)
            .show_ui(ui, |ui| {
                for (i, name) in Teach::variants().iter().enumerate() {
                    let t = Teach::from_index(i);
                    if ui.selectable_label(t == current, *name).clicked() && t != current {
                        setter.begin_set_parameter(&self.params.teach);
                        setter.set_parameter(&self.params.teach, t);
                        setter.end_set_parameter(&self.params.teach);
                    }
                }
            })
            .response;
        response.on_hover_text(
            "Choose an emotion and speak it for a few seconds (acted is fine), then the next; \
             choose Off to learn from every take (at least two emotions). Saved with the project; \
             Forget drops it.",
        );
    }

    fn live(&mut self, ui: &mut Ui, now: f64) {
        let out = self.shared.outputs();
        let width = ui.available_width();
        let plane = 270.0f32.min(ui.available_height() - 200.0).max(180.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(300.0);
                live::dominant(ui, &out);
                ui.add_space(8.0);
                live::bars(ui, &out, 300.0);
            });
            ui.add_space(12.0);
            live::plane(ui, &out, &self.history, now, plane);
            ui.add_space(12.0);
            ui.vertical(|ui| {
                ui.label(RichText::new("Words").size(16.0).strong());
                let partial = self.shared.partial();
                live::transcripts(ui, &self.transcripts, partial.as_ref(), plane - 24.0);
            });
        });
        ui.add_space(10.0);
        ui.label(
            RichText::new(format!("Last {:.0} s", history::SPAN_S))
                .size(13.0)
                .color(theme::DIM),
        );
        let height = (ui.available_height() - 4.0).max(90.0);
        live::timeline(ui, &self.history, now, Vec2::new(width, height));
    }
}

impl NiceEguiApp for SentioEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else {
            return;
        };
        let setter = gui.param_setter();
        let now = self.clock.elapsed().as_secs_f64();
        self.history.record(now, &self.shared.outputs());
        self.refresh_transcripts();

        egui::Panel::top("sentio-top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Sentio").size(20.0).strong());
                ui.add_space(16.0);
                ui.selectable_value(&mut self.tab, Tab::Live, RichText::new("Live").size(15.0));
                ui.selectable_value(
                    &mut self.tab,
                    Tab::Settings,
                    RichText::new("Settings").size(15.0),
                );
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    self.calibrate_button(ui, &setter);
                    ui.add_space(8.0);
                    self.teach_menu(ui, &setter);
                });
            });
        });
        egui::Panel::bottom("sentio-status").show(ui, |ui| {
            status::show(ui, &self.shared.status());
        });
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Live => self.live(ui, now),
            Tab::Settings => settings::show(ui, &self.params, &setter, &mut self.drafts),
        });
    }

    fn editor_closed(&mut self) {
        // The window's GUI context dies with it; a reopened editor gets a new one in `build`.
        self.gui = None;
    }
}
