//! The adversarial losses of the presets, from the discriminator's raw outputs.
//!
//! Discriminators end without an output activation (except `wgan-gp-28 --critic-sigmoid`):
//! the sigmoid or softmax of the tutorials is folded into the loss, which is computed from
//! logits in its stable form — the same values without the clipping of log(0).

use super::config::LossKind;
use crate::error::Result;
use crate::losses::{accuracy, bce_with_logits, hinge, softmax_cross_entropy};
use crate::tensor::Tensor;

/// Targets for the real and fake terms of a BCE discriminator loss.
pub struct Targets {
    pub real: Tensor,
    pub fake: Tensor,
}

/// Discriminator loss from its outputs on real and fake samples. For SoftmaxCe the outputs are
/// `[B, 2]` logits and the class labels come from `labels_real`/`labels_fake` (u32).
pub fn d_loss(
    kind: LossKind,
    d_real: &Tensor,
    d_fake: &Tensor,
    t: &Targets,
    classes: &ClassLabels,
) -> Result<Tensor> {
    match kind {
        // Keras: cost(real → 1) + cost(fake → 0), each a batch mean.
        LossKind::SoftmaxCe => softmax_cross_entropy(d_real, &classes.ones)?
            .add(&softmax_cross_entropy(d_fake, &classes.zeros)?),
        LossKind::Bce => bce_with_logits(d_real, &t.real)?.add(&bce_with_logits(d_fake, &t.fake)?),
        LossKind::Wgan | LossKind::WganGp => d_fake.mean_all()?.sub(&d_real.mean_all()?),
        LossKind::Hinge => hinge(d_real, 1.0)?.add(&hinge(d_fake, -1.0)?),
    }
}

/// Generator loss from the discriminator's outputs on fakes (non-saturating for BCE/softmax).
pub fn g_loss(
    kind: LossKind,
    d_fake: &Tensor,
    ones: &Tensor,
    classes: &ClassLabels,
) -> Result<Tensor> {
    match kind {
        LossKind::SoftmaxCe => softmax_cross_entropy(d_fake, &classes.ones),
        LossKind::Bce => bce_with_logits(d_fake, ones),
        LossKind::Wgan | LossKind::WganGp | LossKind::Hinge => d_fake.mean_all()?.neg(),
    }
}

/// Class labels 1 ("real") and 0 ("fake") for the two-way softmax discriminator.
pub struct ClassLabels {
    pub ones: Tensor,
    pub zeros: Tensor,
}

/// (D accuracy, G accuracy) of a softmax discriminator, as the Keras tutorial reports them:
/// D's mean accuracy on real (→ 1) and fake (→ 0); G's is the fraction of fakes called real.
pub fn softmax_accuracies(
    d_real: &Tensor,
    d_fake: &Tensor,
    classes: &ClassLabels,
) -> Result<(Tensor, Tensor)> {
    let real = accuracy(d_real, &classes.ones)?;
    let fake = accuracy(d_fake, &classes.zeros)?;
    let g = accuracy(d_fake, &classes.ones)?;
    Ok((real.add(&fake)?.mul_scalar(0.5)?, g))
}
