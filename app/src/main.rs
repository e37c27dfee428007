//! `sentio-app`: Sentio as a standalone program for users without a DAW (streamers on OBS, whose
//! built-in plugin host loads only VST 2). nice-plug's standalone wrapper runs the plugin on JACK
//! or ALSA (`--backend auto|jack|alsa|dummy`, `--input-device`, `--sample-rate`, `--period-size`)
//! with its editor; everything else (OSC, MIDI, overlay, OSCQuery) is the plugin's own.
//!
//! Sentio's own flags come first and are removed before the wrapper parses the rest:
//! `--no-editor` (also chosen when there is no display), `--osc HOST:PORT`, `--overlay-port N`.

use std::process::ExitCode;

use sentio::standalone::{self, AppDefaults};

const HELP: &str = "\
Sentio's own options:
      --no-editor            Run without a window (chosen anyway when there is no display)
      --osc <HOST:PORT>      Send OSC here (default 127.0.0.1:9000; the editor can change it)
      --overlay-port <PORT>  Serve the OBS overlay on this loopback port (default 9191)
";

fn parse(args: Vec<String>) -> Result<(AppDefaults, Vec<String>), String> {
    let mut defaults = AppDefaults::default();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    rest.extend(it.next());
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--no-editor" => defaults.headless = true,
            "--osc" => {
                let v = value("--osc")?;
                let (host, port) = v
                    .rsplit_once(':')
                    .ok_or_else(|| format!("--osc {v}: expected HOST:PORT"))?;
                defaults.osc_host = Some(host.to_string());
                defaults.osc_port = Some(
                    port.parse()
                        .map_err(|_| format!("--osc {v}: {port} is not a port"))?,
                );
            }
            "--overlay-port" => {
                let v = value("--overlay-port")?;
                defaults.overlay_port = Some(
                    v.parse()
                        .map_err(|_| format!("--overlay-port {v}: not a port"))?,
                );
            }
            "-h" | "--help" => {
                print!("{HELP}\nnice-plug's standalone options:\n");
                rest.push(arg);
            }
            _ => rest.push(arg),
        }
    }
    Ok((defaults, rest))
}

fn main() -> ExitCode {
    let (mut defaults, args) = match parse(std::env::args().collect()) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
        && !defaults.headless
    {
        eprintln!("sentio-app: no display, running without the editor (stop with Ctrl+C)");
        defaults.headless = true;
    }
    standalone::set(defaults);
    if nice_plug::wrapper::standalone::nice_export_standalone_with_args::<sentio::Sentio, _>(args) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn own_flags_are_taken_and_the_rest_passed_on() {
        let (d, rest) = parse(args(
            "sentio-app --backend dummy --osc 127.0.0.1:9123 --overlay-port=9300 --no-editor -r 44100",
        ))
        .unwrap();
        assert!(d.headless);
        assert_eq!(d.osc_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(d.osc_port, Some(9123));
        assert_eq!(d.overlay_port, Some(9300));
        assert_eq!(rest, args("sentio-app --backend dummy -r 44100"));
    }

    #[test]
    fn bad_values_are_named() {
        assert!(parse(args("a --osc nope"))
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(parse(args("a --osc h:99999"))
            .unwrap_err()
            .contains("not a port"));
        assert!(parse(args("a --overlay-port"))
            .unwrap_err()
            .contains("needs a value"));
    }
}
