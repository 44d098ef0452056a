//! Optimizers: Adam (PyTorch's or Keras' ε placement), RMSprop and SGD, with Keras-style time
//! decay of the learning rate and WGAN weight clipping. Each step is one fused kernel dispatch
//! per parameter tensor that updates the parameter and its moment buffers in place.

mod update;

pub use update::{Algorithm, OptimConfig, Optimizer};
