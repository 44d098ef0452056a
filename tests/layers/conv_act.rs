//! Conv2d followed by ReLU, leaky ReLU or ELU, which `Sequential` runs as one op
//! (`Tensor::conv2d_leaky_relu` / `conv2d_elu`, the activation in the conv kernel's store
//! where the kernel has one, else a pass of its own): it must compute what `conv2d` then the
//! activation compute, to second order, under every conv kernel family.

use super::common::*;
use super::golden::*;
use tapegan::nn::{Act, Activation, Conv2d, ConvSpec, Ctx, Init, Module, Sequential};
use tapegan::ops::Conv2dGeom;
use tapegan::{Generator, Tensor};

/// Values, parameter gradients and a gradient penalty's parameter gradients of
/// `act(conv2d(x, W) + b)`, fused or as two ops, for x `[n, ci, hw, hw]` and a k×k kernel.
fn against_unfused([n, ci, co, hw, k, s, p]: [usize; 7], act: Activation, bias: bool, seed: u64) {
    let what = format!("Conv({ci}→{co}, k{k} s{s} p{p}) on {hw}×{hw} {act:?} bias {bias}");
    let geom = Conv2dGeom::new(s, p);
    let x = var(
        &rand_vec(n * ci * hw * hw, seed, -1.0, 1.0),
        &[n, ci, hw, hw],
    );
    let w = var(
        &rand_vec(co * ci * k * k, seed + 1, -0.5, 0.5),
        &[co, ci, k, k],
    );
    let b = var(&rand_vec(co, seed + 2, -0.5, 0.5), &[co]);
    let b = bias.then_some(&b);
    let mut wrt = vec![&x, &w];
    wrt.extend(b);
    let mut outs = Vec::new();
    for fused in [true, false] {
        let y = match (fused, act) {
            (true, Activation::Relu) => x.conv2d_leaky_relu(&w, b, &geom, 0.0),
            (true, Activation::LeakyRelu(slope)) => x.conv2d_leaky_relu(&w, b, &geom, slope),
            (true, Activation::Elu(alpha)) => x.conv2d_elu(&w, b, &geom, alpha),
            (true, other) => panic!("{other:?} has no fused form"),
            (false, act) => x.conv2d(&w, b, &geom).and_then(|z| act.apply(&z)),
        }
        .unwrap();
        let gout = t(&rand_vec(y.numel(), seed + 3, -1.0, 1.0), y.shape());
        let loss = y.mul(&gout).unwrap().sum_all().unwrap();
        outs.push(values_and_penalty_grads(&y, &loss, &wrt));
    }
    close_fused_to_unfused(&outs, bias, &what);
}

#[test]
fn fused_conv_activation_matches_conv_then_activation() {
    if rerun_with_env(
        "conv_act::fused_conv_activation_matches_conv_then_activation",
        "TAPEGAN_CONV_BLOCKS",
        &["gpu", "cpu", "gemm", "vec4", "scalar", "winograd"],
    ) {
        return;
    }
    // A critic's first layer (one input channel: the im2col route on CPU adapters), a layer
    // with 4·k channels (the vec4 reads where forced), odd sizes (edge tiles, no bias), a
    // kernel covering the whole input (a matrix product), and a reduction longer than one
    // dispatch loops over (the activation only after the last chunk).
    for (i, act) in [
        Activation::LeakyRelu(0.2),
        Activation::Relu,
        Activation::Elu(1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 100 * i as u64;
        against_unfused([3, 1, 32, 12, 4, 2, 1], act, false, seed + 10);
        against_unfused([2, 8, 16, 9, 4, 2, 1], act, true, seed + 20);
        against_unfused([2, 5, 11, 7, 3, 1, 1], act, false, seed + 30);
        against_unfused([2, 6, 3, 4, 4, 1, 0], act, true, seed + 40);
        against_unfused([1, 1400, 8, 7, 7, 1, 3], act, true, seed + 50);
    }
}

#[test]
fn conv_relu_is_exactly_relu_and_bad_slopes_are_refused() {
    // Pre-activations exactly 0 and negative: ReLU gives +0, as max(v, 0).
    let x = t(&[1.0, -1.0, 0.0, 2.0], &[1, 1, 2, 2]);
    let w = t(&[1.0, -1.0, 0.0], &[3, 1, 1, 1]);
    let geom = Conv2dGeom::new(1, 0);
    let y = x.conv2d_leaky_relu(&w, None, &geom, 0.0).unwrap();
    let want = x.conv2d(&w, None, &geom).unwrap().relu().unwrap();
    let bits =
        |t: &Tensor| -> Vec<u32> { t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&y), bits(&want));
    for slope in [-0.2, f32::NAN] {
        let e = x
            .conv2d_leaky_relu(&w, None, &geom, slope)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("slope") && e.contains("conv2d") && !e.contains('\n'),
            "{e}"
        );
        let e = x
            .conv2d_elu(&w, None, &geom, slope)
            .unwrap_err()
            .to_string();
        assert!(e.contains("alpha") && !e.contains('\n'), "{e}");
    }
    // Shape errors name the fused op.
    let e = x
        .conv2d_leaky_relu(&t(&[1.0; 8], &[1, 2, 2, 2]), None, &geom, 0.2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d_leaky_relu") && e.contains("channels"),
        "{e}"
    );
}

#[test]
fn sequential_fuses_conv_and_activation() {
    let x = var(&rand_vec(2 * 3 * 8 * 8, 5, -1.0, 1.0), &[2, 3, 8, 8]);
    let mut r = Generator::new(1);
    let conv = |r: &mut Generator| {
        Conv2d::new(&gpu(), ConvSpec::new(3, 4, 4, 2, 1), Init::PyTorch, r).unwrap()
    };
    let op = |seq: &Sequential| {
        let mut g = rng();
        let y = seq.forward(&x, &mut Ctx::train(&mut g)).unwrap();
        let node = y.node().unwrap();
        (node.op, node.inputs[0].node().map(|n| n.op))
    };
    let seq = |r: &mut Generator, act: Activation| Sequential::new().layer(conv(r)).layer(Act(act));
    assert_eq!(
        op(&seq(&mut r, Activation::LeakyRelu(0.2))),
        ("conv2d_leaky_relu", None)
    );
    assert_eq!(op(&seq(&mut r, Activation::Elu(1.0))), ("conv2d_elu", None));
    // A negative slope and other activations stay separate.
    assert_eq!(
        op(&seq(&mut r, Activation::LeakyRelu(-0.2))),
        ("leaky_relu", Some("conv2d"))
    );
    assert_eq!(op(&seq(&mut r, Activation::Tanh)), ("tanh", Some("conv2d")));
}
