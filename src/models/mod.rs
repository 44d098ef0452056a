//! The GAN architectures of SPEC.md and the named presets that pair them with their
//! hyper-parameters.

pub mod dcgan;
pub mod mlp;
pub mod net;
pub mod presets;
pub mod toy;

pub use net::Net;
pub use presets::{build, find, presets, Preset};
