//! Softmax cross-entropy of logit rows against integer labels as one differentiable op with a
//! fused kernel (`shaders/cross_entropy.wgsl`): the per-row losses in one dispatch, and their
//! gradient g·(softmax(x) − onehot) in one more, instead of the log-softmax, one-hot, product
//! and row sum of the composed form (each with its own backward). The softmax presets compute
//! three of these losses every step.
//!
//! The backward rule runs the kernel when it is not recorded; under `create_graph` it is the
//! same formula in tensor ops (softmax is itself differentiable), so it differentiates again.

use super::bytes_of;
use crate::autograd::is_recording;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::tensor::{DType, Tensor};

const CROSS_ENTROPY: Kernel = crate::kernel!("cross_entropy", "cross_entropy.wgsl");

/// Forward (`g` None: losses `[N]`) or backward (`g` the gradient of the losses: `[N, C]`).
fn launch(x: &Tensor, labels: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let shape: &[usize] = if g.is_some() { &[n, c] } else { &[n] };
    let out = Tensor::empty(x.gpu(), shape, DType::F32, "cross_entropy")?;
    let p: [u32; 4] = [n as u32, c as u32, 0, 0];
    let backward = if g.is_some() { "true" } else { "false" };
    x.gpu().launch(
        &CROSS_ENTROPY,
        &[("BACKWARD", backward)],
        bytes_of(&p),
        &[
            x.storage(),
            labels.storage(),
            g.unwrap_or(x).storage(),
            out.storage(),
        ],
        grid(n as u64, 64),
    )?;
    Ok(out)
}

/// Per-row losses `log Σⱼ exp(x[i, j]) − x[i, labels[i]]` of logits `[N, C]` (f32) against
/// labels `[N]` (u32), shapes checked by the caller (C within one invocation's loop budget).
/// A label ≥ C gives a loss and gradient of 0 for its row.
pub(crate) fn rows_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let out = launch(logits, labels, None)?;
    let labels = labels.clone();
    Ok(out.record("cross_entropy", &[logits], move |bw| {
        if !bw.needs[0] {
            return Ok(vec![None]);
        }
        let x = &bw.inputs[0];
        if !is_recording() {
            return Ok(vec![Some(launch(x, &labels, Some(bw.grad))?)]);
        }
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let onehot = labels.one_hot(c)?;
        // Rows with a valid label (1) or none (0): the latter get no gradient.
        let valid = onehot.sum(&[-1], true)?;
        let dx = x
            .softmax(-1)?
            .mul(&valid)?
            .sub(&onehot)?
            .mul(&bw.grad.reshape(&[n, 1])?)?;
        Ok(vec![Some(dx)])
    }))
}
