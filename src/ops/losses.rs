//! The losses GAN training uses, each in its numerically stable form and composed from
//! differentiable ops (so each differentiates to any order); `log_softmax` is in softmax.rs.

use super::Compare;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

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
pub fn softmax_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    labels.expect_dtype("softmax_cross_entropy", DType::U32)?;
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
    let picked = logits.log_softmax(-1)?.mul(&labels.one_hot(c)?)?;
    picked.sum(&[-1], false)?.mean_all()?.neg()
}

/// Hinge term mean(relu(1 − s·x)) for s = +1 (real scores) or −1 (fake scores).
pub fn hinge(x: &Tensor, sign: f32) -> Result<Tensor> {
    x.affine(-sign, 1.0)?.relu()?.mean_all()
}

/// Fraction of rows of `probs` `[N, C]` whose arg-max equals `labels`; no gradient.
pub fn accuracy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let c = logits.dim(-1)?;
    let m = logits.detach().max(&[-1], true)?;
    let is_max = logits.detach().compare(Compare::Ge, &m)?;
    is_max
        .mul(&labels.one_hot(c)?)?
        .sum(&[-1], false)?
        .clamp(0.0, 1.0)?
        .mean_all()
}
