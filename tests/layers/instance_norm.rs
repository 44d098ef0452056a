//! InstanceNorm2d against PyTorch, including the double backward of a gradient penalty.

use super::golden::*;
use tapegan::grad;
use tapegan::nn::{Ctx, InstanceNorm, Module};

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
