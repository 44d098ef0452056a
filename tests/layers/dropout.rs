//! Dropout: evaluation is the identity, training masks and rescales; after a leaky ReLU in a
//! `Sequential` both run as one kernel, which must compute what the two ops compute.

use super::common::*;
use super::golden::*;
use tapegan::nn::{Act, Activation, Ctx, Dropout, Init, Linear, Module, Sequential};
use tapegan::{grad, Generator, Tensor};

#[test]
fn dropout_eval_is_identity_and_p_out_of_range_is_rejected() {
    let x = t(&rand_vec(1000, 3, -1.0, 1.0), &[10, 100]);
    let d = Dropout::new(0.5).unwrap();
    let mut r = rng();
    let y = d.forward(&x, &mut Ctx::eval(&mut r)).unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
    assert_eq!(r, rng(), "eval dropout draws no random numbers");
    let y = Dropout::new(0.0)
        .unwrap()
        .forward(&x, &mut Ctx::train(&mut r))
        .unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
    assert!(Dropout::new(1.0).is_err());
    assert!(Dropout::new(-0.1).is_err());
}

#[test]
fn dropout_train_mask_statistics_scaling_and_gradients() {
    let p = 0.3f32;
    let n = 1 << 18;
    let xs = rand_vec(n, 11, 0.5, 1.5); // no zeros: y/x recovers the mask
    let x = var(&xs, &[n]);
    let d = Dropout::new(p).unwrap();
    let mut r = rng();
    let y = d.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    let ys = y.to_vec().unwrap();
    let zeros = ys.iter().filter(|&&v| v == 0.0).count();
    let frac = zeros as f64 / n as f64;
    // Binomial standard deviation √(p(1−p)/n) ≈ 9e-4; allow 5σ.
    assert!(
        (frac - p as f64).abs() < 4.5e-3,
        "fraction of zeros {frac}, want {p}"
    );
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = ys
        .iter()
        .zip(&xs)
        .map(|(&y, &x)| if y == 0.0 { 0.0 } else { y / x })
        .collect();
    for (i, &m) in mask.iter().enumerate() {
        assert!(
            m == 0.0 || (m - scale).abs() <= 1e-6 * scale,
            "element {i}: kept value scaled by {m}, want {scale}"
        );
    }
    // A second draw is a different mask.
    let y2 = d
        .forward(&x.detach(), &mut Ctx::train(&mut r))
        .unwrap()
        .to_vec()
        .unwrap();
    assert_ne!(y2, ys);

    // d Σy / dx is the mask.
    let g = grad(&[&y.sum_all().unwrap()], &[&x], false)
        .unwrap()
        .remove(0);
    close(&g.to_vec().unwrap(), &mask, "dropout gradient = mask");

    // Double backward through y = x·m (m the scaled mask): f = Σ y³ gives g1 = ∂f/∂x = 3x²m³,
    // and ∂/∂x Σ g1·v = 6x·m³·v.
    let vs = rand_vec(n, 12, -1.0, 1.0);
    let f = y.powf(3.0).unwrap().sum_all().unwrap();
    let g1 = grad(&[&f], &[&x], true).unwrap().remove(0);
    let s = g1.mul(&t(&vs, &[n])).unwrap().sum_all().unwrap();
    let g2 = grad(&[&s], &[&x], false).unwrap().remove(0);
    let want1: Vec<f32> = xs
        .iter()
        .zip(&mask)
        .map(|(&x, &m)| 3.0 * x * x * m * m * m)
        .collect();
    let want2: Vec<f32> = xs
        .iter()
        .zip(&mask)
        .zip(&vs)
        .map(|((&x, &m), &v)| 6.0 * x * m * m * m * v)
        .collect();
    close(&g1.to_vec().unwrap(), &want1, "dropout g1");
    close(&g2.to_vec().unwrap(), &want2, "dropout double backward");
}

#[test]
fn leaky_relu_dropout_is_the_activation_times_the_bernoulli_mask() {
    // A tail that is not a multiple of four elements, and a preset's hidden layer; generators
    // at offset 0 and two counters below a carry into the offset's high word.
    let cases = [
        (vec![7, 13], Generator::new(1)),
        (
            vec![300, 128],
            Generator {
                seed: 2,
                offset: (1 << 32) - 3,
            },
        ),
    ];
    for (shape, start) in cases {
        let n: usize = shape.iter().product();
        let mut xs = rand_vec(n, start.seed, -2.0, 2.0);
        xs[0] = 0.0; // the derivative at 0 is the slope's, as PyTorch's
        let x = t(&xs, &shape);
        for slope in [0.3f32, 0.0, 1.0, -0.5] {
            for p in [0.5f32, 0.2] {
                let what = format!("{shape:?} slope {slope} p {p}");
                let (mut fused_rng, mut mask_rng) = (start, start);
                let y = x.leaky_relu_dropout(slope, p, &mut fused_rng).unwrap();
                let keep = 1.0 - p;
                let mask = mask_rng.bernoulli_value(&gpu(), &shape, keep, 1.0 / keep);
                // Slope 0 must be ReLU itself, +0 included (bits, not ==, which equates ±0).
                let act = if slope == 0.0 {
                    x.relu()
                } else {
                    x.leaky_relu(slope)
                };
                let want = act.unwrap().mul(&mask.unwrap()).unwrap();
                let bits = |t: &Tensor| -> Vec<u32> {
                    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
                };
                assert_eq!(bits(&y), bits(&want), "{what}");
                assert_eq!(
                    fused_rng, mask_rng,
                    "{what}: the generator advances the same"
                );
            }
        }
    }
}

#[test]
fn leaky_relu_dropout_rejects_bad_arguments_in_one_line() {
    let x = t(&[1.0, -1.0], &[2]);
    let mut r = rng();
    for (slope, p, says) in [
        (0.2, 1.0, "probability 1"),
        (0.2, -0.1, "probability -0.1"),
        (f32::NAN, 0.5, "slope NaN"),
    ] {
        let e = x
            .leaky_relu_dropout(slope, p, &mut r)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says) && !e.contains('\n'), "{e}");
    }
    let labels = Tensor::from_u32(&gpu(), &[1, 2], &[2]).unwrap();
    let e = labels.leaky_relu_dropout(0.2, 0.5, &mut r).unwrap_err();
    assert!(e.to_string().contains("f32"), "{e}");
    assert_eq!(r, rng(), "a rejected call draws nothing");
}

/// Linear → leaky ReLU → dropout(p) → Linear, the MLP critics' block.
fn critic(act: Activation, p: f32) -> Sequential {
    let mut r = Generator::new(3);
    Sequential::new()
        .layer(Linear::new(&gpu(), 24, 32, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(act))
        .layer(Dropout::new(p).unwrap())
        .layer(Linear::new(&gpu(), 32, 1, true, Init::PyTorch, &mut r).unwrap())
}

#[test]
fn sequential_fuses_an_activation_into_the_dropout_after_it() {
    let x = var(&rand_vec(8 * 24, 4, -1.0, 1.0), &[8, 24]);
    // The op that produced the dropout's output (the input of the last Linear).
    let dropout_op = |seq: &Sequential, train: bool| {
        let mut r = rng();
        let mut ctx = if train {
            Ctx::train(&mut r)
        } else {
            Ctx::eval(&mut r)
        };
        let h = seq.forward_range(&x, &mut ctx, 0, 3).unwrap();
        let node = h.node().unwrap();
        (node.op, node.inputs[0].node().map(|n| n.op))
    };
    let leaky = critic(Activation::LeakyRelu(0.3), 0.5);
    assert_eq!(
        dropout_op(&leaky, true),
        ("leaky_relu_dropout", Some("linear"))
    );
    let relu = critic(Activation::Relu, 0.5);
    assert_eq!(
        dropout_op(&relu, true),
        ("leaky_relu_dropout", Some("linear"))
    );
    // Another activation stays separate (the dropout alone is its slope-1 case). In
    // evaluation the dropout is the identity and the activation goes into the Linear.
    let tanh = critic(Activation::Tanh, 0.5);
    assert_eq!(dropout_op(&tanh, true), ("dropout", Some("tanh")));
    assert_eq!(dropout_op(&leaky, false), ("linear_leaky_relu", None));
}

#[test]
fn fused_dropout_gradients_match_the_unfused_ops_to_second_order() {
    let xs = rand_vec(16 * 24, 5, -1.0, 1.0);
    // A negative slope fuses too (c is stored, not read back from y); at p = 0.2 the
    // gradients agree to rounding (g·(slope·scale) against slope·(g·scale)).
    let cases = [
        (Activation::LeakyRelu(0.3), 0.5),
        (Activation::Relu, 0.5),
        (Activation::LeakyRelu(-0.5), 0.2),
    ];
    for (act, p) in cases {
        let seq = critic(act, p);
        let params = tapegan::nn::parameters(&seq);
        let mut results = Vec::new();
        for fused in [true, false] {
            let x = var(&xs, &[16, 24]);
            let mut r = rng();
            let mut ctx = Ctx::train(&mut r);
            let out = if fused {
                seq.forward(&x, &mut ctx).unwrap()
            } else {
                let layers = seq.layers();
                let h = layers[0].forward(&x, &mut ctx).unwrap();
                let a = act.apply(&h).unwrap();
                let drop = Dropout::new(p).unwrap();
                let mask = drop.mask(a.shape(), &mut ctx, &gpu()).unwrap();
                layers[3].forward(&a.mul(&mask).unwrap(), &mut ctx).unwrap()
            };
            // The critic's loss and a gradient penalty on its input gradient.
            let loss = out.sum_all().unwrap();
            let mut wrt = vec![&x];
            wrt.extend(&params);
            let all = values_and_penalty_grads(&out, &loss, &wrt);
            results.push(all);
        }
        for (k, (f, u)) in results[0].iter().zip(&results[1]).enumerate() {
            close(f, u, &format!("{act:?} p {p}: value {k}"));
        }
    }
}
