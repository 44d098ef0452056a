//! The input gradient of a normalisation without affine parameters (instance norm, batch norm
//! with `affine = false`), optionally through a fused leaky ReLU, as one differentiable op of
//! (x, g): what a gradient penalty records when it differentiates through a critic's norms.
//!
//! The op runs the fused first-order passes of `norm.rs` (3 dispatches). Its own backward —
//! the second-order rule the penalty's parameter gradients need — is two fused passes
//! (`norm_grad2_stats.wgsl`, `norm_grad2_apply.wgsl`) giving the derivatives for x and g
//! together. The same rules written in elementwise ops and reductions, with the statistics
//! recomputed from x, were about 15 dispatches forward and 25 backward per normalisation,
//! each a pass over the activations. When the second-order rule is itself recorded (third
//! order) it is built from those tensor ops, so every order stays exact.

use super::bytes_of;
use super::elementwise_ops::leaky_relu_grad;
use super::norm::{apply_pass, reduce_pass, ApplyParams, Epilogue, NormKind, StatsParams, View};
use crate::autograd::is_recording;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const STATS2: Kernel = kernel!(
    "norm_grad2_stats",
    "norm_rows.wgsl",
    "norm_grad2_stats.wgsl"
);
const APPLY2: Kernel = kernel!(
    "norm_grad2_apply",
    "norm_apply_tile.wgsl",
    "norm_grad2_apply.wgsl"
);

/// dx = s·(G − mean G − x̂·mean(G·x̂)) per channel for the output gradient `g` of a
/// normalisation of `x` (seen as `v`) with statistics `stats` ([2, C]: mean, 1/√(var + ε)),
/// where G is g taken back through a leaky ReLU of `slope` applied to x̂ (G = g without one).
/// Recorded as an op of x and g whose backward is the fused second-order rule.
pub(super) fn input_grad(
    x: &Tensor,
    g: &Tensor,
    stats: &Tensor,
    v: View,
    kind: NormKind,
    eps: f32,
    slope: Option<f32>,
) -> Result<Tensor> {
    let epi = Epilogue {
        affine: None,
        slope,
    };
    let sums = reduce_pass(x, Some((g, stats)), v, eps, None, epi)?;
    let dx = apply_pass(x, Some(g), stats, Some(&sums), epi, v)?;
    let stats = stats.detach();
    Ok(dx.record("normalize_backward", &[x, g], move |bw| {
        let (x, g, u) = (&bw.inputs[0], &bw.inputs[1], bw.grad);
        let (dx, dg) = if is_recording() {
            composed_second_order(x, g, u, kind, eps, slope)?
        } else {
            second_order(x, g, u, &stats, v, slope)?
        };
        Ok(vec![bw.needs[0].then_some(dx), bw.needs[1].then_some(dg)])
    }))
}

/// The second-order rule in two fused passes: (∂/∂x, ∂/∂g) of ⟨u, dx⟩.
fn second_order(
    x: &Tensor,
    g: &Tensor,
    u: &Tensor,
    stats: &Tensor,
    v: View,
    slope: Option<f32>,
) -> Result<(Tensor, Tensor)> {
    let gpu = x.gpu();
    let sp = StatsParams::of(v, slope.unwrap_or(0.0));
    let (nchunks, n) = (sp.nchunks as usize, sp.n as usize);
    let part = Tensor::empty(gpu, &[5, nchunks, v.c], DType::F32, "normalize")?;
    let [t, s, total, _] = v.vector_defs();
    let act = ("ACT", if slope.is_some() { "true" } else { "false" });
    gpu.launch(
        &STATS2,
        &[t, s, total, act],
        bytes_of(&sp),
        &[
            x.storage(),
            g.storage(),
            u.storage(),
            stats.storage(),
            part.storage(),
        ],
        grid(n as u64, 64),
    )?;
    // [Σ G, Σ G·x̂, Σ u, Σ u·x̂, Σ u·G] per channel.
    let sums = if nchunks == 1 {
        part.reshape(&[5, v.c])?
    } else {
        part.sum(&[1], false)?
    };
    let p = ApplyParams::of(v, slope.unwrap_or(0.0));
    let dx = Tensor::empty(gpu, x.shape(), DType::F32, "normalize")?;
    let dg = Tensor::empty(gpu, x.shape(), DType::F32, "normalize")?;
    gpu.launch(
        &APPLY2,
        &[t, s, act],
        bytes_of(&p),
        &[
            x.storage(),
            g.storage(),
            u.storage(),
            stats.storage(),
            sums.storage(),
            dx.storage(),
            dg.storage(),
        ],
        grid(p.n as u64, 64),
    )?;
    Ok((dx, dg))
}

/// The second-order rule in recorded tensor ops, statistics recomputed from x, so it
/// differentiates again: with A = mean(G·x̂), B = mean(u·x̂), C = mean(u·G) − mean u·mean G,
/// ∂/∂x = −s²·((C − 3AB)·x̂ + B·(G − mean G) + A·(u − mean u)) and
/// ∂/∂g = m·s·(u − mean u − x̂·B), m the activation's (constant) derivative.
fn composed_second_order(
    x: &Tensor,
    g: &Tensor,
    u: &Tensor,
    kind: NormKind,
    eps: f32,
    slope: Option<f32>,
) -> Result<(Tensor, Tensor)> {
    let axes = super::normalize::stat_axes(kind, x.rank());
    let mean = |t: &Tensor| t.mean(&axes, true);
    let xc = x.sub(&mean(x)?)?;
    let invstd = mean(&xc.square()?)?.add_scalar(eps)?.rsqrt()?;
    let xhat = xc.mul(&invstd)?;
    let through_act = |t: &Tensor| match slope {
        Some(a) => leaky_relu_grad(&xhat, t, a),
        None => Ok(t.clone()),
    };
    let big_g = through_act(g)?;
    let (gbar, ubar) = (mean(&big_g)?, mean(u)?);
    let a = mean(&big_g.mul(&xhat)?)?;
    let b = mean(&u.mul(&xhat)?)?;
    let c = mean(&u.mul(&big_g)?)?.sub(&ubar.mul(&gbar)?)?;
    let uc = u.sub(&ubar)?;
    let dx = xhat
        .mul(&c.sub(&a.mul(&b)?.mul_scalar(3.0)?)?)?
        .add(&b.mul(&big_g.sub(&gbar)?)?)?
        .add(&a.mul(&uc)?)?
        .mul(&invstd.square()?)?
        .neg()?;
    let dg = through_act(&uc.sub(&xhat.mul(&b)?)?.mul(&invstd)?)?;
    Ok((dx, dg))
}
