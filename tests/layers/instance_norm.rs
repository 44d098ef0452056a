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

    // A miniature WGAN-GP critic: 1×1 channel mixing M, instance norm, linear read-out.
    let m = g.var("M");
    let [n, c, h, w] = *x.shape() else {
        unreachable!()
    };
    let hh = m
        .matmul(&x.reshape(&[n, c, h * w]).unwrap())
        .unwrap()
        .reshape(&[n, c, h, w])
        .unwrap();
    let d = inorm
        .forward(&hh, &mut Ctx::train(&mut r))
        .unwrap()
        .mul(&g.t("r"))
        .unwrap()
        .sum(&[1, 2, 3], false)
        .unwrap();
    g.check(&d, "d");
    let g1 = grad(&[&d.sum_all().unwrap()], &[&x], true)
        .unwrap()
        .remove(0);
    g.check(&g1, "g1");
    let norms = g1
        .square()
        .unwrap()
        .sum(&[1, 2, 3], false)
        .unwrap()
        .sqrt()
        .unwrap();
    g.check(&norms, "norms");
    let gp = norms
        .add_scalar(-1.0)
        .unwrap()
        .square()
        .unwrap()
        .mean_all()
        .unwrap();
    g.check(&gp, "gp");
    let g2 = grad(&[&gp], &[&x, &m], false).unwrap();
    g.check(&g2[0], "grad2.x");
    g.check(&g2[1], "grad2.M");
}
