//! Optimizers: Adam (PyTorch's or Keras' ε placement), RMSprop and SGD, with Keras-style time
//! decay of the learning rate and WGAN weight clipping. Each step updates the parameters and their
//! moment buffers in place in one pass, batching many tensors into each kernel dispatch.

mod fused;
mod update;

pub use update::{Algorithm, OptimConfig, Optimizer};
