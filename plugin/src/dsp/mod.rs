//! The feature front end: everything between host audio and a feature frame.
//!
//! This is the single implementation used by the plugin's audio thread, the command-line tools
//! and model training, so a model always sees exactly the features it was trained on.

pub mod capture;
pub mod config;
pub mod frontend;
pub mod mel;
pub mod resample;
pub mod sanitize;

pub use capture::Capture;
pub use config::*;
pub use frontend::{FeatureFrame, FrontEnd};
