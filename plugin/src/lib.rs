//! Sentio: real-time speech emotion recognition as an audio plugin.
//!
//! Audio passes through untouched. A mono copy is analysed on the audio thread into feature
//! frames (`dsp`), handed to a worker thread (`worker`, `analysis`) through a bounded lock-free
//! queue, and the results leave as OSC (`output::osc`), MIDI CC (`output::midi`), host
//! parameters (`output::host_params`) and the loopback overlay; the window is `editor`.

pub mod analysis;
pub mod cli;
pub mod dsp;
pub mod editor;
pub mod emotion;
pub mod output;
pub mod params;
pub mod pipeline;
pub mod speech;
pub mod standalone;
pub mod state;
pub mod text;
pub mod transcript;
pub mod worker;

use std::sync::Arc;

use crossbeam_channel::Sender;
use nice_plug::prelude::*;

use dsp::{Capture, FeatureFrame};
use emotion::onnx_model::{ModelOptions, OnnxEmotionModel, DEFAULT_RESTART_AFTER_FRAMES};
use emotion::EmotionModel;
use output::host_params::HostParamSender;
use output::http::Server;
use output::mdns::Announcer;
use output::midi::CcSender;
use output::osc::OscThread;
use output::osc_map::MapFile;
use output::oscquery::OscQuery;
use output::overlay::OverlayServer;
use params::{OscPreset, SentioParams};
use speech::models::{load_transcription, load_vad};
use speech::worker::{SpeechConfig, SpeechWorker};
use state::SharedState;
use worker::{Worker, WorkerConfig, QUEUE_FRAMES};

pub struct Sentio {
    params: Arc<SentioParams>,
    shared: Arc<SharedState>,
    capture: Option<Capture>,
    frames: Option<Sender<FeatureFrame>>,
    worker: Option<Worker>,
    /// Declared after `worker`, which feeds it: the analysis stops first.
    speech: Option<SpeechWorker>,
    osc: Option<OscThread>,
    /// The loopback surfaces: they read the shared state on their own threads.
    overlay: Option<OverlayServer>,
    mdns: Option<Announcer>,
    oscquery: Option<Server>,
    midi: CcSender,
    host_params: HostParamSender,
    sample_rate: f32,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
    /// Registered with the shared state, so the worker can wake the editor (lock-free).
    repaint: nice_plug_egui::RepaintNotifier,
    /// Offline rendering may wait for the worker, so a bounce matches real-time playback.
    offline: bool,
    /// Debug builds only: allocate in `process()` on purpose, to prove `assert_process_allocs`
    /// is live (`SENTIO_DEBUG_ALLOC_IN_PROCESS=1`).
    #[cfg(debug_assertions)]
    alloc_canary: bool,
}

impl Default for Sentio {
    fn default() -> Self {
        let shared = Arc::new(SharedState::new());
        let repaint = nice_plug_egui::RepaintNotifier::new();
        let notifier = repaint.clone();
        shared.set_repaint(move || notifier.request_repaint());
        Self {
            params: Arc::new(match standalone::get() {
                Some(app) => SentioParams::for_app(app),
                None => SentioParams::default(),
            }),
            shared,
            capture: None,
            frames: None,
            worker: None,
            speech: None,
            osc: None,
            overlay: None,
            mdns: None,
            oscquery: None,
            midi: CcSender::default(),
            host_params: HostParamSender::default(),
            sample_rate: 48_000.0,
            editor_state: editor::default_state(),
            repaint,
            offline: false,
            #[cfg(debug_assertions)]
            alloc_canary: false,
        }
    }
}

impl Sentio {
    pub fn shared(&self) -> Arc<SharedState> {
        self.shared.clone()
    }

    fn worker_config(&self) -> WorkerConfig {
        let p = &self.params;
        let model = p.emotion_enabled.value().then(|| {
            let options = ModelOptions {
                acoustic: p.emotion_encoder.value().into(),
                device: p.emotion_device.value().into(),
                hop_frames: (p.emotion_hop_ms.value() / 10).max(1) as usize,
                restart_after_frames: DEFAULT_RESTART_AFTER_FRAMES,
                calibration: p.calibration.read().ok().and_then(|c| c.clone()),
                // What "learn my voice" learnt, saved with the project.
                adaptation: p.adaptation.read().ok().and_then(|a| a.clone()),
            };
            Box::new(move || {
                // A learnt voice or calibration saved for another model is dropped with a
                // note, not a reason to stop.
                OnnxEmotionModel::load_saved(&options).map(|m| Box::new(m) as Box<dyn EmotionModel>)
            }) as worker::ModelLoader
        });
        let (settings, store) = (p.clone(), p.calibration.clone());
        let adaptation = p.adaptation.clone();
        WorkerConfig {
            model,
            speech: self.speech.as_ref().map(SpeechWorker::input),
            settings: Box::new(move || settings.analysis_settings()),
            on_calibration: Box::new(move |c| {
                if let Ok(mut slot) = store.write() {
                    *slot = Some(c.clone());
                }
            }),
            on_adaptation: Box::new(move |a| {
                if let Ok(mut slot) = adaptation.write() {
                    *slot = a.cloned();
                }
            }),
        }
    }

    /// The threads that read the shared state and send it out (OSC, overlay, OSCQuery, mDNS),
    /// started once and kept across re-activations. A failure is reported; audio goes on.
    fn start_outputs(&mut self) {
        if self.osc.is_none() {
            let params = self.params.clone();
            let file = std::sync::Mutex::new(
                emotion::runtime::data_dir().map(|d| MapFile::new(d.join("osc-map.json"))),
            );
            let settings = move || {
                // "Custom": the map saved with the project, replaced when the user edits the
                // data folder's osc-map.json (so it is saved with the project from then on).
                if params.osc_preset.value() == OscPreset::Custom {
                    if let Some(f) = file.lock().ok().as_mut().and_then(|f| f.as_mut()) {
                        match f.poll() {
                            Some(Ok(map)) => {
                                nice_log!(
                                    "Sentio OSC: custom map loaded from {}",
                                    f.path().display()
                                );
                                if let Ok(mut slot) = params.osc_map.write() {
                                    *slot = Some(map);
                                }
                            }
                            Some(Err(e)) => {
                                nice_warn!("Sentio OSC: {e} (keeping the previous map)")
                            }
                            None => {}
                        }
                    }
                }
                params.osc_settings()
            };
            match OscThread::spawn(self.shared.clone(), settings) {
                Ok(t) => self.osc = Some(t),
                Err(e) => nice_error!("Sentio could not start its OSC sender: {e}"),
            }
        }
        if self.overlay.is_none() {
            let params = self.params.clone();
            match OverlayServer::spawn(self.shared.clone(), move || params.overlay_settings()) {
                Ok(s) => self.overlay = Some(s),
                Err(e) => nice_error!("Sentio could not start its overlay server: {e}"),
            }
        }
        if self.oscquery.is_none() {
            let (params, params2) = (self.params.clone(), self.params.clone());
            let shared = self.shared.clone();
            let server = Server::spawn(
                "OSCQuery",
                std::sync::Arc::new(OscQuery::new(self.shared.clone(), move || {
                    params.osc_settings()
                })),
                move || params2.oscquery_settings(),
                Box::new(move |text, problem| {
                    if problem {
                        nice_warn!("Sentio OSCQuery: {text}");
                    }
                    shared.set_oscquery_state(text, problem);
                }),
            );
            match server {
                Ok(s) => self.oscquery = Some(s),
                Err(e) => nice_error!("Sentio could not start its OSCQuery server: {e}"),
            }
        }
        if let (None, Some(q)) = (&self.mdns, &self.oscquery) {
            let (params, slot) = (self.params.clone(), q.address_slot());
            let wanted = move || {
                params
                    .oscquery_mdns
                    .value()
                    .then(|| slot.lock().ok().and_then(|a| *a))
                    .flatten()
            };
            match Announcer::spawn(wanted, |e| {
                if let Some(e) = e {
                    nice_warn!("Sentio OSCQuery {e}");
                }
            }) {
                Ok(a) => self.mdns = Some(a),
                Err(e) => nice_error!("Sentio could not start its mDNS announcer: {e}"),
            }
        }
    }

    /// The speech path: the models load on its own threads (a missing one is reported there).
    fn speech_config(&self) -> SpeechConfig {
        let options = self.params.speech_options();
        let device = options.device;
        let mut config = SpeechConfig::new(
            Box::new(move || load_vad(device)),
            Box::new(move |stop| load_transcription(&options, Some(stop))),
        );
        config.lossless = self.offline;
        config
    }
}

impl Plugin for Sentio {
    const NAME: &'static str = "Sentio";
    const VENDOR: &'static str = "Sentio";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;

    type Editor = editor::Editor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        if standalone::get().is_some_and(|app| app.headless) {
            return None;
        }
        editor::create(
            self.params.clone(),
            self.shared.clone(),
            self.editor_state.clone(),
            self.repaint.clone(),
        )
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // Re-activation (possibly at another rate) starts a fresh analysis chain.
        self.worker = None;
        self.speech = None;
        self.frames = None;
        self.capture = match Capture::new(config.sample_rate) {
            Ok(c) => Some(c),
            Err(e) => {
                // Audio still passes through; the analysis stays off and says why.
                nice_error!("Sentio analysis disabled: {e}");
                self.shared.set_osc_state(format!("analysis disabled: {e}"));
                None
            }
        };
        self.offline = config.process_mode == ProcessMode::Offline;
        self.sample_rate = config.sample_rate;
        if self.capture.is_some() && self.params.speech_enabled.value() {
            match SpeechWorker::spawn(self.shared.clone(), self.speech_config()) {
                Ok(s) => self.speech = Some(s),
                Err(e) => nice_error!("Sentio could not start its speech worker: {e}"),
            }
        } else {
            self.shared.set_speech_state("");
            self.shared.set_vad_state("");
        }
        if self.capture.is_some() {
            let (tx, rx) = crossbeam_channel::bounded(QUEUE_FRAMES);
            match Worker::spawn(rx, self.shared.clone(), self.worker_config()) {
                Ok(w) => {
                    self.worker = Some(w);
                    self.frames = Some(tx);
                }
                Err(e) => nice_error!("Sentio could not start its analysis worker: {e}"),
            }
        }
        self.start_outputs();
        self.midi.reset();
        self.host_params.reset();
        #[cfg(debug_assertions)]
        {
            self.alloc_canary = std::env::var_os("SENTIO_DEBUG_ALLOC_IN_PROCESS").is_some();
        }
        true
    }

    fn reset(&mut self) {
        if let Some(c) = &mut self.capture {
            c.reset();
        }
        self.midi.reset();
        self.host_params.reset();
    }

    fn deactivate(&mut self) {
        self.worker = None;
        self.speech = None;
        self.frames = None;
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        #[cfg(debug_assertions)]
        if self.alloc_canary {
            std::hint::black_box(Vec::<u8>::with_capacity(64));
        }

        if let (Some(capture), Some(tx)) = (&mut self.capture, &self.frames) {
            let shared = &self.shared;
            let offline = self.offline;
            capture.process(buffer.as_slice_immutable(), |frame| {
                let delivered = if offline {
                    tx.send(*frame).is_ok()
                } else {
                    tx.try_send(*frame).is_ok()
                };
                if !delivered {
                    shared
                        .frames_dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }

        let outputs = self.shared.outputs();
        if self.params.midi_enabled.value() {
            let channel = (self.params.midi_channel.value() - 1).clamp(0, 15) as u8;
            self.midi.update(&outputs, |cc, value| {
                // A full host event queue only loses this update; the next change resends.
                let _ = context.try_send_event(NoteEvent::MidiCC {
                    timing: 0,
                    channel,
                    cc,
                    value: value as f32 / 127.0,
                });
            });
        }
        if self.params.output_params_enabled.value() {
            let ptrs = self.params.outputs.ptrs();
            let rate = self.params.output_params_rate.value().max(1) as u32;
            let outs = &self.params.outputs;
            self.host_params.update(
                &outputs,
                (buffer.samples(), self.sample_rate, rate),
                |i| outs.normalized(i),
                |i, normalized| context.set_output_parameter(ptrs[i], normalized),
            );
        }
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Sentio {
    const CLAP_ID: &'static str = "org.sentio.sentio";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Real-time speech emotion recognition: audio passes through, emotion goes out as OSC and MIDI CC");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Analyzer,
        ClapFeature::Mono,
        ClapFeature::Stereo,
        ClapFeature::Utility,
    ];
}

impl Vst3Plugin for Sentio {
    const VST3_CLASS_ID: [u8; 16] = *b"SentioEmotionSER";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(Sentio);
nice_export_vst3!(Sentio);
