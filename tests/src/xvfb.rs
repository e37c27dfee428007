//! A private X server (Xvfb) for GUI tests, a parent window to embed an editor in (as a DAW
//! does), screenshots read back with `GetImage`, and clicks through the XTEST extension.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConfigureWindowAux, ConnectionExt as _, CreateWindowAux, ImageFormat, WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// The parent window's background: any of it left visible is a part the editor did not draw.
pub const BACKGROUND: [u8; 3] = [0xff, 0x00, 0xff];

pub struct Xvfb {
    child: Child,
    pub display: String,
    conn: RustConnection,
    root: u32,
    depth: u8,
    visual: u32,
}

impl Xvfb {
    /// Starts Xvfb on a display it picks itself (`-displayfd`), 24-bit, `width` × `height`.
    pub fn start(width: u16, height: u16) -> Result<Self> {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0"])
            .arg(format!("{width}x{height}x24"))
            .args(["-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start Xvfb (`cargo xtask test` installs it: package xvfb)")?;
        // Xvfb writes the display number it took once it is ready for clients.
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("piped")),
            &mut line,
        )?;
        let n: u32 = line
            .trim()
            .parse()
            .map_err(|_| anyhow!("Xvfb did not report its display (got {line:?})"))?;
        let display = format!(":{n}");
        let t0 = Instant::now();
        let conn = loop {
            match RustConnection::connect(Some(&display)) {
                Ok((conn, _)) => break conn,
                Err(e) if t0.elapsed() > Duration::from_secs(10) => {
                    bail!("Xvfb on {display} never accepted a connection: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let screen = &conn.setup().roots[0];
        let (root, depth, visual) = (screen.root, screen.root_depth, screen.root_visual);
        Ok(Self {
            child,
            display,
            conn,
            root,
            depth,
            visual,
        })
    }

    /// A mapped top-level window filled with [`BACKGROUND`], at the top-left corner.
    pub fn parent_window(&self, width: u16, height: u16) -> Result<u32> {
        let id = self.conn.generate_id()?;
        let [r, g, b] = BACKGROUND;
        self.conn.create_window(
            self.depth,
            id,
            self.root,
            0,
            0,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            self.visual,
            &CreateWindowAux::new()
                .background_pixel(((r as u32) << 16) | ((g as u32) << 8) | b as u32),
        )?;
        self.conn.map_window(id)?;
        // A round trip: the server has made the window before anyone else (the plugin, on its
        // own connection) can name it as a parent.
        self.conn.get_input_focus()?.reply()?;
        Ok(id)
    }

    pub fn resize(&self, window: u32, width: u16, height: u16) -> Result<()> {
        self.conn.configure_window(
            window,
            &ConfigureWindowAux::new()
                .width(width as u32)
                .height(height as u32),
        )?;
        self.conn.flush()?;
        Ok(())
    }

    /// The screen's pixels in `width` × `height` from the top-left corner, as RGB.
    pub fn screenshot(&self, width: u16, height: u16) -> Result<Rgb> {
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, 0, 0, width, height, !0)?
            .reply()?;
        // 24-bit depth in 32-bit pixels, little-endian BGRX.
        let data = reply.data;
        if data.len() < width as usize * height as usize * 4 {
            bail!("GetImage returned {} bytes", data.len());
        }
        let rgb = data
            .chunks_exact(4)
            .take(width as usize * height as usize)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        Ok(Rgb {
            width: width as u32,
            height: height as u32,
            data: rgb,
        })
    }

    /// A left click at (x, y) on the screen.
    pub fn click(&self, x: i16, y: i16) -> Result<()> {
        const MOTION: u8 = 6;
        const PRESS: u8 = 4;
        const RELEASE: u8 = 5;
        self.conn
            .xtest_fake_input(MOTION, 0, 0, self.root, x, y, 0)?;
        self.conn.flush()?;
        std::thread::sleep(Duration::from_millis(100));
        self.conn
            .xtest_fake_input(PRESS, 1, 0, self.root, 0, 0, 0)?;
        self.conn.flush()?;
        std::thread::sleep(Duration::from_millis(60));
        self.conn
            .xtest_fake_input(RELEASE, 1, 0, self.root, 0, 0, 0)?;
        self.conn.flush()?;
        Ok(())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, so Xvfb removes its socket and lock file (SIGKILL would leave them behind).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RGB image.
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Rgb {
    pub fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.data.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }

    /// Pixels within `tolerance` (per channel) of `color`.
    pub fn count_near(&self, color: [u8; 3], tolerance: u8) -> usize {
        self.pixels()
            .filter(|p| (0..3).all(|i| p[i].abs_diff(color[i]) <= tolerance))
            .count()
    }

    pub fn distinct_colors(&self) -> usize {
        self.pixels()
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    pub fn save_png(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut enc = png::Encoder::new(file, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&self.data)?;
        Ok(())
    }
}
