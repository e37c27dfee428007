//! Colours and type sizes shared by the editor's views; the class colours are the overlay's, so
//! a streamer sees the same emotion in the same colour on stream and in the DAW.

use egui::Color32;

use crate::emotion::N_CLASSES;

/// In `CLASSES` order (neutral, calm, happy, sad, angry, fearful, disgust, surprised).
pub const CLASS_COLORS: [Color32; N_CLASSES] = [
    Color32::from_rgb(0xaa, 0xb4, 0xbf),
    Color32::from_rgb(0x4f, 0xd1, 0xc5),
    Color32::from_rgb(0xff, 0xd2, 0x3f),
    Color32::from_rgb(0x4d, 0x7c, 0xfe),
    Color32::from_rgb(0xff, 0x4d, 0x4f),
    Color32::from_rgb(0xb3, 0x7f, 0xeb),
    Color32::from_rgb(0x8b, 0xc3, 0x4a),
    Color32::from_rgb(0xff, 0x9f, 0x1a),
];

/// The acoustic class whose colour a text class borrows, in `TEXT_CLASSES` order (anger,
/// disgust, fear, joy, neutral, sadness, surprise).
pub const TEXT_TO_CLASS: [usize; 7] = [4, 6, 5, 2, 0, 3, 7];

pub const PANEL: Color32 = Color32::from_rgb(0x1b, 0x1e, 0x24);
pub const GRID: Color32 = Color32::from_rgb(0x3a, 0x3f, 0x48);
pub const DIM: Color32 = Color32::from_rgb(0x8a, 0x91, 0x9c);
pub const TEXT: Color32 = Color32::from_rgb(0xe8, 0xea, 0xee);
pub const OK: Color32 = Color32::from_rgb(0x5c, 0xd6, 0x7a);
pub const WARN: Color32 = Color32::from_rgb(0xff, 0xb0, 0x3b);

/// `c` with its alpha scaled by `a` (0..1).
pub fn faded(c: Color32, a: f32) -> Color32 {
    let [r, g, b, _] = c.to_array();
    Color32::from_rgba_unmultiplied(r, g, b, (a.clamp(0.0, 1.0) * 255.0) as u8)
}

/// "happy" → "Happy".
pub fn title(name: &str) -> String {
    let mut s = name.to_string();
    if let Some(first) = s.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    s
}
