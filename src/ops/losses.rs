//! The losses GAN training uses, each in its numerically stable form and differentiable to any
//! order (softmax cross-entropy is a fused op, `cross_entropy.rs`; `log_softmax` is in
//! `softmax.rs`), and the classification accuracy the softmax presets log (no gradient).

use super::reduce::MAX_LOOP;
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::tensor::{DType, Tensor};

const ROW_HIT: Kernel = crate::kernel!("row_hit", "row_hit.wgsl");

/// Mean binary cross-entropy of logits `x` against targets `y` (same shape or broadcastable):
/// mean(softplus(x) − x·y), which never evaluates log of 0 or exp of a large number.
pub fn bce_with_logits(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    x.softplus()?.sub(&x.mul(y)?)?.mean_all()
}

/// Mean binary cross-entropy of probabilities `p` against targets `y`, with each log clamped
/// at −100 as PyTorch's `BCELoss` does (for models that end in a sigmoid).
pub fn bce(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let lp = p.log()?.clamp(-100.0, f32::MAX)?;
    let l1p = p.affine(-1.0, 1.0)?.log()?.clamp(-100.0, f32::MAX)?;
    let one_minus_y = y.affine(-1.0, 1.0)?;
    y.mul(&lp)?.add(&one_minus_y.mul(&l1p)?)?.mean_all()?.neg()
}

/// Mean cross-entropy of logits `[N, C]` against integer labels `[N]` (u32), i.e. Keras'
/// sparse categorical cross-entropy on a softmax output, computed from logits.
/// NOTE: labels stay on the GPU, so a label ≥ C cannot be reported without a read-back; its
/// row contributes a loss and gradient of 0 (and still counts in the mean), where PyTorch
/// raises an error.
pub fn softmax_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    labels.expect_dtype("softmax_cross_entropy", DType::U32)?;
    logits.expect_dtype("softmax_cross_entropy", DType::F32)?;
    let [n, c] = *logits.shape() else {
        return Err(Error::shape(
            "softmax_cross_entropy",
            format!("logits must be [N, C], got {:?}", logits.shape()),
        ));
    };
    if labels.shape() != [n] {
        return Err(Error::shape(
            "softmax_cross_entropy",
            format!(
                "{:?} labels for logits of shape {:?}",
                labels.shape(),
                logits.shape()
            ),
        ));
    }
    if logits.numel() > 0 && c <= MAX_LOOP {
        return super::cross_entropy::rows_cross_entropy(logits, labels)?.mean_all();
    }
    let picked = logits.log_softmax(-1)?.mul(&labels.one_hot(c)?)?;
    picked.sum(&[-1], false)?.mean_all()?.neg()
}

/// Hinge term mean(relu(1 − s·x)) for s = +1 (real scores) or −1 (fake scores).
pub fn hinge(x: &Tensor, sign: f32) -> Result<Tensor> {
    x.affine(-sign, 1.0)?.relu()?.mean_all()
}

/// Fraction of rows of `logits` `[N, C]` (N ≥ 1, 1 ≤ C ≤ 16,384) whose maximum is at
/// `labels` (u32 `[N]`; a tie with another class counts as correct, a label ≥ C as wrong); no
/// gradient. One kernel marks each row, one mean.
pub fn accuracy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    const OP: &str = "accuracy";
    labels.expect_dtype(OP, DType::U32)?;
    logits.expect_dtype(OP, DType::F32)?;
    let [n, c] = *logits.shape() else {
        return Err(Error::shape(
            OP,
            format!("logits must be [N, C], got {:?}", logits.shape()),
        ));
    };
    if labels.shape() != [n] || n == 0 || c == 0 || c > MAX_LOOP {
        return Err(Error::shape(
            OP,
            format!(
                "{:?} labels for logits of shape {:?} (N ≥ 1, 1 ≤ C ≤ {MAX_LOOP})",
                labels.shape(),
                logits.shape()
            ),
        ));
    }
    let hits = Tensor::empty(logits.gpu(), &[n], DType::F32, OP)?;
    let p: [u32; 4] = [n as u32, c as u32, 0, 0];
    logits.gpu().launch(
        &ROW_HIT,
        &[],
        bytemuck::cast_slice(&p),
        &[logits.storage(), labels.storage(), hits.storage()],
        grid(n as u64, 64),
    )?;
    hits.mean_all()
}
