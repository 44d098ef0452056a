//! Embedding table: rows of a `[num, dim]` weight picked by integer labels.

use super::{key, Ctx, Entry, Module, Named};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::Generator;
use crate::tensor::{DType, Tensor};

/// `nn.Embedding(num, dim)` / Keras `Embedding`.
pub struct Embedding {
    pub weight: Tensor,
    pub num: usize,
    pub dim: usize,
}

impl Embedding {
    /// PyTorch's default initialisation, N(0, 1).
    pub fn new(gpu: &Gpu, num: usize, dim: usize, rng: &mut Generator) -> Result<Embedding> {
        let weight = rng.normal(gpu, &[num, dim], 0.0, 1.0)?.with_grad()?;
        Ok(Embedding { weight, num, dim })
    }

    /// Keras' default initialisation, U(−0.05, 0.05).
    pub fn new_keras(gpu: &Gpu, num: usize, dim: usize, rng: &mut Generator) -> Result<Embedding> {
        let weight = rng.uniform(gpu, &[num, dim], -0.05, 0.05)?.with_grad()?;
        Ok(Embedding { weight, num, dim })
    }
}

impl Module for Embedding {
    /// `x`: u32 labels of shape `[N]` → `[N, dim]`.
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        if x.dtype() != DType::U32 || x.rank() != 1 {
            return Err(Error::shape(
                "Embedding",
                format!(
                    "expects u32 labels of shape [N], got {} {:?}",
                    x.dtype().name(),
                    x.shape()
                ),
            ));
        }
        self.weight.gather_rows(x)
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        out.push(Named {
            name: key(prefix, "weight"),
            entry: Entry::Param(self.weight.clone()),
        });
    }

    fn per_sample(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("Embedding({} → {})", self.num, self.dim)
    }
}
