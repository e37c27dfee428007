//! A minimal VST3 host on truce-rack-vst3 (stereo main bus in and out).
//!
//! Parameter changes go through `IEditController::setParamNormalized` (truce-rack's
//! `set_parameter`), which for nice-plug's single-component VST3 wrapper updates the parameter the
//! processor reads. truce-rack-vst3 1.1.5 does not return the plugin's output events (MIDI), so
//! only audio is observable here.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use truce_rack_core::buffer::BusRange;
use truce_rack_core::{
    AudioBuffer, BusLayout, EventList, ParameterInfo, Plugin, PluginCore, PluginScanner,
    ProcessContext, ProcessStatus,
};
use truce_rack_vst3::{Vst3Plugin, Vst3Scanner};

use crate::contract::hash_param_id;

pub struct Vst3Host {
    plugin: Vst3Plugin,
    path: PathBuf,
    sample_rate: f64,
    max_block: usize,
    in_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    out_events: EventList,
    params: Vec<ParameterInfo>,
}

impl Vst3Host {
    /// Loads the `.vst3` bundle at `bundle` (its plugin class named like the bundle's stem, or
    /// the only class in it).
    pub fn load(bundle: &Path) -> Result<Self> {
        let dir = bundle
            .parent()
            .ok_or_else(|| anyhow!("{} has no parent directory", bundle.display()))?;
        let scanner = Vst3Scanner::new();
        let infos = scanner
            .scan_path(dir)
            .with_context(|| format!("scanning {}", dir.display()))?;
        let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let want = canon(bundle);
        let mine: Vec<_> = infos
            .into_iter()
            .filter(|i| canon(&i.path) == want)
            .collect();
        let stem = bundle
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = mine
            .iter()
            .find(|i| i.name == stem)
            .or_else(|| mine.first())
            .ok_or_else(|| {
                anyhow!(
                    "no VST3 audio-module class found in {} (is the bundle layout \
                     Contents/<arch>-linux/<name>.so?)",
                    bundle.display()
                )
            })?
            .clone();
        let plugin = scanner
            .load(&info)
            .with_context(|| format!("loading VST3 {}", bundle.display()))?;
        let mut params = Vec::new();
        for i in 0..plugin.parameter_count() {
            params.push(
                plugin
                    .parameter_info(i)
                    .with_context(|| format!("parameter_info({i})"))?,
            );
        }
        Ok(Self {
            plugin,
            path: bundle.to_path_buf(),
            sample_rate: 0.0,
            max_block: 0,
            in_bufs: Vec::new(),
            out_bufs: Vec::new(),
            out_events: EventList::new(),
            params,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parameter infos (VST3 `ParamID` = nice-plug's hash of the string id).
    pub fn params(&self) -> &[ParameterInfo] {
        &self.params
    }

    fn param_index(&self, string_id: &str) -> Result<usize> {
        let h = hash_param_id(string_id);
        self.params.iter().position(|p| p.id == h).ok_or_else(|| {
            anyhow!(
                "VST3 plugin has no parameter {string_id:?} (id {h}); it has {:?}",
                self.params
                    .iter()
                    .map(|p| (p.id, p.name.as_str()))
                    .collect::<Vec<_>>()
            )
        })
    }

    /// Sets a parameter (normalized 0..1) by its string id.
    pub fn set_param(&mut self, string_id: &str, normalized: f64) -> Result<()> {
        let i = self.param_index(string_id)?;
        self.plugin
            .set_parameter(i, normalized)
            .with_context(|| format!("set_parameter({string_id}, {normalized})"))
    }

    /// Normalized value of a parameter.
    pub fn param_normalized(&self, string_id: &str) -> Result<f64> {
        let i = self.param_index(string_id)?;
        Ok(self.plugin.parameter_value(i)?)
    }

    /// Stereo in/out at `sample_rate`, blocks up to `max_block` frames.
    pub fn activate(&mut self, sample_rate: f64, max_block: usize) -> Result<()> {
        self.plugin
            .activate(BusLayout::stereo(), sample_rate, max_block)
            .with_context(|| format!("VST3 activate({sample_rate} Hz, max {max_block})"))?;
        self.sample_rate = sample_rate;
        self.max_block = max_block;
        self.in_bufs = vec![vec![0.0; max_block]; 2];
        self.out_bufs = vec![vec![0.0; max_block]; 2];
        Ok(())
    }

    pub fn deactivate(&mut self) {
        self.plugin.deactivate();
    }

    /// Processes one stereo block (`inputs.len() == outputs.len() == 2`, equal lengths,
    /// `1..=max_block`).
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        if !self.plugin.is_active() {
            bail!("VST3 process() before activate()");
        }
        if inputs.len() != 2 || outputs.len() != 2 {
            bail!("the VST3 harness is stereo only");
        }
        let n = inputs[0].len();
        if n == 0
            || n > self.max_block
            || inputs[1].len() != n
            || outputs.iter().any(|o| o.len() != n)
        {
            bail!("bad block: {n} frames (max {})", self.max_block);
        }
        for (b, i) in self.in_bufs.iter_mut().zip(inputs) {
            b[..n].copy_from_slice(i);
        }
        let sentinel = f32::from_bits(crate::clap_host::OUTPUT_SENTINEL_BITS);
        for b in self.out_bufs.iter_mut() {
            b[..n].fill(sentinel);
        }
        let status = {
            let ins: Vec<&[f32]> = self.in_bufs.iter().map(|b| &b[..n]).collect();
            let mut outs: Vec<&mut [f32]> = self.out_bufs.iter_mut().map(|b| &mut b[..n]).collect();
            let in_ranges = [BusRange::new(0, 2)];
            let out_ranges = [BusRange::new(0, 2)];
            let mut buffer = AudioBuffer::new(&ins, &mut outs, n, &in_ranges, &out_ranges);
            let events = EventList::new();
            self.out_events.clear();
            let mut ctx = ProcessContext {
                sample_rate: self.sample_rate,
                max_block_size: self.max_block,
                transport: None,
                output_events: &mut self.out_events,
            };
            self.plugin.process(&mut buffer, &events, &mut ctx)?
        };
        if status == ProcessStatus::Error {
            bail!("VST3 process() returned an error");
        }
        for (o, b) in outputs.iter_mut().zip(&self.out_bufs) {
            o.copy_from_slice(&b[..n]);
        }
        Ok(())
    }
}

impl Drop for Vst3Host {
    fn drop(&mut self) {
        if self.plugin.is_active() {
            self.plugin.deactivate();
        }
    }
}
