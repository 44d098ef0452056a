//! The WGAN-GP gradient penalty: λ·mean((‖∇x̂ D(x̂)‖₂ − 1)²) at x̂ = fake + ε(real − fake).
//!
//! ∇x̂ D(x̂) is taken with `create_graph`, so the penalty is part of the tape and its gradient
//! with respect to the critic's parameters is a true double backward.
//! NOTE: the norm is √(Σ g² + 1e-12), as the PyTorch book writes it, so the penalty stays
//! differentiable where the gradient vanishes.

use super::config::GpEpsilon;
use crate::autograd::{grad_with, GradOptions};
use crate::error::{Error, Result};
use crate::models::Net;
use crate::nn::Ctx;
use crate::tensor::Tensor;

/// The penalty (a scalar in the tape) and the mean gradient norm (for logging).
pub fn gradient_penalty(
    critic: &Net,
    real: &Tensor,
    fake: &Tensor,
    labels: Option<&Tensor>,
    mode: GpEpsilon,
    lambda: f32,
    ctx: &mut Ctx,
) -> Result<(Tensor, Tensor)> {
    let b = real.shape()[0];
    let eps_shape: Vec<usize> = match mode {
        GpEpsilon::PerElement => real.shape().to_vec(),
        GpEpsilon::PerSample => {
            let mut s = vec![1; real.rank()];
            s[0] = b;
            s
        }
    };
    let eps = ctx.rng.uniform(real.gpu(), &eps_shape, 0.0, 1.0)?;
    let xhat = fake
        .detach()
        .lerp(&real.detach(), &eps)?
        .detach()
        .with_grad()?;
    let d_hat = critic.forward(&xhat, labels, ctx)?;
    let opts = GradOptions {
        create_graph: true,
        allow_unused: false,
        grad_outputs: Some(vec![d_hat.ones_like()?]),
    };
    let g = grad_with(&[&d_hat], &[&xhat], &opts)?
        .pop()
        .flatten()
        .ok_or_else(|| {
            Error::Autograd("the critic's output does not depend on its input".into())
        })?;
    let per_sample = g.reshape(&[b, g.numel() / b])?;
    let norm = per_sample
        .square()?
        .sum(&[1], false)?
        .add_scalar(1e-12)?
        .sqrt()?;
    let penalty = norm
        .add_scalar(-1.0)?
        .square()?
        .mean_all()?
        .mul_scalar(lambda)?;
    Ok((penalty, norm.detach().mean_all()?))
}
