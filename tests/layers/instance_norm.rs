//! InstanceNorm2d against PyTorch, including the double backward of a gradient penalty.

use super::golden::*;
use tapegan::grad;
use tapegan::nn::{Ctx, InstanceNorm, Module};
use tapegan::ops::NormKind;

#[test]
fn instance_norm_forward_gradient_and_double_backward() {
    let g = G::load("layer_instance_norm");
    let inorm = InstanceNorm::new(3);
    let mut r = rng();
    let x = g.var("x");
    let out = inorm.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    // Evaluation is the same function (no running statistics).
    let out_eval = inorm.forward(&x, &mut Ctx::eval(&mut r)).unwrap();
    g.check(&out_eval, "out");
    check_grads(&g, &weighted_sum(&out, &g.t("gout")), &[("x", &x)]);

    // A miniature WGAN-GP critic.
    let (m, norms, gp) = critic_penalty(&g, &x, &inorm);
    g.check(&norms, "norms");
    g.check(&gp, "gp");
    let g2 = grad(&[&gp], &[&x, &m], false).unwrap();
    g.check(&g2[0], "grad2.x");
    g.check(&g2[1], "grad2.M");
}

/// Third-order gradients through instance norm, plain (`layer_in_third`) and fused with a
/// leaky ReLU of slope 0.2 (`layer_in_leaky_third`): g3 differentiates the normalisation's
/// recorded second-order rule. s1 = Σ y ⊙ r, g1 = ∂s1/∂x; s2 = Σ q ⊙ g1 ⊙ g1 (non-linear in
/// g1), g2 = ∂s2/∂x; s3 = Σ v ⊙ g2, g3 = ∂s3/∂x.
#[test]
fn instance_norm_third_order_gradients() {
    for (name, slope) in [
        ("layer_in_third", None),
        ("layer_in_leaky_third", Some(0.2)),
    ] {
        let g = G::load(name);
        let x = g.var("x");
        let y = match slope {
            None => x.normalize(NormKind::Instance, None, None, 1e-5, None),
            Some(s) => x.normalize_leaky_relu(NormKind::Instance, None, None, 1e-5, None, s),
        }
        .unwrap();
        g.check(&y, "y");
        let s1 = y.mul(&g.t("r")).unwrap().sum_all().unwrap();
        let g1 = grad(&[&s1], &[&x], true).unwrap().remove(0);
        g.check(&g1, "g1");
        let s2 = g
            .t("q")
            .mul(&g1)
            .unwrap()
            .mul(&g1)
            .unwrap()
            .sum_all()
            .unwrap();
        let g2 = grad(&[&s2], &[&x], true).unwrap().remove(0);
        let s3 = g2.mul(&g.t("v")).unwrap().sum_all().unwrap();
        let g3 = grad(&[&s3], &[&x], false).unwrap().remove(0);
        // The default tolerance holds at second and third order too: no loosening needed.
        g.check(&g2, "g2");
        g.check(&g3, "g3");
    }
}
