//! Instance normalisation (InstanceNorm2d with PyTorch's defaults: no affine parameters, no
//! running statistics): each (sample, channel) plane is normalised by its own mean and biased
//! variance, in training and evaluation alike. The fused op's backward is recorded in composed
//! form when needed, so a critic under a gradient penalty differentiates through it twice.

use super::{Activation, Ctx, Module, Named};
use crate::error::{Error, Result};
use crate::ops::NormKind;
use crate::tensor::Tensor;

pub struct InstanceNorm {
    pub channels: usize,
    pub eps: f32,
}

impl InstanceNorm {
    pub fn new(channels: usize) -> InstanceNorm {
        InstanceNorm {
            channels,
            eps: 1e-5,
        }
    }
}

impl InstanceNorm {
    fn check(&self, x: &Tensor) -> Result<()> {
        if x.rank() != 4 || x.shape()[1] != self.channels {
            return Err(Error::shape(
                "InstanceNorm",
                format!("expects [N, {}, H, W], got {:?}", self.channels, x.shape()),
            ));
        }
        Ok(())
    }
}

impl Module for InstanceNorm {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        self.check(x)?;
        x.normalize(NormKind::Instance, None, None, self.eps, None)
    }

    fn forward_activated(
        &self,
        x: &Tensor,
        _ctx: &mut Ctx,
        act: Activation,
    ) -> Option<Result<Tensor>> {
        // Same in training and evaluation: always the statistics of the input.
        let slope = act.leaky_slope()?;
        Some(self.check(x).and_then(|_| {
            x.normalize_leaky_relu(NormKind::Instance, None, None, self.eps, None, slope)
        }))
    }

    fn collect(&self, _prefix: &str, _out: &mut Vec<Named>) {}

    fn per_sample(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("InstanceNorm({})", self.channels)
    }
}
