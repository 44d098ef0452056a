//! Dropout: in training, zero each element with probability p and scale the rest by 1/(1−p)
//! (inverted dropout, as PyTorch and Keras); identity in evaluation.

use super::{Ctx, Module, Named};
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

    /// The scaled keep-mask this layer would multiply by: {0, 1/(1−p)} drawn from `ctx.rng`.
    pub fn mask(&self, shape: &[usize], ctx: &mut Ctx, gpu: &crate::gpu::Gpu) -> Result<Tensor> {
        let keep = 1.0 - self.p;
        ctx.rng.bernoulli_value(gpu, shape, keep, 1.0 / keep)
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        if !ctx.train || self.p == 0.0 {
            return Ok(x.clone());
        }
        // The mask is a constant of the graph: x·mask differentiates to any order.
        let mask = self.mask(x.shape(), ctx, x.gpu())?;
        x.mul(&mask)
    }

    fn collect(&self, _prefix: &str, _out: &mut Vec<Named>) {}

    fn describe(&self) -> String {
        format!("Dropout({})", self.p)
    }
}
