//! Batch and instance normalisation as differentiable ops on the fused kernels of `norm.rs`,
//! optionally with a leaky ReLU fused after the affine transform.
//!
//! The backward rule, when it is itself recorded (`create_graph`), is one differentiable op of
//! x and g without affine parameters (`norm_grad.rs`: fused passes, exact to any order), and
//! with them the composed formula dx = invstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)) written in
//! tensor ops with the statistics recomputed from x — so a gradient penalty differentiates
//! through normalisation exactly.

use super::elementwise_ops::leaky_relu_grad;
use super::norm::{apply_pass, complete_affine, reduce_pass, Epilogue, NormKind, Running, View};
use super::norm_grad::input_grad;
use super::reduce::MAX_LOOP;
use crate::autograd::is_recording;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Axes the statistics reduce over, for the composed (recorded) backward.
pub(super) fn stat_axes(kind: NormKind, rank: usize) -> Vec<isize> {
    match kind {
        NormKind::Batch => (0..rank as isize).filter(|&d| d != 1).collect(),
        NormKind::Instance => vec![2, 3],
    }
}

/// Per-channel vector shaped to broadcast against `x` (`[1, C, 1, …]`).
fn channel_view(t: &Tensor, rank: usize) -> Result<Tensor> {
    let mut s = vec![1; rank];
    s[1] = t.numel();
    t.reshape(&s)
}

impl Tensor {
    /// Normalises with given per-channel statistics (batch norm in evaluation mode):
    /// (x − mean)/√(var + ε)·w + b in one pass. Backward: g·w/√(var + ε), Σ g·x̂, Σ g.
    pub fn normalize_with(
        &self,
        mean: &Tensor,
        var: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<Tensor> {
        const OP: &str = "normalize_with";
        let v = View::of(OP, self, NormKind::Batch)?;
        if self.numel() == 0 {
            return Tensor::zeros(self.gpu(), self.shape()); // an empty batch, as PyTorch
        }
        for t in [Some(mean), Some(var), weight, bias].into_iter().flatten() {
            if t.shape() != [v.c] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "per-channel tensor of shape {:?} for input {:?}",
                        t.shape(),
                        self.shape()
                    ),
                ));
            }
        }
        let invstd = var.add_scalar(eps)?.rsqrt()?;
        let stats = Tensor::concat(&[&mean.detach(), &invstd.detach()], 0)?.reshape(&[2, v.c])?;
        let affine = complete_affine(self, v.c, weight, bias)?;
        let epi = Epilogue {
            affine: affine.as_ref().map(|(w, b)| (w, b)),
            slope: None,
        };
        let out = apply_pass(self, None, &stats, None, epi, v)?;
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        let (mean, invstd) = (mean.detach(), invstd.detach());
        Ok(out.record(OP, &inputs, move |bw| {
            let r = bw.inputs[0].rank();
            let (m, is) = (channel_view(&mean, r)?, channel_view(&invstd, r)?);
            let scale = match has_w.then(|| &bw.inputs[1]) {
                Some(w) => channel_view(w, r)?.mul(&is)?,
                None => is.clone(),
            };
            let mut grads = vec![if bw.needs[0] {
                Some(bw.grad.mul(&scale)?)
            } else {
                None
            }];
            let axes = stat_axes(NormKind::Batch, r);
            if has_w {
                let xhat = bw.inputs[0].sub(&m)?.mul(&is)?;
                grads.push(if bw.needs[1] {
                    Some(bw.grad.mul(&xhat)?.sum(&axes, false)?)
                } else {
                    None
                });
            }
            if has_b {
                let i = grads.len();
                grads.push(if bw.needs[i] {
                    Some(bw.grad.sum(&axes, false)?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }

    /// Normalises with the statistics of this batch (training-mode batch norm, or instance
    /// norm), then applies the optional per-channel affine transform; updates `running` in
    /// place. NOTE: ε is added to the biased variance inside the square root.
    pub fn normalize(
        &self,
        kind: NormKind,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
        running: Option<Running>,
    ) -> Result<Tensor> {
        normalize_impl(self, kind, weight, bias, eps, running, None)
    }

    /// [`Tensor::normalize`] followed by a leaky ReLU with `slope` ≥ 0 (0: ReLU) as one op:
    /// the activation runs inside the normalisation's passes, forward and backward, so the
    /// pair reads and writes the activations once instead of twice (batch norm + activation
    /// is the block of every DCGAN). Same values and gradients, to rounding, as the two ops
    /// in sequence, including under a recorded (double) backward.
    pub fn normalize_leaky_relu(
        &self,
        kind: NormKind,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
        running: Option<Running>,
        slope: f32,
    ) -> Result<Tensor> {
        // The recorded backward reads the activation's mask from the output (y > 0 ⇔ z > 0),
        // which holds for slope ≥ 0 only.
        if !(slope.is_finite() && slope >= 0.0) {
            return Err(Error::Config(format!(
                "normalize_leaky_relu: slope {slope} must be finite and ≥ 0 \
                 (apply leaky_relu after normalize for other slopes)"
            )));
        }
        normalize_impl(self, kind, weight, bias, eps, running, Some(slope))
    }
}

/// Training-mode normalisation, with a fused leaky ReLU of `slope` when given.
fn normalize_impl(
    x: &Tensor,
    kind: NormKind,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
    running: Option<Running>,
    slope: Option<f32>,
) -> Result<Tensor> {
    const OP: &str = "normalize";
    x.expect_dtype(OP, DType::F32)?;
    let v = View::of(OP, x, kind)?;
    let channels = x.shape()[1];
    if kind == NormKind::Instance && (weight.is_some() || bias.is_some()) {
        return Err(Error::shape(
            OP,
            "instance normalisation takes no affine parameters here",
        ));
    }
    for t in [weight, bias].into_iter().flatten() {
        if t.shape() != [channels] {
            return Err(Error::shape(
                OP,
                format!(
                    "per-channel parameter of shape {:?} for input {:?}",
                    t.shape(),
                    x.shape()
                ),
            ));
        }
    }
    if v.count() < 2 || x.numel() == 0 {
        let what = match kind {
            NormKind::Batch => {
                "batch statistics need more than one value per channel (a batch of 2 or more)"
            }
            NormKind::Instance => "instance statistics need more than one position per channel",
        };
        return Err(Error::shape(
            OP,
            format!("{what}, got input {:?}", x.shape()),
        ));
    }
    if v.b > MAX_LOOP {
        return Err(Error::shape(
            OP,
            format!(
                "{} positions per channel exceed the supported {MAX_LOOP}",
                v.b
            ),
        ));
    }
    let affine = complete_affine(x, channels, weight, bias)?;
    let epi = Epilogue {
        affine: affine.as_ref().map(|(w, b)| (w, b)),
        slope,
    };
    let stats = reduce_pass(x, None, v, eps, running.as_ref(), epi)?;
    let out = apply_pass(x, None, &stats, None, epi, v)?;
    let mut inputs = vec![x];
    inputs.extend(weight);
    inputs.extend(bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    let op = if slope.is_some() {
        "normalize_leaky_relu"
    } else {
        OP
    };
    Ok(out.record(op, &inputs, move |bw| {
        let x = &bw.inputs[0];
        let wi = 1;
        let bi = if has_w { 2 } else { 1 };
        if is_recording() && affine.is_none() {
            // One recorded op with fused passes both ways (`norm_grad.rs`); the activation's
            // mask is read from x̂, which is its input here.
            let dx = match bw.needs[0] {
                true => Some(input_grad(x, bw.grad, &stats, v, kind, eps, slope)?),
                false => None,
            };
            return Ok(vec![dx]);
        }
        if is_recording() {
            // Through the activation first, as `leaky_relu`'s own rule does, with the mask read
            // from the output (y > 0 ⇔ z > 0 for slope ≥ 0): a constant of the recorded graph.
            let g = match slope {
                Some(a) => leaky_relu_grad(bw.output, bw.grad, a)?,
                None => bw.grad.clone(),
            };
            let w = has_w.then(|| &bw.inputs[wi]);
            return composed_backward(x, w, &g, kind, eps, has_b, bw.needs);
        }
        // The forward's weight and bias (missing halves completed once, there).
        let epi = Epilogue {
            affine: affine.as_ref().map(|(w, b)| (w, b)),
            slope,
        };
        let sums = reduce_pass(x, Some((bw.grad, &stats)), v, eps, None, epi)?;
        let mut grads = vec![if bw.needs[0] {
            Some(apply_pass(x, Some(bw.grad), &stats, Some(&sums), epi, v)?)
        } else {
            None
        }];
        // sums = [Σg; Σg·x̂] per channel (affine parameters exist for batch norm only).
        let per_channel =
            |row: usize| -> Result<Tensor> { sums.narrow(0, row, 1)?.reshape(&[v.c]) };
        if has_w {
            grads.push(if bw.needs[wi] {
                Some(per_channel(1)?)
            } else {
                None
            });
        }
        if has_b {
            grads.push(if bw.needs[bi] {
                Some(per_channel(0)?)
            } else {
                None
            });
        }
        Ok(grads)
    }))
}

/// The backward rule in tensor ops (used when the backward pass is recorded).
fn composed_backward(
    x: &Tensor,
    w: Option<&Tensor>,
    g: &Tensor,
    kind: NormKind,
    eps: f32,
    has_b: bool,
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let axes = stat_axes(kind, x.rank());
    let mean = x.mean(&axes, true)?;
    let xc = x.sub(&mean)?;
    let invstd = xc.square()?.mean(&axes, true)?.add_scalar(eps)?.rsqrt()?;
    let xhat = xc.mul(&invstd)?;
    let gw = match w {
        Some(w) => g.mul(&channel_view(w, x.rank())?)?,
        None => g.clone(),
    };
    let dx = if needs[0] {
        let t = gw
            .sub(&gw.mean(&axes, true)?)?
            .sub(&xhat.mul(&gw.mul(&xhat)?.mean(&axes, true)?)?)?;
        Some(t.mul(&invstd)?)
    } else {
        None
    };
    let per_channel =
        |t: Tensor| -> Result<Tensor> { t.sum(&stat_axes(NormKind::Batch, x.rank()), false) };
    let mut grads = vec![dx];
    if w.is_some() {
        grads.push(if needs[1] {
            Some(per_channel(g.mul(&xhat)?)?)
        } else {
            None
        });
    }
    if has_b {
        let i = grads.len();
        grads.push(if needs[i] {
            Some(per_channel(g.clone())?)
        } else {
            None
        });
    }
    Ok(grads)
}
