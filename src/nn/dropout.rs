//! Dropout: in training, zero each element with probability p and scale the rest by 1/(1−p)
//! (inverted dropout, as PyTorch and Keras); identity in evaluation.
//!
//! Training with p > 0 runs [`Tensor::leaky_relu_dropout`]: one kernel draws the mask and
//! applies it. After a ReLU or leaky ReLU in a [`super::Sequential`], the activation joins
//! that kernel.

use super::{Activation, Ctx, Module, Named};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct Dropout {
    pub p: f32,
}

impl Dropout {
    pub fn new(p: f32) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config(format!(
                "dropout probability {p} must be in [0, 1)"
            )));
        }
        Ok(Dropout { p })
    }

    /// The scaled keep-mask {0, 1/(1−p)} a training forward pass with p > 0 applies when
    /// `ctx.rng` is in its state: the same draw.
    pub fn mask(&self, shape: &[usize], ctx: &mut Ctx, gpu: &crate::gpu::Gpu) -> Result<Tensor> {
        let keep = 1.0 - self.p;
        ctx.rng.bernoulli_value(gpu, shape, keep, 1.0 / keep)
    }
}

impl Dropout {
    /// The slope of `act` when this layer runs it in its own kernel: ReLU or a finite leaky
    /// ReLU, in training with p > 0.
    fn fused_slope(&self, act: Activation, train: bool) -> Option<f32> {
        if !train || self.p == 0.0 {
            return None;
        }
        match act {
            Activation::Relu => Some(0.0),
            Activation::LeakyRelu(a) if a.is_finite() => Some(a),
            _ => None,
        }
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        if !ctx.train || self.p == 0.0 {
            return Ok(x.clone());
        }
        // Slope 1: no activation. The mask is a constant of the graph.
        x.leaky_relu_dropout(1.0, self.p, ctx.rng)
    }

    fn takes_activation(&self, act: Activation, train: bool) -> bool {
        self.fused_slope(act, train).is_some()
    }

    fn forward_after(&self, x: &Tensor, ctx: &mut Ctx, act: Activation) -> Option<Result<Tensor>> {
        let slope = self.fused_slope(act, ctx.train)?;
        Some(x.leaky_relu_dropout(slope, self.p, ctx.rng))
    }

    fn collect(&self, _prefix: &str, _out: &mut Vec<Named>) {}

    fn per_sample(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("Dropout({})", self.p)
    }
}
