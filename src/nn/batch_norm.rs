//! Batch normalisation over `[N, C]`, `[N, C, L]` or `[N, C, H, W]` inputs (BatchNorm1d/2d).
//!
//! Training: normalise with the batch mean and the biased batch variance, then update the
//! running statistics with `momentum` (PyTorch convention: new = (1−m)·old + m·batch), using
//! the unbiased variance for `running_var` as PyTorch does (Keras uses the biased one; see
//! [`NormConfig::keras`]). Evaluation: normalise with the running statistics.
//! NOTE: ε is added to the variance inside the square root: (x − μ)/√(σ² + ε), as both do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{key, Activation, Ctx, Entry, Module, Named};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::{Generator, NormKind, Running};
use crate::tensor::Tensor;

/// ε, momentum and variance convention of a batch-norm layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormConfig {
    pub eps: f32,
    /// PyTorch's momentum (Keras' momentum 0.99 is 0.01 here).
    pub momentum: f32,
    /// Update `running_var` with the unbiased batch variance (PyTorch) or the biased one (Keras).
    pub unbiased_running_var: bool,
}

impl NormConfig {
    /// PyTorch defaults: eps 1e-5, momentum 0.1, unbiased running variance.
    pub fn pytorch() -> Self {
        NormConfig {
            eps: 1e-5,
            momentum: 0.1,
            unbiased_running_var: true,
        }
    }

    /// Keras defaults: eps 1e-3, momentum 0.99 (= 0.01 in PyTorch's convention), biased.
    pub fn keras() -> Self {
        NormConfig {
            eps: 1e-3,
            momentum: 0.01,
            unbiased_running_var: false,
        }
    }
}

pub struct BatchNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub num_batches_tracked: Arc<AtomicU64>,
    pub channels: usize,
    pub config: NormConfig,
}

impl BatchNorm {
    /// Weight 1, bias 0 (PyTorch's initialisation).
    pub fn new(gpu: &Gpu, channels: usize, config: NormConfig) -> Result<BatchNorm> {
        Ok(BatchNorm {
            weight: Tensor::ones(gpu, &[channels])?.with_grad()?,
            bias: Tensor::zeros(gpu, &[channels])?.with_grad()?,
            running_mean: Tensor::zeros(gpu, &[channels])?,
            running_var: Tensor::ones(gpu, &[channels])?,
            num_batches_tracked: Arc::new(AtomicU64::new(0)),
            channels,
            config,
        })
    }

    /// Weight N(1, std), bias 0: the DCGAN initialisation.
    pub fn new_normal(
        gpu: &Gpu,
        channels: usize,
        config: NormConfig,
        std: f32,
        rng: &mut Generator,
    ) -> Result<BatchNorm> {
        let bn = BatchNorm::new(gpu, channels, config)?;
        bn.weight
            .write(&rng.normal(gpu, &[channels], 1.0, std)?.to_vec()?)?;
        Ok(bn)
    }

    /// Shape that broadcasts a per-channel vector against `x`.
    fn channel_shape(&self, x: &Tensor) -> Result<Vec<usize>> {
        if x.rank() < 2 || x.shape()[1] != self.channels {
            return Err(Error::shape(
                "BatchNorm",
                format!("expects [N, {}, ...], got {:?}", self.channels, x.shape()),
            ));
        }
        let mut s = vec![1; x.rank()];
        s[1] = self.channels;
        Ok(s)
    }

    /// Training forward with the batch statistics, then a leaky ReLU of `slope` when given
    /// (fused into the normalisation's passes).
    fn forward_train(&self, x: &Tensor, slope: Option<f32>) -> Result<Tensor> {
        let running = Running {
            mean: &self.running_mean,
            var: &self.running_var,
            momentum: self.config.momentum,
            unbiased: self.config.unbiased_running_var,
        };
        let (w, b, eps) = (Some(&self.weight), Some(&self.bias), self.config.eps);
        let y = match slope {
            Some(a) => x.normalize_leaky_relu(NormKind::Batch, w, b, eps, Some(running), a)?,
            None => x.normalize(NormKind::Batch, w, b, eps, Some(running))?,
        };
        self.num_batches_tracked.fetch_add(1, Ordering::Relaxed);
        Ok(y)
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.channel_shape(x)?;
        if !ctx.train {
            return x.normalize_with(
                &self.running_mean,
                &self.running_var,
                Some(&self.weight),
                Some(&self.bias),
                self.config.eps,
            );
        }
        self.forward_train(x, None)
    }

    fn forward_activated(
        &self,
        x: &Tensor,
        ctx: &mut Ctx,
        act: Activation,
    ) -> Option<Result<Tensor>> {
        // Evaluation mode normalises with the running statistics; that path is not fused.
        let slope = act.leaky_slope().filter(|_| ctx.train)?;
        Some(
            self.channel_shape(x)
                .and_then(|_| self.forward_train(x, Some(slope))),
        )
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        let p = |n: &str, e: Entry| Named {
            name: key(prefix, n),
            entry: e,
        };
        out.push(p("weight", Entry::Param(self.weight.clone())));
        out.push(p("bias", Entry::Param(self.bias.clone())));
        out.push(p("running_mean", Entry::Buffer(self.running_mean.clone())));
        out.push(p("running_var", Entry::Buffer(self.running_var.clone())));
        out.push(p(
            "num_batches_tracked",
            Entry::Counter(self.num_batches_tracked.clone()),
        ));
    }

    fn describe(&self) -> String {
        format!(
            "BatchNorm({}, eps={}, momentum={})",
            self.channels, self.config.eps, self.config.momentum
        )
    }
}
