//! A minimal, strict CLAP host on clack-host 0.2.
//!
//! One [`ClapHost`] owns one plugin instance. The thread that creates it is the CLAP main thread;
//! `process()` runs on that same thread, but while the plugin's `process()` is executing the
//! host's thread-check extension reports "audio thread, not main thread", so the plugin behaves as
//! in a real host (GUI tasks are queued and the harness runs `on_main_thread` after the block).

use std::cell::Cell;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::gui::{
    GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui, Window,
};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer,
    ParamRescanFlags, PluginParams,
};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::spaces::CoreEventSpace;
use clack_host::prelude::*;

use crate::contract::{hash_param_id, PLUGIN_ID};

thread_local! {
    static IN_PROCESS: Cell<bool> = const { Cell::new(false) };
}

/// A MIDI control change the plugin emitted (decoded from a `CLAP_EVENT_MIDI` output event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MidiCc {
    /// 0-based MIDI channel (status nibble): `midi_channel` parameter 1 → 0.
    pub channel: u8,
    pub cc: u8,
    /// 0..=127
    pub value: u8,
    /// Sample offset in the block.
    pub time: u32,
}

/// A parameter change the plugin reported in its output events (its output parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamOut {
    GestureBegin {
        clap_id: u32,
    },
    /// `value` is the CLAP plain value (normalized for Sentio's float parameters).
    Value {
        clap_id: u32,
        value: f64,
    },
    GestureEnd {
        clap_id: u32,
    },
}

/// Which audio-ports configuration to select before activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The plugin's default (its first configuration, stereo for Sentio).
    Default,
    /// The configuration with a 2-channel main input and output.
    Stereo,
    /// The configuration with a 1-channel main input and output.
    Mono,
}

/// What the plugin reported about one parameter.
#[derive(Debug, Clone)]
pub struct ParamDesc {
    /// CLAP `clap_id` (nice-plug: hash of the string id, see [`hash_param_id`]).
    pub clap_id: u32,
    pub name: String,
    pub module: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub stepped: bool,
}

impl ParamDesc {
    /// Normalized 0..1 → CLAP value (plain over the reported range: for nice-plug's stepped
    /// parameters `normalized × step_count`, for continuous ones the normalized value itself).
    pub fn plain_from_normalized(&self, normalized: f64) -> f64 {
        let v = self.min + normalized.clamp(0.0, 1.0) * (self.max - self.min);
        if self.stepped {
            v.round()
        } else {
            v
        }
    }

    pub fn normalized_from_plain(&self, plain: f64) -> f64 {
        if self.max > self.min {
            (plain - self.min) / (self.max - self.min)
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioConfig {
    pub sample_rate: f64,
    pub min_frames: u32,
    pub max_frames: u32,
}

// ---------------------------------------------------------------------------------------------
// Host callback handlers
// ---------------------------------------------------------------------------------------------

pub struct HostShared {
    main_thread: ThreadId,
    pub callback_requested: AtomicBool,
    pub flush_requested: AtomicBool,
    pub restart_requested: AtomicBool,
    pub process_requested: AtomicBool,
    pub rescan_requests: AtomicU64,
}

impl HostShared {
    fn new(main_thread: ThreadId) -> Self {
        Self {
            main_thread,
            callback_requested: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            restart_requested: AtomicBool::new(false),
            process_requested: AtomicBool::new(false),
            rescan_requests: AtomicU64::new(0),
        }
    }
}

impl SharedHandler<'_> for HostShared {
    fn request_restart(&self) {
        self.restart_requested.store(true, SeqCst);
    }
    fn request_process(&self) {
        self.process_requested.store(true, SeqCst);
    }
    fn request_callback(&self) {
        self.callback_requested.store(true, SeqCst);
    }
}

impl HostParamsImplShared for HostShared {
    fn request_flush(&self) {
        self.flush_requested.store(true, SeqCst);
    }
}

impl HostGuiImpl for HostShared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> std::result::Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> std::result::Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> std::result::Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

impl HostThreadCheckImpl for HostShared {
    fn is_main_thread(&self) -> bool {
        !IN_PROCESS.with(|f| f.get()) && std::thread::current().id() == self.main_thread
    }
    fn is_audio_thread(&self) -> bool {
        IN_PROCESS.with(|f| f.get())
    }
}

pub struct HostMain<'a> {
    shared: &'a HostShared,
}

impl<'a> MainThreadHandler<'a> for HostMain<'a> {}

impl HostParamsImplMainThread for HostMain<'_> {
    fn rescan(&self, _flags: ParamRescanFlags) {
        self.shared.rescan_requests.fetch_add(1, SeqCst);
    }
    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {}
}

pub struct SentioHost;

impl HostHandlers for SentioHost {
    type Shared<'a> = HostShared;
    type MainThread<'a> = HostMain<'a>;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostParams>()
            .register::<HostGui>()
            .register::<HostThreadCheck>();
    }
}

// ---------------------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------------------

pub struct ClapHost {
    instance: PluginInstance<SentioHost>,
    processor: Option<StartedPluginAudioProcessor<SentioHost>>,
    params_ext: Option<PluginParams>,
    params: Vec<ParamDesc>,
    config: Option<AudioConfig>,
    in_channels: usize,
    out_channels: usize,
    in_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    in_events: EventBuffer,
    out_events: EventBuffer,
    pending: Vec<(u32, f64)>,
    /// Parameter output events since the last [`Self::take_param_out`].
    param_out: Vec<ParamOut>,
    steady_time: u64,
    path: PathBuf,
    /// Status of the last `process()` call.
    pub last_status: Option<ProcessStatus>,
    /// Wall time of the last `process()` call (plugin only, not the harness copies).
    pub last_process_time: Duration,
    // Declared last: dropped after the instance.
    _entry: PluginEntry,
}

/// Output samples that a plugin which never writes its outputs would leave behind: a NaN with a
/// payload no real signal has, so such a plugin fails bit-exact passthrough even on silence.
pub const OUTPUT_SENTINEL_BITS: u32 = 0x7fc0_5e17;

impl ClapHost {
    /// Loads `path` (a `.clap` file) and instantiates [`PLUGIN_ID`] with its default layout.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_layout(path, Layout::Default)
    }

    pub fn load_with_layout(path: &Path, layout: Layout) -> Result<Self> {
        // SAFETY: loading a plugin binary runs its code; that is the point of these tests.
        let entry = unsafe { PluginEntry::load(path) }
            .with_context(|| format!("loading CLAP entry {}", path.display()))?;
        let id = CString::new(PLUGIN_ID).expect("plugin id has no NUL");
        {
            let factory = entry
                .get_plugin_factory()
                .ok_or_else(|| anyhow!("{} has no plugin factory", path.display()))?;
            let ids: Vec<String> = factory
                .plugin_descriptors()
                .filter_map(|d| d.id().map(|i| i.to_string_lossy().into_owned()))
                .collect();
            if !ids.iter().any(|i| i == PLUGIN_ID) {
                bail!(
                    "{} does not contain plugin id {PLUGIN_ID:?} (it has {ids:?})",
                    path.display()
                );
            }
        }
        let host_info = HostInfo::new(
            "sentio-host-tests",
            "Sentio developers",
            "https://example.invalid/sentio",
            env!("CARGO_PKG_VERSION"),
        )
        .map_err(|e| anyhow!("HostInfo: {e:?}"))?;
        let main_thread = std::thread::current().id();
        let instance = PluginInstance::<SentioHost>::new(
            move |_| HostShared::new(main_thread),
            |shared| HostMain { shared },
            &entry,
            &id,
            &host_info,
        )
        .with_context(|| format!("instantiating {PLUGIN_ID} from {}", path.display()))?;

        let params_ext: Option<PluginParams> = instance.plugin_shared_handle().get_extension();

        let mut host = Self {
            instance,
            processor: None,
            params_ext,
            params: Vec::new(),
            config: None,
            in_channels: 2,
            out_channels: 2,
            in_bufs: Vec::new(),
            out_bufs: Vec::new(),
            in_ports: AudioPorts::with_capacity(2, 1),
            out_ports: AudioPorts::with_capacity(2, 1),
            in_events: EventBuffer::with_capacity(64),
            out_events: EventBuffer::with_capacity(256),
            pending: Vec::new(),
            param_out: Vec::new(),
            steady_time: 0,
            path: path.to_path_buf(),
            last_status: None,
            last_process_time: Duration::ZERO,
            _entry: entry,
        };
        host.rescan_params();
        host.select_layout(layout)?;
        host.run_main_thread_callbacks();
        Ok(host)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the parameter list from the params extension.
    pub fn rescan_params(&mut self) {
        self.params.clear();
        let Some(ext) = self.params_ext else {
            return;
        };
        let handle = self.instance.plugin_handle();
        let count = ext.count(&handle);
        let mut buf = ParamInfoBuffer::new();
        for i in 0..count {
            if let Some(info) = ext.get_info(&handle, i, &mut buf) {
                self.params.push(ParamDesc {
                    clap_id: info.id.get(),
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    module: String::from_utf8_lossy(info.module).into_owned(),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                    stepped: info
                        .flags
                        .contains(clack_extensions::params::ParamInfoFlags::IS_STEPPED),
                });
            }
        }
    }

    /// Every parameter the plugin reports.
    pub fn params(&self) -> &[ParamDesc] {
        &self.params
    }

    /// Looks a parameter up by its nice-plug string id (hashed as nice-plug does).
    pub fn param(&self, string_id: &str) -> Result<&ParamDesc> {
        let h = hash_param_id(string_id);
        self.params.iter().find(|p| p.clap_id == h).ok_or_else(|| {
            anyhow!(
                "plugin has no parameter with string id {string_id:?} (clap id {h}); it has: {:?}",
                self.params
                    .iter()
                    .map(|p| (p.clap_id, p.name.as_str()))
                    .collect::<Vec<_>>()
            )
        })
    }

    /// Moves the queued parameter changes into the next call's input events (and clears the
    /// output events).
    fn queue_pending_params(&mut self) {
        self.in_events.clear();
        for (id, v) in self.pending.drain(..) {
            self.in_events.push(&ParamValueEvent::new(
                0,
                ClapId::new(id),
                Pckn::match_all(),
                v,
            ));
        }
        self.out_events.clear();
    }

    /// `mono` on every input channel in fixed blocks, paced to real time, as a live input would
    /// arrive (so the worker keeps up and nothing is dropped).
    pub fn process_paced(&mut self, mono: &[f32], block: usize) -> Result<RunResult> {
        let inputs: Vec<&[f32]> = vec![mono; self.in_channels];
        self.process_signal(
            &inputs,
            &mut std::iter::repeat(block),
            &mut RunOptions {
                paced: true,
                ..Default::default()
            },
        )
    }

    /// Switch to the CLAP offline render mode (a bounce): call before `activate`.
    pub fn set_render_offline(&mut self, offline: bool) -> Result<()> {
        use clack_extensions::render::{PluginRender, RenderMode};
        let handle = self.instance.plugin_handle();
        let ext: PluginRender = handle
            .get_extension()
            .ok_or_else(|| anyhow!("plugin has no render extension"))?;
        let mode = if offline {
            RenderMode::Offline
        } else {
            RenderMode::Realtime
        };
        ext.set(&handle, mode)
            .map_err(|e| anyhow!("render.set({mode:?}) refused: {e}"))
    }

    fn select_layout(&mut self, layout: Layout) -> Result<()> {
        let handle = self.instance.plugin_handle();
        if layout != Layout::Default {
            let want = if layout == Layout::Mono { 1 } else { 2 };
            let ext: PluginAudioPortsConfig = handle
                .get_extension()
                .ok_or_else(|| anyhow!("plugin has no audio-ports-config extension"))?;
            let mut found = None;
            let mut seen = Vec::new();
            let mut buf = AudioPortsConfigBuffer::new();
            for i in 0..ext.count(&handle) {
                if let Some(c) = ext.get(&handle, i, &mut buf) {
                    let ic = c.main_input.as_ref().map(|p| p.channel_count);
                    let oc = c.main_output.as_ref().map(|p| p.channel_count);
                    seen.push((String::from_utf8_lossy(c.name).into_owned(), ic, oc));
                    if found.is_none() && ic == Some(want) && oc == Some(want) {
                        found = Some(c.id);
                    }
                }
            }
            let id = found.ok_or_else(|| {
                anyhow!("no audio-ports config with {want} in / {want} out; plugin offers {seen:?}")
            })?;
            ext.select(&handle, id)
                .map_err(|e| anyhow!("audio-ports-config select({id:?}) failed: {e:?}"))?;
        }
        let handle = self.instance.plugin_handle();
        let ports: PluginAudioPorts = handle
            .get_extension()
            .ok_or_else(|| anyhow!("plugin has no audio-ports extension"))?;
        let mut buf = AudioPortInfoBuffer::new();
        let ch = |is_input: bool, buf: &mut AudioPortInfoBuffer| -> Result<usize> {
            if ports.count(&handle, is_input) == 0 {
                bail!(
                    "plugin has no main {} port",
                    if is_input { "input" } else { "output" }
                );
            }
            let info = ports
                .get(&handle, 0, is_input, buf)
                .ok_or_else(|| anyhow!("audio_ports.get(0) failed"))?;
            Ok(info.channel_count as usize)
        };
        self.in_channels = ch(true, &mut buf)?;
        self.out_channels = ch(false, &mut buf)?;
        Ok(())
    }

    /// Main input and output channel counts of the selected layout.
    pub fn channels(&self) -> (usize, usize) {
        (self.in_channels, self.out_channels)
    }

    pub fn is_active(&self) -> bool {
        self.processor.is_some()
    }

    pub fn config(&self) -> Option<AudioConfig> {
        self.config
    }

    /// Activates at `sample_rate` with the given block-size bounds and starts processing.
    pub fn activate(&mut self, sample_rate: f64, min_frames: u32, max_frames: u32) -> Result<()> {
        if self.processor.is_some() {
            bail!("activate() while already active: call deactivate() first");
        }
        let cfg = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: min_frames,
            max_frames_count: max_frames,
        };
        let stopped = self
            .instance
            .activate(|_, _| (), cfg)
            .with_context(|| format!("activate({sample_rate} Hz, {min_frames}..={max_frames})"))?;
        let started = match stopped.start_processing() {
            Ok(s) => s,
            Err(e) => {
                let stopped = e.into_stopped_processor();
                self.instance.deactivate(stopped);
                bail!("start_processing failed at {sample_rate} Hz");
            }
        };
        self.processor = Some(started);
        self.config = Some(AudioConfig {
            sample_rate,
            min_frames,
            max_frames,
        });
        let n = max_frames as usize;
        self.in_bufs = vec![vec![0.0; n]; self.in_channels];
        self.out_bufs = vec![vec![0.0; n]; self.out_channels];
        self.in_ports = AudioPorts::with_capacity(self.in_channels, 1);
        self.out_ports = AudioPorts::with_capacity(self.out_channels, 1);
        self.steady_time = 0;
        self.run_main_thread_callbacks();
        Ok(())
    }

    /// Stops processing and deactivates. No-op when inactive.
    pub fn deactivate(&mut self) {
        if let Some(p) = self.processor.take() {
            let stopped = p.stop_processing();
            self.instance.deactivate(stopped);
        }
        self.config = None;
        self.run_main_thread_callbacks();
    }

    /// Runs the plugin's `on_main_thread` if it asked for it.
    pub fn run_main_thread_callbacks(&mut self) {
        if self
            .instance
            .access_shared_handler(|h| h.callback_requested.swap(false, SeqCst))
        {
            self.instance.call_on_main_thread_callback();
        }
    }

    /// Whether the plugin asked the host to restart (deactivate + reactivate) it.
    pub fn restart_requested(&self) -> bool {
        self.instance
            .access_shared_handler(|h| h.restart_requested.load(SeqCst))
    }

    /// Sets a parameter by string id to a *normalized* 0..1 value. While inactive this is
    /// delivered at once through `params.flush()`; while active it is queued as a
    /// `CLAP_EVENT_PARAM_VALUE` at time 0 of the next `process()` call (or [`Self::flush_params`]).
    pub fn set_param(&mut self, string_id: &str, normalized: f64) -> Result<()> {
        let desc = self.param(string_id)?;
        let plain = desc.plain_from_normalized(normalized);
        let id = desc.clap_id;
        if self.processor.is_some() {
            self.pending.push((id, plain));
            Ok(())
        } else {
            self.flush_inactive(&[(id, plain)])
        }
    }

    /// Sets a parameter by string id to a CLAP (plain) value.
    pub fn set_param_plain(&mut self, string_id: &str, plain: f64) -> Result<()> {
        let desc = self.param(string_id)?;
        let n = desc.normalized_from_plain(plain);
        self.set_param(string_id, n)
    }

    fn flush_inactive(&mut self, values: &[(u32, f64)]) -> Result<()> {
        let ext = self
            .params_ext
            .ok_or_else(|| anyhow!("plugin has no params extension"))?;
        let mut input = EventBuffer::with_capacity(values.len());
        for &(id, v) in values {
            input.push(&ParamValueEvent::new(
                0,
                ClapId::new(id),
                Pckn::match_all(),
                v,
            ));
        }
        let mut output = EventBuffer::with_capacity(16);
        {
            let mut handle = self
                .instance
                .inactive_plugin_handle()
                .ok_or_else(|| anyhow!("flush on an inactive plugin, but it is active"))?;
            ext.flush(&mut handle, &input.as_input(), &mut output.as_output());
        }
        self.run_main_thread_callbacks();
        Ok(())
    }

    /// Delivers queued parameter changes now with `params.flush()` (active plugin, outside
    /// `process()`), instead of with the next block.
    pub fn flush_params(&mut self) -> Result<()> {
        let ext = self
            .params_ext
            .ok_or_else(|| anyhow!("plugin has no params extension"))?;
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.processor.is_none() {
            let pending = std::mem::take(&mut self.pending);
            return self.flush_inactive(&pending);
        }
        self.queue_pending_params();
        let processor = self.processor.as_mut().expect("active");
        IN_PROCESS.with(|f| f.set(true));
        ext.flush_active(
            &mut processor.plugin_handle(),
            &self.in_events.as_input(),
            &mut self.out_events.as_output(),
        );
        IN_PROCESS.with(|f| f.set(false));
        self.in_events.clear();
        self.run_main_thread_callbacks();
        Ok(())
    }

    /// Current CLAP (plain) value of a parameter.
    pub fn param_value(&mut self, string_id: &str) -> Result<f64> {
        let id = self.param(string_id)?.clap_id;
        let ext = self
            .params_ext
            .ok_or_else(|| anyhow!("plugin has no params extension"))?;
        ext.get_value(&self.instance.plugin_handle(), ClapId::new(id))
            .ok_or_else(|| anyhow!("params.get_value({string_id}) failed"))
    }

    /// Current normalized 0..1 value of a parameter.
    pub fn param_normalized(&mut self, string_id: &str) -> Result<f64> {
        let plain = self.param_value(string_id)?;
        Ok(self.param(string_id)?.normalized_from_plain(plain))
    }

    /// The plugin's text for a CLAP (plain) value of a parameter.
    pub fn param_text(&mut self, string_id: &str, plain: f64) -> Result<String> {
        let id = self.param(string_id)?.clap_id;
        let ext = self
            .params_ext
            .ok_or_else(|| anyhow!("plugin has no params extension"))?;
        let mut buf = [0u8; 256];
        let text = ext
            .value_to_text(
                &self.instance.plugin_handle(),
                ClapId::new(id),
                plain,
                &mut buf,
            )
            .map_err(|_| anyhow!("value_to_text({string_id}, {plain}) failed"))?;
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// Processes one block. `inputs`/`outputs` have one slice per channel of the selected layout,
    /// all the same length (the block size, within the activation's bounds). `param_events` are
    /// `(string id, normalized 0..1)` changes delivered at time 0 of this block (after any queued
    /// by [`Self::set_param`]). Returns the MIDI CCs the plugin emitted in this block.
    ///
    /// Panics on misuse or if the plugin reports a processing error; see [`Self::try_process`].
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        param_events: &[(&str, f64)],
    ) -> Vec<MidiCc> {
        self.try_process(inputs, outputs, param_events)
            .unwrap_or_else(|e| panic!("ClapHost::process: {e:#}"))
    }

    pub fn try_process(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        param_events: &[(&str, f64)],
    ) -> Result<Vec<MidiCc>> {
        let mut midi = Vec::new();
        self.try_process_into(inputs, outputs, param_events, &mut midi)?;
        Ok(midi)
    }

    /// As [`Self::try_process`], appending the MIDI CCs to `midi`.
    pub fn try_process_into(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        param_events: &[(&str, f64)],
        midi: &mut Vec<MidiCc>,
    ) -> Result<()> {
        let cfg = self
            .config
            .ok_or_else(|| anyhow!("process() on an inactive plugin: call activate() first"))?;
        if inputs.len() != self.in_channels || outputs.len() != self.out_channels {
            bail!(
                "layout has {} in / {} out channels, got {} / {}",
                self.in_channels,
                self.out_channels,
                inputs.len(),
                outputs.len()
            );
        }
        let n = inputs.first().map(|c| c.len()).unwrap_or(0);
        if inputs.iter().any(|c| c.len() != n) || outputs.iter().any(|c| c.len() != n) {
            bail!("all channels of a block must have the same length");
        }
        if n < cfg.min_frames as usize || n > cfg.max_frames as usize {
            bail!(
                "block of {n} frames outside the activated {}..={}",
                cfg.min_frames,
                cfg.max_frames
            );
        }
        for &(sid, v) in param_events {
            let d = self.param(sid)?;
            let plain = d.plain_from_normalized(v);
            self.pending.push((d.clap_id, plain));
        }

        for (buf, inp) in self.in_bufs.iter_mut().zip(inputs) {
            buf[..n].copy_from_slice(inp);
        }
        let sentinel = f32::from_bits(OUTPUT_SENTINEL_BITS);
        for buf in self.out_bufs.iter_mut() {
            buf[..n].fill(sentinel);
        }
        self.queue_pending_params();

        let processor = self.processor.as_mut().expect("active");
        let input_audio = self.in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                self.in_bufs
                    .iter_mut()
                    .map(|b| InputChannel::variable(&mut b[..n])),
            ),
        }]);
        let mut output_audio = self.out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                self.out_bufs.iter_mut().map(|b| &mut b[..n]),
            ),
        }]);

        IN_PROCESS.with(|f| f.set(true));
        let t0 = Instant::now();
        let status = processor.process(
            &input_audio,
            &mut output_audio,
            &self.in_events.as_input(),
            &mut self.out_events.as_output(),
            Some(self.steady_time),
            None,
        );
        self.last_process_time = t0.elapsed();
        IN_PROCESS.with(|f| f.set(false));
        self.steady_time += n as u64;
        self.in_events.clear();
        let status = status.map_err(|e| anyhow!("plugin process() failed: {e}"))?;
        self.last_status = Some(status);

        for (out, buf) in outputs.iter_mut().zip(&self.out_bufs) {
            out.copy_from_slice(&buf[..n]);
        }
        for ev in self.out_events.iter() {
            match ev.as_core_event() {
                Some(CoreEventSpace::ParamValue(p)) => self.param_out.push(ParamOut::Value {
                    clap_id: p.param_id().map_or(u32::MAX, |id| id.get()),
                    value: p.value(),
                }),
                Some(CoreEventSpace::ParamGestureBegin(g)) => {
                    self.param_out.push(ParamOut::GestureBegin {
                        clap_id: g.param_id().map_or(u32::MAX, |id| id.get()),
                    })
                }
                Some(CoreEventSpace::ParamGestureEnd(g)) => {
                    self.param_out.push(ParamOut::GestureEnd {
                        clap_id: g.param_id().map_or(u32::MAX, |id| id.get()),
                    })
                }
                _ => {}
            }
            if let Some(CoreEventSpace::Midi(m)) = ev.as_core_event() {
                let [status, d1, d2] = m.data();
                if status & 0xF0 == 0xB0 {
                    midi.push(MidiCc {
                        channel: status & 0x0F,
                        cc: d1 & 0x7F,
                        value: d2,
                        time: m.header().time(),
                    });
                }
            }
        }
        self.out_events.clear();
        self.run_main_thread_callbacks();
        Ok(())
    }

    /// The parameter output events of every block since the last call, in order.
    pub fn take_param_out(&mut self) -> Vec<ParamOut> {
        std::mem::take(&mut self.param_out)
    }

    fn gui_ext(&self) -> Result<PluginGui> {
        self.instance
            .plugin_shared_handle()
            .get_extension()
            .ok_or_else(|| anyhow!("the plugin has no CLAP GUI extension"))
    }

    /// Opens the plugin's editor embedded in the X11 window `parent` (as a DAW does) and returns
    /// the size the plugin asked for.
    pub fn gui_open_x11(&mut self, parent: u64) -> Result<GuiSize> {
        let gui = self.gui_ext()?;
        let plugin = self.instance.plugin_handle();
        let config = GuiConfiguration {
            api_type: GuiApiType::X11,
            is_floating: false,
        };
        if !gui.is_api_supported(&plugin, config) {
            bail!("the plugin does not support embedded X11 editors");
        }
        gui.create(&plugin, config)
            .map_err(|e| anyhow!("gui.create: {e:?}"))?;
        let size = gui
            .get_size(&plugin)
            .ok_or_else(|| anyhow!("gui.get_size failed"))?;
        // SAFETY: the caller keeps `parent` alive until `gui_close`.
        unsafe { gui.set_parent(&plugin, Window::from_x11_handle(parent as _)) }
            .map_err(|e| anyhow!("gui.set_parent: {e:?}"))?;
        gui.show(&plugin).map_err(|e| anyhow!("gui.show: {e:?}"))?;
        Ok(size)
    }

    /// Asks the editor to take `width` × `height` (after `adjust_size`, as hosts do); returns the
    /// size it took.
    pub fn gui_resize(&mut self, width: u32, height: u32) -> Result<GuiSize> {
        let gui = self.gui_ext()?;
        let plugin = self.instance.plugin_handle();
        if !gui.can_resize(&plugin) {
            bail!("the editor says it cannot be resized");
        }
        let size = gui
            .adjust_size(&plugin, GuiSize { width, height })
            .unwrap_or(GuiSize { width, height });
        gui.set_size(&plugin, size)
            .map_err(|e| anyhow!("gui.set_size: {e:?}"))?;
        Ok(size)
    }

    /// Hides and destroys the editor (as closing its window in a DAW does).
    pub fn gui_close(&mut self) -> Result<()> {
        let gui = self.gui_ext()?;
        let plugin = self.instance.plugin_handle();
        let _ = gui.hide(&plugin);
        gui.destroy(&plugin);
        Ok(())
    }

    /// Convenience: processes whole signals (one `Vec` per input channel) in blocks of the sizes
    /// `sizes` yields, optionally paced to real time, with parameter changes at given blocks.
    /// Returns the output signals, every MIDI CC (with absolute sample positions in `time`) and
    /// the longest single `process()` call.
    pub fn process_signal(
        &mut self,
        inputs: &[&[f32]],
        sizes: &mut dyn Iterator<Item = usize>,
        opts: &mut RunOptions<'_>,
    ) -> Result<RunResult> {
        let cfg = self
            .config
            .ok_or_else(|| anyhow!("process_signal() on an inactive plugin"))?;
        let total = inputs.first().map(|c| c.len()).unwrap_or(0);
        let mut outputs: Vec<Vec<f32>> = vec![vec![0.0; total]; self.out_channels];
        let mut midi = Vec::new();
        let mut block_midi = Vec::new();
        let mut pos = 0usize;
        let mut block = 0usize;
        let mut times = Vec::new();
        let start = Instant::now();
        while pos < total {
            let n = sizes
                .next()
                .ok_or_else(|| anyhow!("block-size iterator ended early"))?
                .clamp(cfg.min_frames as usize, cfg.max_frames as usize)
                .min(total - pos)
                .max(1);
            let ins: Vec<&[f32]> = inputs.iter().map(|c| &c[pos..pos + n]).collect();
            let mut outs: Vec<&mut [f32]> =
                outputs.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
            let events: Vec<(&str, f64)> = opts
                .param_changes
                .iter()
                .filter(|(b, _, _)| *b == block)
                .map(|(_, id, v)| (*id, *v))
                .collect();
            block_midi.clear();
            self.try_process_into(&ins, &mut outs, &events, &mut block_midi)
                .with_context(|| format!("block {block} at sample {pos} ({n} frames)"))?;
            times.push(self.last_process_time);
            for mut m in block_midi.drain(..) {
                m.time += pos as u32;
                midi.push(m);
            }
            pos += n;
            block += 1;
            if let Some(hook) = opts.after_block.as_mut() {
                hook(block, pos);
            }
            if opts.paced {
                let due = start + Duration::from_secs_f64(pos as f64 / cfg.sample_rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
        Ok(RunResult {
            outputs,
            midi,
            max_process_time: times.iter().copied().max().unwrap_or_default(),
            process_times: times,
            blocks: block,
        })
    }
}

/// Options for [`ClapHost::process_signal`].
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Sleep after each block so the signal is delivered at (about) real time.
    pub paced: bool,
    /// `(block index, string id, normalized value)` changes delivered at the start of that block.
    pub param_changes: Vec<(usize, &'a str, f64)>,
    /// Called after every block with (blocks done, samples done).
    #[allow(clippy::type_complexity)]
    pub after_block: Option<Box<dyn FnMut(usize, usize) + 'a>>,
}

pub struct RunResult {
    pub outputs: Vec<Vec<f32>>,
    /// MIDI CCs; `time` is the absolute sample position in the signal.
    pub midi: Vec<MidiCc>,
    pub max_process_time: Duration,
    /// Wall time of every `process()` call, in order.
    pub process_times: Vec<Duration>,
    pub blocks: usize,
}

impl RunResult {
    /// The `q`-quantile (0..=1) of the per-block `process()` wall times.
    pub fn process_time_quantile(&self, q: f64) -> Duration {
        let mut t = self.process_times.clone();
        if t.is_empty() {
            return Duration::ZERO;
        }
        t.sort();
        t[((t.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
    }
}

impl Drop for ClapHost {
    fn drop(&mut self) {
        self.deactivate();
    }
}
