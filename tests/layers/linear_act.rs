//! Linear followed by ReLU, leaky ReLU or ELU, which `Sequential` runs as one op
//! (`Tensor::linear_leaky_relu` / `linear_elu`, the activation in the product kernel's store):
//! it must compute what `linear` then the activation compute, to second order, under every
//! matmul kernel family and K split.

use super::common::*;
use super::golden::*;
use tapegan::nn::{Act, Activation, Ctx, Dropout, Init, Linear, Module, Sequential};
use tapegan::{Generator, Tensor};

/// Values, parameter gradients and a gradient penalty's parameter gradients of
/// `act(x·Wᵀ + b)`, fused or as two ops, for x `[m, k]` and W `[n, k]`.
fn against_unfused(m: usize, k: usize, n: usize, act: Activation, bias: bool, seed: u64) {
    let what = format!("{m}×{k}→{n} {act:?} bias {bias}");
    let x = var(&rand_vec(m * k, seed, -1.0, 1.0), &[m, k]);
    let w = var(&rand_vec(n * k, seed + 1, -1.0, 1.0), &[n, k]);
    let b = var(&rand_vec(n, seed + 2, -0.5, 0.5), &[n]);
    let b = bias.then_some(&b);
    let gout = t(&rand_vec(m * n, seed + 3, -1.0, 1.0), &[m, n]);
    let mut wrt = vec![&x, &w];
    wrt.extend(b);
    let mut outs = Vec::new();
    for fused in [true, false] {
        let y = match (fused, act) {
            (true, Activation::Relu) => x.linear_leaky_relu(&w, b, 0.0),
            (true, Activation::LeakyRelu(slope)) => x.linear_leaky_relu(&w, b, slope),
            (true, Activation::Elu(alpha)) => x.linear_elu(&w, b, alpha),
            (true, other) => panic!("{other:?} has no fused form"),
            (false, act) => x.linear(&w, b).and_then(|z| act.apply(&z)),
        }
        .unwrap();
        let loss = y.mul(&gout).unwrap().sum_all().unwrap();
        outs.push(values_and_penalty_grads(&y, &loss, &wrt));
    }
    close_fused_to_unfused(&outs, bias, &what);
}

#[test]
fn fused_linear_activation_matches_linear_then_activation() {
    if rerun_with_env(
        "linear_act::fused_linear_activation_matches_linear_then_activation",
        "TAPEGAN_MATMUL_KERNEL",
        &["tiled", "register", "sharing"],
    ) {
        return;
    }
    // A preset's layer (vector reads), odd sizes (scalar paths, edge tiles), K = 1 (the
    // elementwise outer product), and a K longer than one dispatch loops (the activation
    // only after the last chunk or slice).
    for (i, act) in [
        Activation::LeakyRelu(0.2),
        Activation::Relu,
        Activation::Elu(1.0),
        Activation::Elu(0.5),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 100 * i as u64;
        against_unfused(300, 128, 64, act, true, seed + 10);
        against_unfused(7, 33, 5, act, true, seed + 20);
        against_unfused(9, 1, 6, act, true, seed + 30);
        against_unfused(2, 17_000, 3, act, false, seed + 40);
        // Sizes that allow vec4 stores: four columns of a row, with the bias in the first K
        // chunk and the activation after the second; four rows of a transposed result.
        against_unfused(8, 17_000, 12, act, true, seed + 50);
        against_unfused(100, 24, 96, act, true, seed + 60);
    }
}

#[test]
fn relu_is_exactly_relu_and_bad_slopes_are_refused() {
    // Inputs that make the pre-activation exactly 0 and negative: ReLU gives +0, as max(v, 0).
    let x = t(&[1.0, -1.0, 0.0, 2.0], &[2, 2]);
    let w = t(&[1.0, 0.0, -1.0, 0.0], &[2, 2]);
    let y = x.linear_leaky_relu(&w, None, 0.0).unwrap();
    let want = x.linear(&w, None).unwrap().relu().unwrap();
    let bits =
        |t: &Tensor| -> Vec<u32> { t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&y), bits(&want));
    // The same where outputs are stored four at a time (four columns): columns 0 and 1 are
    // ±x₀, column 2 exactly 0, column 3 x₁.
    let x = t(&[1.0, -1.0, 0.0, 2.0, -3.0, 0.0, 0.5, -0.5], &[4, 2]);
    let w = t(&[1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[4, 2]);
    let y = x.linear_leaky_relu(&w, None, 0.0).unwrap();
    let want = x.linear(&w, None).unwrap().relu().unwrap();
    assert_eq!(bits(&y), bits(&want));
    for slope in [-0.2, f32::NAN] {
        let e = x
            .linear_leaky_relu(&w, None, slope)
            .unwrap_err()
            .to_string();
        assert!(e.contains("slope") && !e.contains('\n'), "{e}");
        let e = x.linear_elu(&w, None, slope).unwrap_err().to_string();
        assert!(e.contains("alpha") && !e.contains('\n'), "{e}");
    }
}

#[test]
fn sequential_fuses_linear_and_activation_unless_dropout_takes_it() {
    let x = var(&rand_vec(8 * 6, 5, -1.0, 1.0), &[8, 6]);
    let mut r = Generator::new(1);
    let linear = |r: &mut Generator| Linear::new(&gpu(), 6, 4, true, Init::PyTorch, r).unwrap();
    let op = |seq: &Sequential, train: bool| {
        let mut g = rng();
        let mut ctx = if train {
            Ctx::train(&mut g)
        } else {
            Ctx::eval(&mut g)
        };
        let y = seq.forward(&x, &mut ctx).unwrap();
        let node = y.node().unwrap();
        (node.op, node.inputs[0].node().map(|n| n.op))
    };
    let seq =
        |r: &mut Generator, act: Activation| Sequential::new().layer(linear(r)).layer(Act(act));
    let fused = ("linear_leaky_relu", None);
    assert_eq!(op(&seq(&mut r, Activation::LeakyRelu(0.2)), true), fused);
    assert_eq!(op(&seq(&mut r, Activation::Relu), false), fused);
    assert_eq!(
        op(&seq(&mut r, Activation::Elu(1.0)), true),
        ("linear_elu", None)
    );
    // A negative slope or α and other activations stay separate.
    let negative = seq(&mut r, Activation::LeakyRelu(-0.2));
    assert_eq!(op(&negative, true), ("leaky_relu", Some("linear")));
    let negative = seq(&mut r, Activation::Elu(-1.0));
    assert_eq!(op(&negative, true), ("elu", Some("linear")));
    assert_eq!(
        op(&seq(&mut r, Activation::Tanh), true),
        ("tanh", Some("linear"))
    );
    // Before a training dropout the activation goes into the dropout; in evaluation (the
    // dropout is the identity) into the Linear.
    let with_dropout = seq(&mut r, Activation::LeakyRelu(0.2)).layer(Dropout::new(0.5).unwrap());
    assert_eq!(
        op(&with_dropout, true),
        ("leaky_relu_dropout", Some("linear"))
    );
    assert_eq!(op(&with_dropout, false), fused);
}
