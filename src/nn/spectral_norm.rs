//! Spectral normalisation of a weight (Miyato et al.), with PyTorch's
//! `torch.nn.utils.spectral_norm` semantics:
//! - W is viewed as a matrix with `dim` first: `[out, in·kh·kw]` for Linear/Conv (dim 0),
//!   `[out, in·kh·kw]` of the permuted `[in, out, kh, kw]` for ConvTranspose (dim 1);
//! - persistent vectors u (rows) and v (columns), initialised as normalised N(0, 1) draws;
//! - in training, one power-iteration step per forward: v = Wᵀu/‖Wᵀu‖, u = Wv/‖Wv‖, stored
//!   back into the buffers; in evaluation u and v are used as stored;
//! - σ = uᵀWv and the layer uses W/σ; gradients flow through σ with u and v held constant
//!   (NOTE: the convention PyTorch uses; the fresh u, v are copies, so a later forward's
//!   update cannot change a graph that is still alive).
//!
//! NOTE: normalisation divides by max(‖·‖, ε) with ε = 1e-12, as `F.normalize` does.

use super::{key, Entry, Named};
use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::ops::Generator;
use crate::tensor::Tensor;

pub struct SpectralNorm {
    pub weight_orig: Tensor,
    pub u: Tensor,
    pub v: Tensor,
    pub dim: usize,
    pub eps: f32,
}

/// t / max(‖t‖₂, eps), without recording.
fn normalize(t: &Tensor, eps: f32) -> Result<Tensor> {
    no_grad(|| t.div(&t.square()?.sum_all()?.sqrt()?.clamp(eps, f32::MAX)?))
}

impl SpectralNorm {
    /// Wraps `weight` (which must require grad) with fresh u and v drawn from `rng`.
    pub fn new(weight: Tensor, dim: usize, rng: &mut Generator) -> Result<SpectralNorm> {
        if dim >= weight.rank().max(1) {
            return Err(Error::shape(
                "spectral_norm",
                format!("dim {dim} out of range for {:?}", weight.shape()),
            ));
        }
        let h = weight.shape()[dim];
        let w = weight.numel() / h.max(1);
        let gpu = weight.gpu().clone();
        let eps = 1e-12;
        let u = normalize(&rng.normal(&gpu, &[h], 0.0, 1.0)?, eps)?;
        let v = normalize(&rng.normal(&gpu, &[w], 0.0, 1.0)?, eps)?;
        Ok(SpectralNorm {
            weight_orig: weight,
            u,
            v,
            dim,
            eps,
        })
    }

    /// W viewed as the `[h, w]` matrix the power iteration works on (differentiable).
    fn matrix(&self) -> Result<Tensor> {
        let w = &self.weight_orig;
        let h = w.shape()[self.dim];
        let moved = if self.dim == 0 {
            w.clone()
        } else {
            let mut dims: Vec<usize> = vec![self.dim];
            dims.extend((0..w.rank()).filter(|&d| d != self.dim));
            w.permute(&dims)?
        };
        moved.reshape(&[h, w.numel() / h])
    }

    /// σ(W) estimated with the current (training: freshly iterated) u and v.
    pub fn sigma(&self, train: bool) -> Result<Tensor> {
        let wm = self.matrix()?;
        let (u, v) = if train {
            let (u, v) = no_grad(|| -> Result<(Tensor, Tensor)> {
                let wd = wm.detach();
                let h = wd.shape()[0];
                let v = normalize(
                    &wd.matmul_t(&self.u.reshape(&[h, 1])?, true, false)?,
                    self.eps,
                )?;
                let u = normalize(&wd.matmul(&v)?, self.eps)?;
                Ok((u.reshape(&[h])?, v.reshape(&[wd.shape()[1]])?))
            })?;
            self.u.assign(&u)?;
            self.v.assign(&v)?;
            (u, v)
        } else {
            (self.u.deep_copy()?, self.v.deep_copy()?)
        };
        let h = u.numel();
        let wv = wm.matmul(&v.reshape(&[v.numel(), 1])?)?;
        u.reshape(&[1, h])?.matmul(&wv)?.reshape(&[])
    }

    /// W / σ(W), the weight a spectrally normalised layer uses.
    pub fn weight(&self, train: bool) -> Result<Tensor> {
        self.weight_orig.div(&self.sigma(train)?)
    }

    pub(crate) fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        out.push(Named {
            name: key(prefix, "weight_orig"),
            entry: Entry::Param(self.weight_orig.clone()),
        });
        out.push(Named {
            name: key(prefix, "weight_u"),
            entry: Entry::Buffer(self.u.clone()),
        });
        out.push(Named {
            name: key(prefix, "weight_v"),
            entry: Entry::Buffer(self.v.clone()),
        });
    }
}
