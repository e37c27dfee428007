//! `sentio analyze FILE`: the plugin's analysis chain over a file, printed as a timeline.

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::decode::decode;
use super::{AnalyzeArgs, Format};
use crate::emotion::CLASSES;
use crate::output::http::{is_loopback_host, parse_listen, ServeSettings, Server};
use crate::output::osc::{OscEncoder, OscSender, OscSettings};
use crate::output::osc_map::OscMap;
use crate::output::oscquery::OscQuery;
use crate::output::overlay::OverlayServer;
use crate::pipeline::Pipeline;
use crate::state::{Outputs, SharedState, Status};
use crate::text::TEXT_CLASSES;
use crate::transcript::Transcript;

#[derive(Serialize)]
struct Row {
    t: f64,
    voice: f32,
    level_db: f32,
    pitch_hz: f32,
    /// Absent until the model has classified a window (or when no model runs).
    emotion: Option<EmotionRow>,
    /// With `--speech`: the text's share of the emotion probabilities (0: voice only).
    #[serde(skip_serializing_if = "Option::is_none")]
    text_share: Option<f32>,
    /// With `--speech`: utterances whose transcript was finished during this row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transcripts: Vec<TranscriptRow>,
}

#[derive(Serialize)]
struct TranscriptRow {
    start: f64,
    end: f64,
    text: String,
    /// `null` when the words carried no evidence (an unsure single word).
    text_probs: Option<std::collections::BTreeMap<&'static str, f32>>,
}

impl From<&Transcript> for TranscriptRow {
    fn from(t: &Transcript) -> Self {
        Self {
            start: t.start_s,
            end: t.end_s,
            text: t.text.clone(),
            text_probs: t
                .probs
                .map(|p| TEXT_CLASSES.iter().copied().zip(p).collect()),
        }
    }
}

#[derive(Serialize)]
struct EmotionRow {
    dominant: &'static str,
    /// The dominant class's calibrated probability (as OSC `/sentio/confidence`, MIDI CC 34).
    confidence: f32,
    valence: f32,
    arousal: f32,
    probs: std::collections::BTreeMap<&'static str, f32>,
}

impl Row {
    fn new(t: f64, o: &Outputs, updates: u64) -> Self {
        Self {
            t,
            voice: o.voice,
            level_db: o.level_db,
            pitch_hz: o.pitch_hz,
            emotion: o.emotion.filter(|_| updates > 0).map(|e| EmotionRow {
                dominant: CLASSES[e.dominant],
                confidence: e.probs[e.dominant],
                valence: e.valence,
                arousal: e.arousal,
                probs: CLASSES.iter().copied().zip(e.probs).collect(),
            }),
            text_share: None,
            transcripts: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    sample_rate: u32,
    channels: usize,
    duration_s: f64,
    interval_ms: u32,
    timeline: &'a [Row],
    status: &'a Status,
}

fn parse_target(target: &str) -> Result<(String, u16)> {
    let (host, port) = target
        .rsplit_once(':')
        .with_context(|| format!("--osc expects HOST:PORT, got {target:?}"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--osc: invalid port {port:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), port))
}

/// The local servers `analyze` was asked for, running until the analysis ends.
struct Servers {
    _overlay: Option<OverlayServer>,
    _oscquery: Option<Server>,
    _mdns: Option<crate::output::mdns::Announcement>,
}

fn listen_settings(flag: &str, text: &str, default_port: u16) -> Result<ServeSettings> {
    let (host, port) =
        parse_listen(text, default_port).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    if !is_loopback_host(&host) {
        eprintln!("warning: {flag} {host}:{port} is reachable from other machines on your network");
    }
    Ok(ServeSettings {
        enabled: true,
        host,
        port,
    })
}

fn start_servers(
    args: &AnalyzeArgs,
    shared: &Arc<SharedState>,
    osc: OscSettings,
) -> Result<Servers> {
    let overlay = match &args.overlay {
        Some(text) => {
            let settings =
                listen_settings("--overlay", text, crate::output::overlay::DEFAULT_PORT)?;
            let server = OverlayServer::spawn(shared.clone(), move || settings.clone())?;
            let addr = server
                .wait_bound(Duration::from_secs(2))
                .with_context(|| format!("overlay: {}", shared.status().overlay_state))?;
            eprintln!("overlay: http://{addr}/?theme=bars (also badge, circumplex, captions)");
            Some(server)
        }
        None => None,
    };
    let (oscquery, mdns) = match &args.oscquery {
        Some(text) => {
            let settings =
                listen_settings("--oscquery", text, crate::output::oscquery::DEFAULT_PORT)?;
            let report_to = shared.clone();
            let server = Server::spawn(
                "OSCQuery",
                Arc::new(OscQuery::new(shared.clone(), move || osc.clone())),
                move || settings.clone(),
                Box::new(move |text, problem| report_to.set_oscquery_state(text, problem)),
            )?;
            let addr = server
                .wait_bound(Duration::from_secs(2))
                .with_context(|| format!("OSCQuery: {}", shared.status().oscquery_state))?;
            eprintln!("OSCQuery: http://{addr}/");
            let mdns = if args.mdns {
                {
                    let a = crate::output::mdns::Announcement::start(addr)
                        .map_err(anyhow::Error::msg)?;
                    eprintln!("mDNS: announced {} on the local network", a.fullname());
                    Some(a)
                }
            } else {
                None
            };
            (Some(server), mdns)
        }
        None => (None, None),
    };
    Ok(Servers {
        _overlay: overlay,
        _oscquery: oscquery,
        _mdns: mdns,
    })
}

pub fn run(args: &AnalyzeArgs) -> Result<()> {
    let audio = decode(&args.file)?;
    let map = match (&args.osc_map, args.osc_preset) {
        (Some(path), _) => OscMap::load(path).map_err(anyhow::Error::msg)?,
        (None, Some(preset)) => OscMap::preset(preset, 1),
        (None, None) => OscMap::default(),
    };
    let mut encoder = OscEncoder::new(map.clone(), &args.osc_prefix).map_err(anyhow::Error::msg)?;
    let mut osc_settings = OscSettings {
        prefix: args.osc_prefix.clone(),
        map,
        ..OscSettings::default()
    };
    let mut osc = match &args.osc {
        Some(target) => {
            let (host, port) = parse_target(target)?;
            let mut sender = OscSender::default();
            sender.connect(&host, port).map_err(anyhow::Error::msg)?;
            osc_settings.host = host;
            osc_settings.port = port;
            Some(sender)
        }
        None => None,
    };

    let shared = Arc::new(SharedState::new());
    let _servers = start_servers(args, &shared, osc_settings)?;
    let speech = args.speech.speech;
    let mut pipeline = Pipeline::new(
        audio.sample_rate as f32,
        shared.clone(),
        args.model.worker_config(args.speech.text_weight)?,
        args.speech.config(args.model.device, !args.realtime),
    )?;
    let mut transcript_seq = 0;
    let mut partial_seq = 0;
    let step = ((audio.sample_rate as u64 * args.interval_ms as u64) / 1000).max(1) as usize;
    let mut stdout = std::io::stdout().lock();
    let mut rows = Vec::new();
    let mut warned = false;
    let mut warned_model = false;

    if args.format == Format::Table {
        writeln!(
            stdout,
            "{} — {:.1} s, {} Hz, {} channel(s)",
            args.file.display(),
            audio.duration_s(),
            audio.sample_rate,
            audio.channels.len()
        )?;
        writeln!(
            stdout,
            "{:>8}  {:<22} {:>10}  {:>8}  {:<16} {:>7} {:>7}",
            "time", "voice", "level dBFS", "pitch Hz", "emotion", "valence", "arousal"
        )?;
    } else if args.format == Format::Csv {
        writeln!(
            stdout,
            "t,voice,level_db,pitch_hz,dominant,valence,arousal,{}{}",
            CLASSES.join(","),
            if speech { ",text_share,transcript" } else { "" }
        )?;
    }

    let started = Instant::now();
    let mut start = 0;
    while start < audio.frames() {
        let end = (start + step).min(audio.frames());
        let block: Vec<&[f32]> = audio.channels.iter().map(|c| &c[start..end]).collect();
        pipeline.feed(&block);
        let out = if end == audio.frames() {
            // The last row: close and transcribe the utterance still in progress.
            pipeline.finish()?
        } else if speech && !args.realtime {
            pipeline.sync_speech()?
        } else {
            pipeline.sync()?
        };
        if !warned_model {
            warned_model = true;
            let st = shared.status();
            if !args.model.no_model && !st.model_active {
                eprintln!(
                    "warning: emotion model {} (voice, level and pitch continue)",
                    st.model_state
                );
            }
        }
        let t = end as f64 / audio.sample_rate as f64;
        if args.realtime {
            let due = Duration::from_secs_f64(t);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let fresh = shared.transcripts_since(transcript_seq);
        if let Some(last) = fresh.last() {
            transcript_seq = last.seq;
        }
        // Partials exist only live (`--realtime`); each goes out once.
        let partial = shared.partial_since(partial_seq);
        if let Some(p) = &partial {
            partial_seq = p.seq;
        }
        if let Some(sender) = osc.as_mut() {
            let texts: Vec<String> = fresh.iter().map(|t| t.text.clone()).collect();
            let partial = partial.as_ref().map(|p| p.text.as_str());
            let packets = encoder.encode(t, &out, &shared.status(), &texts, partial);
            match packets.iter().try_for_each(|p| sender.send(p)) {
                Ok(()) => {
                    shared.osc_sent.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    shared.osc_errors.fetch_add(1, Relaxed);
                    shared.set_osc_state(e.clone());
                    if !warned {
                        eprintln!("warning: {e} (analysis continues)");
                        warned = true;
                    }
                }
            }
        }
        let mut row = Row::new(t, &out, shared.emotion_updates.load(Relaxed));
        if speech {
            row.text_share = Some(shared.text_share.load(Relaxed));
            row.transcripts = fresh.iter().map(TranscriptRow::from).collect();
        }
        print_row(&mut stdout, args.format, &row, speech)?;
        rows.push(row);
        start = end;
    }

    if osc.is_some() && shared.osc_errors.load(Relaxed) == 0 {
        shared.set_osc_state(format!(
            "sent to {}",
            args.osc.as_deref().unwrap_or_default()
        ));
    }
    let status = shared.status();
    if speech && !status.speech_active {
        eprintln!(
            "warning: speech {} (the rest of the analysis ran)",
            status.speech_state
        );
    }
    match args.format {
        Format::Table => writeln!(stdout, "status: {status}")?,
        Format::Csv => eprintln!("status: {status}"),
        Format::Json => {
            let report = Report {
                file: args.file.display().to_string(),
                sample_rate: audio.sample_rate,
                channels: audio.channels.len(),
                duration_s: audio.duration_s(),
                interval_ms: args.interval_ms,
                timeline: &rows,
                status: &status,
            };
            serde_json::to_writer(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
    }
    Ok(())
}

fn print_row(w: &mut impl Write, format: Format, r: &Row, speech: bool) -> Result<()> {
    match format {
        Format::Table => {
            let bar = "█".repeat((r.voice.clamp(0.0, 1.0) * 16.0).round() as usize);
            let pitch = if r.pitch_hz > 0.0 {
                format!("{:.0}", r.pitch_hz)
            } else {
                "—".into()
            };
            let emotion = match &r.emotion {
                Some(e) => format!(
                    "{:<10} {:>4.0}%  {:>+6.2}  {:>+6.2}",
                    e.dominant,
                    e.probs[e.dominant] * 100.0,
                    e.valence,
                    e.arousal
                ),
                None => "—".into(),
            };
            writeln!(
                w,
                "{:>7.2}s  {:.2} {bar:<17} {:>10.1}  {pitch:>8}  {emotion}",
                r.t, r.voice, r.level_db
            )?;
            for t in &r.transcripts {
                let words = match t
                    .text_probs
                    .iter()
                    .flatten()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                {
                    Some((class, p)) => format!("words: {class} {:.0}%", p * 100.0),
                    None => "no text evidence".into(),
                };
                writeln!(
                    w,
                    "          » {:.2}–{:.2}s \"{}\"  ({words})",
                    t.start, t.end, t.text,
                )?;
            }
            w.flush()?;
        }
        Format::Csv => {
            write!(
                w,
                "{:.3},{:.4},{:.2},{:.1}",
                r.t, r.voice, r.level_db, r.pitch_hz
            )?;
            match &r.emotion {
                Some(e) => {
                    write!(w, ",{},{:.4},{:.4}", e.dominant, e.valence, e.arousal)?;
                    for c in CLASSES {
                        write!(w, ",{:.4}", e.probs[c])?;
                    }
                }
                None => write!(w, ",,,{}", ",".repeat(CLASSES.len()))?,
            }
            if speech {
                let text: Vec<&str> = r.transcripts.iter().map(|t| t.text.as_str()).collect();
                write!(
                    w,
                    ",{:.4},\"{}\"",
                    r.text_share.unwrap_or(0.0),
                    text.join(" ").replace('"', "\"\"")
                )?;
            }
            writeln!(w)?;
        }
        Format::Json => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc_targets_parse() {
        assert_eq!(
            parse_target("127.0.0.1:9000").unwrap(),
            ("127.0.0.1".into(), 9000)
        );
        assert_eq!(parse_target("[::1]:9001").unwrap(), ("::1".into(), 9001));
        assert!(parse_target("localhost").is_err());
        assert!(parse_target("host:99999").is_err());
    }
}
