//! Inverted dropout, optionally after a leaky ReLU, as one differentiable op
//! (`shaders/dropout.wgsl`).
//!
//! Dropout and leaky ReLU run as three dispatches when composed (a Bernoulli draw, the
//! activation, the mask multiply) and two more in backward. Fused, the forward is one kernel
//! that writes y = act(x)·m and the factor c = act'(x)·m, and the backward is one product
//! g·c. Because act(x) = x·act'(x), y = x·c with c a constant of the graph: the recorded
//! backward is an ordinary product with a constant and differentiates to any order (the
//! WGAN-GP critics of the MLP presets run it inside their gradient penalty).
//!
//! The keep mask is the one [`Generator::bernoulli_value`] draws from the same generator
//! state, and the generator advances by the same number of counters, so a model's forward
//! pass computes the same numbers fused or not. Gradients agree to rounding: g·(slope·scale)
//! here against slope·(g·scale) unfused, identical when 1/(1 − p) is a power of two (p = 0.5,
//! the presets' value).

use super::random::Draw;
use super::{bytes_of, Generator};
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const DROPOUT: Kernel = kernel!("dropout", "philox.wgsl", "dropout.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    draw: Draw,
    keep: f32,
    scale: f32,
    slope: f32,
}

impl Tensor {
    /// Inverted dropout of `leaky_relu(self, slope)`: each element is zeroed with probability
    /// `p` and the rest are scaled by 1/(1 − p), in one kernel. `slope` 1 is plain dropout
    /// and 0 a ReLU. The mask comes from `rng` and advances it as
    /// [`Generator::bernoulli_value`] does. Backward: g · act'(x) · mask.
    pub fn leaky_relu_dropout(&self, slope: f32, p: f32, rng: &mut Generator) -> Result<Tensor> {
        const OP: &str = "leaky_relu_dropout";
        self.expect_dtype(OP, DType::F32)?;
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config(format!(
                "{OP}: dropout probability {p} must be in [0, 1)"
            )));
        }
        if !slope.is_finite() {
            return Err(Error::Config(format!(
                "{OP}: slope {slope} must be a finite number"
            )));
        }
        let y = Tensor::empty(self.gpu(), self.shape(), DType::F32, OP)?;
        let c = Tensor::empty(self.gpu(), self.shape(), DType::F32, OP)?;
        let (draw, blocks) = rng.reserve(OP, self.numel())?;
        let keep = 1.0 - p;
        let params = DropoutParams {
            draw,
            keep,
            scale: 1.0 / keep,
            slope,
        };
        if blocks > 0 {
            self.gpu().launch(
                &DROPOUT,
                &[],
                bytes_of(&params),
                &[self.storage(), y.storage(), c.storage()],
                grid(blocks, 256),
            )?;
        }
        let op = if slope == 1.0 {
            "dropout"
        } else {
            "leaky_relu_dropout"
        };
        Ok(y.record(op, &[self], move |b| {
            Ok(vec![if b.needs[0] {
                Some(b.grad.mul(&c)?)
            } else {
                None
            }])
        }))
    }
}
