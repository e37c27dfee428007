//! `sentio osc-map`: a built-in OSC map as JSON, the starting point for a custom one.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::output::osc_map::{OscMap, Preset};

#[derive(clap::Args)]
pub struct OscMapArgs {
    #[arg(long, value_enum, default_value_t = Preset::Sentio)]
    pub preset: Preset,
    /// QLC+ input universe (1-based): its OSC input port is 7700 + universe − 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub universe: u16,
    /// Check a map file instead: print it back normalised, or say what is wrong with it.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub check: Option<PathBuf>,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &OscMapArgs) -> Result<()> {
    let map = match &args.check {
        Some(path) => OscMap::load(path).map_err(anyhow::Error::msg)?,
        None => OscMap::preset(args.preset, args.universe),
    };
    let json = map.to_json() + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{json}"),
    }
    Ok(())
}
