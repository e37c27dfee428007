//! The editor as a user meets it: the debug `.clap` (with `assert_process_allocs`) under the CLAP
//! harness opens its window embedded in a host window on a private X server (Xvfb, Mesa's
//! software OpenGL) while the demo plays; screenshots show live emotion, the timeline and the
//! status; the Settings tab opens on a click; resizing, closing and reopening keep it drawing and
//! never disturb `process()`. Screenshots land in `target/editor-screenshots/` (the README's are
//! copies of these, looked at by eye).
//!
//! One test in this binary: it sets `DISPLAY` for the process.

use std::path::PathBuf;
use std::time::Duration;

use sentio_host_tests::audio;
use sentio_host_tests::contract::*;
use sentio_host_tests::xvfb::{Rgb, Xvfb, BACKGROUND};
use sentio_host_tests::{paths, ClapHost, OscListener};

/// The overlay's class colours (`plugin/src/editor/theme.rs`).
const CLASS_COLORS: [[u8; 3]; 8] = [
    [0xaa, 0xb4, 0xbf],
    [0x4f, 0xd1, 0xc5],
    [0xff, 0xd2, 0x3f],
    [0x4d, 0x7c, 0xfe],
    [0xff, 0x4d, 0x4f],
    [0xb3, 0x7f, 0xeb],
    [0x8b, 0xc3, 0x4a],
    [0xff, 0x9f, 0x1a],
];

fn shots_dir() -> PathBuf {
    paths::target_dirs()
        .pop()
        .expect("a target dir")
        .join("editor-screenshots")
}

/// A window the editor drew over completely, with real content (not one flat colour).
fn assert_drawn(shot: &Rgb, what: &str) {
    let total = (shot.width * shot.height) as usize;
    let background = shot.count_near(BACKGROUND, 0);
    assert!(
        background * 100 < total,
        "{what}: {background} of {total} pixels still show the host window"
    );
    let colors = shot.distinct_colors();
    assert!(colors > 64, "{what}: only {colors} distinct colours");
}

/// Class colours the picture shows in more than `min` pixels.
fn classes_shown(shot: &Rgb, min: usize) -> Vec<usize> {
    (0..8)
        .filter(|&i| shot.count_near(CLASS_COLORS[i], 6) > min)
        .collect()
}

fn play(host: &mut ClapHost, signal: &[f32]) {
    host.process_paced(signal, 480).expect("process");
}

#[test]
fn editor_shows_live_emotion_and_survives_resizing_and_reopening() {
    let (w, h) = (1280u16, 900u16);
    let x = Xvfb::start(w, h).expect("Xvfb");
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let osc = OscListener::bind().expect("bind");
    let mut host = ClapHost::load(&paths::debug_clap()).expect("load");
    host.set_param(OSC_PORT, port_normalized(osc.port()))
        .expect("osc_port");
    let rate = 48_000u32;
    host.activate(rate as f64, 1, 1024).expect("activate");

    let (window, ew, eh) = open_in_new_window(&mut host, &x);
    assert!(ew >= 760 && eh >= 520, "editor asked for {ew}x{eh}");

    let demo = audio::demo_at(rate);
    let speech = audio::speech_excerpt(&demo, rate, 10.0).to_vec();
    play(&mut host, &speech);
    // The words of the last utterance come a moment later (the debug build transcribes slowly):
    // keep the stream going, as a live input would, until its transcript is out.
    let silence = vec![0.0f32; rate as usize / 4];
    for _ in 0..40 {
        if osc.count("/sentio/transcript") > 0 {
            break;
        }
        play(&mut host, &silence);
    }
    std::thread::sleep(Duration::from_millis(500));
    let live = x.screenshot(ew, eh).expect("screenshot");
    live.save_png(&shots_dir().join("editor-live.png")).unwrap();
    assert_drawn(&live, "live view");
    let shown = classes_shown(&live, 150);
    assert!(
        shown.len() >= 3,
        "the bars and the timeline should show several class colours, saw {shown:?}"
    );
    assert!(
        osc.count("/sentio/emotion/happy") > 0,
        "the model ran while the editor was open"
    );

    // "Calibrate to my voice" (top right) goes through the host like any parameter change: the
    // host sees `calibrate` switch on, and a second click after some speech switches it off.
    let calibrate = host.param("calibrate").expect("calibrate").clone();
    assert_eq!(host.param_value("calibrate").unwrap(), 0.0);
    x.click(ew as i16 - 70, 14).expect("click calibrate");
    play(&mut host, audio::head(&speech, rate, 3.0));
    assert_eq!(
        host.param_value("calibrate").unwrap(),
        calibrate.plain_from_normalized(1.0),
        "the button did not switch calibration on"
    );
    std::thread::sleep(Duration::from_millis(300));
    let calibrating = x.screenshot(ew, eh).expect("screenshot");
    calibrating
        .save_png(&shots_dir().join("editor-calibrating.png"))
        .unwrap();
    x.click(ew as i16 - 70, 14).expect("click apply");
    play(&mut host, audio::head(&speech, rate, 0.5));
    assert_eq!(
        host.param_value("calibrate").unwrap(),
        0.0,
        "the second click did not apply the calibration"
    );

    // "Learn my voice" (left of it) is a menu of the `teach` parameter: open it, pick Happy,
    // speak, pick Off; every choice reaches the host.
    let teach = host.param("teach").expect("teach").clone();
    assert_eq!(
        teach.plain_from_normalized(1.0),
        9.0,
        "Off, 8 emotions, Forget"
    );
    x.click(ew as i16 - TEACH_FROM_RIGHT, 14)
        .expect("open the menu");
    play(&mut host, audio::head(&speech, rate, 0.5));
    std::thread::sleep(Duration::from_millis(300));
    let menu = x.screenshot(ew, eh).expect("screenshot");
    menu.save_png(&shots_dir().join("editor-teach.png"))
        .unwrap();
    x.click(ew as i16 - TEACH_FROM_RIGHT, menu_row(3))
        .expect("pick Happy");
    play(&mut host, audio::head(&speech, rate, 3.0));
    let picked = host.param_value("teach").unwrap();
    assert!(
        (picked - 3.0).abs() < 1e-3,
        "Happy was not picked: {picked}"
    );
    x.click(ew as i16 - TEACH_FROM_RIGHT, 14)
        .expect("open the menu");
    play(&mut host, audio::head(&speech, rate, 0.5));
    x.click(ew as i16 - TEACH_FROM_RIGHT, menu_row(0))
        .expect("pick Off");
    play(&mut host, audio::head(&speech, rate, 0.5));
    let picked = host.param_value("teach").unwrap();
    assert!(picked.abs() < 1e-3, "Off was not picked: {picked}");

    // The Settings tab, as a user clicks it (the tab sits right of the "Sentio" title).
    x.click(140, 16).expect("click");
    play(&mut host, audio::head(&speech, rate, 1.0));
    std::thread::sleep(Duration::from_millis(500));
    let settings = x.screenshot(ew, eh).expect("screenshot");
    settings
        .save_png(&shots_dir().join("editor-settings.png"))
        .unwrap();
    assert_drawn(&settings, "settings view");
    let changed = live
        .pixels()
        .zip(settings.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed * 10 > (ew as usize * eh as usize),
        "the click on Settings changed only {changed} pixels"
    );
    x.click(90, 16).expect("click back to Live");

    // A host resizes the window: the editor follows and fills it.
    let (rw, rh) = (1180u16, 820u16);
    x.resize(window, rw, rh).unwrap();
    let took = host.gui_resize(rw as u32, rh as u32).expect("resize");
    assert_eq!((took.width, took.height), (rw as u32, rh as u32));
    play(&mut host, audio::head(&speech, rate, 2.0));
    std::thread::sleep(Duration::from_millis(500));
    let resized = x.screenshot(rw, rh).expect("screenshot");
    assert_drawn(&resized, "resized editor");

    // Closing and reopening, with audio running in between, three times.
    for round in 0..3 {
        host.gui_close().expect("close");
        play(&mut host, audio::head(&speech, rate, 0.5));
        std::thread::sleep(Duration::from_millis(300));
        let closed = x.screenshot(ew, eh).expect("screenshot");
        assert!(
            closed.count_near(BACKGROUND, 0) * 2 > ew as usize * eh as usize,
            "round {round}: the editor did not close"
        );
        x.resize(window, ew, eh).unwrap();
        host.gui_open_x11(window as u64).expect("reopen");
        play(&mut host, audio::head(&speech, rate, 1.5));
        std::thread::sleep(Duration::from_millis(500));
        let again = x.screenshot(ew, eh).expect("screenshot");
        assert_drawn(&again, &format!("reopened editor, round {round}"));
    }
    host.gui_close().expect("close");
    host.deactivate();
}

/// Opens the editor in a new host window, sized to what the editor asks for.
fn open_in_new_window(host: &mut ClapHost, x: &Xvfb) -> (u32, u16, u16) {
    let parent = x.parent_window(980, 660).expect("parent window");
    let size = host.gui_open_x11(parent as u64).expect("open editor");
    let (w, h) = (size.width as u16, size.height as u16);
    x.resize(parent, w, h).unwrap();
    (parent, w, h)
}

/// Where the "Learn my voice" menu's button sits, from the window's right edge (left of
/// "Calibrate to my voice").
const TEACH_FROM_RIGHT: i16 = 235;

/// The y of the menu's `i`-th entry (Off = 0) once it is open below the button.
fn menu_row(i: i16) -> i16 {
    MENU_TOP + i * MENU_ROW + MENU_ROW / 2
}
const MENU_TOP: i16 = 30;
const MENU_ROW: i16 = 23;
