//! tapegan: a GPU compute engine for training GANs on any GPU wgpu can drive.
//!
//! Layers of the crate, bottom up:
//! - [`gpu`]: adapter choice, device context, buffer pool, pipeline cache, command recording.
//! - [`tensor`]: GPU arrays with explicit readback.
//! - [`ops`]: differentiable ops, each a handwritten WGSL kernel with its backward rule beside it.
//! - [`autograd`]: the tape and [`grad`], with gradients of gradients.
//! - [`nn`]: layers with PyTorch `state_dict` names; [`optim`]: fused optimizer updates.

pub mod autograd;
pub mod data;
pub mod error;
pub mod gan;
pub mod gpu;
pub mod io;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;

pub use autograd::{grad, grad_with, no_grad, GradOptions};
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use ops::{losses, Compare, Generator};
pub use tensor::{DType, Tensor};
