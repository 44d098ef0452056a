//! GAN training: configuration, losses, the gradient penalty, the iteration shapes of the
//! presets, the training loop with its run directory, and sampling from finished runs.

pub mod checkpoint;
pub mod config;
pub mod losses;
pub mod outputs;
pub mod penalty;
mod run_dir;
mod run_lock;
pub mod runlog;
pub mod sample;
pub mod step;
pub mod trainer;

pub use config::{toml_error, TrainConfig};
pub use trainer::{Outcome, Trainer};
