//! Fully connected layer: y = x·Wᵀ + b with W `[out, in]` (PyTorch layout).

use super::init::{self, Init};
use super::{key, Activation, Ctx, Entry, Module, Named, SpectralNorm};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::Generator;
use crate::tensor::Tensor;

/// `Dense(n)` / `nn.Linear(in, out)`.
pub struct Linear {
    pub weight: Weight,
    pub bias: Option<Tensor>,
    pub in_features: usize,
    pub out_features: usize,
}

/// A layer's weight: a plain parameter, or one reparameterised by spectral normalisation.
pub enum Weight {
    Plain(Tensor),
    Spectral(SpectralNorm),
}

impl Weight {
    /// The weight to use in this forward pass (W, or W/σ(W) under spectral norm).
    pub fn get(&self, ctx: &mut Ctx) -> Result<Tensor> {
        match self {
            Weight::Plain(w) => Ok(w.clone()),
            Weight::Spectral(sn) => sn.weight(ctx.train),
        }
    }

    /// Whether the weight is a plain parameter (no spectral norm, which steps its power
    /// iteration in every training forward).
    pub fn is_plain(&self) -> bool {
        matches!(self, Weight::Plain(_))
    }

    /// The underlying parameter (W itself, or `weight_orig`).
    pub fn param(&self) -> &Tensor {
        match self {
            Weight::Plain(w) => w,
            Weight::Spectral(sn) => &sn.weight_orig,
        }
    }

    pub(crate) fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        match self {
            Weight::Plain(w) => out.push(Named {
                name: key(prefix, "weight"),
                entry: Entry::Param(w.clone()),
            }),
            Weight::Spectral(sn) => sn.collect(prefix, out),
        }
    }

    /// Wraps the weight in spectral normalisation along `dim` (0 for Linear/Conv, 1 for
    /// ConvTranspose, as PyTorch does).
    pub(crate) fn spectral(self, dim: usize, rng: &mut Generator) -> Result<Weight> {
        match self {
            Weight::Plain(w) => Ok(Weight::Spectral(SpectralNorm::new(w, dim, rng)?)),
            s => Ok(s),
        }
    }
}

impl Linear {
    pub fn new(
        gpu: &Gpu,
        in_features: usize,
        out_features: usize,
        bias: bool,
        init_kind: Init,
        rng: &mut Generator,
    ) -> Result<Linear> {
        let shape = [out_features, in_features];
        let w = init::weight(gpu, &shape, init_kind, rng)?;
        let b = if bias {
            Some(init::bias(gpu, out_features, &shape, init_kind, rng)?)
        } else {
            None
        };
        Ok(Linear {
            weight: Weight::Plain(w),
            bias: b,
            in_features,
            out_features,
        })
    }

    /// Applies spectral normalisation to the weight.
    pub fn spectral_norm(mut self, rng: &mut Generator) -> Result<Linear> {
        self.weight = self.weight.spectral(0, rng)?;
        Ok(self)
    }
}

impl Linear {
    fn check_input(&self, x: &Tensor) -> Result<()> {
        if x.rank() != 2 || x.shape()[1] != self.in_features {
            return Err(Error::shape(
                "Linear",
                format!(
                    "expects input [batch, {}], got {:?}",
                    self.in_features,
                    x.shape()
                ),
            ));
        }
        Ok(())
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.check_input(x)?;
        let w = self.weight.get(ctx)?;
        x.linear(&w, self.bias.as_ref())
    }

    fn per_sample(&self) -> bool {
        self.weight.is_plain()
    }

    /// A ReLU, leaky ReLU (slope ≥ 0) or ELU (α ≥ 0) runs in the product kernel's store.
    fn forward_activated(
        &self,
        x: &Tensor,
        ctx: &mut Ctx,
        act: Activation,
    ) -> Option<Result<Tensor>> {
        let fused = act.fused()?;
        Some(self.check_input(x).and_then(|()| {
            let w = self.weight.get(ctx)?;
            x.linear_fused(&w, self.bias.as_ref(), fused)
        }))
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        self.weight.collect(prefix, out);
        if let Some(b) = &self.bias {
            out.push(Named {
                name: key(prefix, "bias"),
                entry: Entry::Param(b.clone()),
            });
        }
    }

    fn describe(&self) -> String {
        format!(
            "Linear({} → {}{}{})",
            self.in_features,
            self.out_features,
            if self.bias.is_none() { ", no bias" } else { "" },
            if matches!(self.weight, Weight::Spectral(_)) {
                ", spectral norm"
            } else {
                ""
            }
        )
    }
}
