//! Normalisation followed by a ReLU or leaky ReLU, which a `Sequential` runs as one fused op
//! (`Tensor::normalize_leaky_relu`): against PyTorch (values, gradients, running statistics and
//! the double backward of a gradient penalty; goldens from `scripts/goldens_layers.py`) and
//! against the unfused pair at the shapes the presets use.
use std::collections::HashMap;

use super::common::*;
use super::golden::*;
use tapegan::nn::{
    load_state_dict, state_dict, Act, Activation, BatchNorm, Ctx, HostValue, InstanceNorm, Module,
    NormConfig, Sequential,
};
use tapegan::ops::NormKind;
use tapegan::{grad, grad_with, Generator, GradOptions, Tensor};

/// `norm → act` as a model would build it, batch norm's state loaded from the golden under the
/// Sequential's key `0.`.
fn block(kind: NormKind, c: usize, slope: f32, g: &G) -> Sequential {
    let act = if slope == 0.0 {
        Activation::Relu
    } else {
        Activation::LeakyRelu(slope)
    };
    let seq = match kind {
        NormKind::Batch => {
            Sequential::new().layer(BatchNorm::new(&gpu(), c, NormConfig::pytorch()).unwrap())
        }
        NormKind::Instance => Sequential::new().layer(InstanceNorm::new(c)),
    }
    .layer(Act(act));
    let state: HashMap<String, HostValue> = g
        .state()
        .into_iter()
        .map(|(k, v)| (format!("0.{k}"), v))
        .collect();
    load_state_dict(&seq, &state).unwrap();
    seq
}

fn golden_case(name: &'static str, kind: NormKind, slope: f32) {
    let g = G::load(name);
    let x = g.var("x");
    let c = x.shape()[1];
    let seq = block(kind, c, slope, &g);
    let params: Vec<Tensor> = tapegan::nn::parameters(&seq);
    let mut r = rng();

    let out = seq.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    assert_eq!(
        out.node().map(|n| n.op),
        Some("normalize_leaky_relu"),
        "{name}: the Sequential must fuse the pair"
    );
    g.check(&out, "out");
    let mut wrt = vec![("x", &x)];
    wrt.extend(["weight", "bias"].into_iter().zip(&params));
    check_grads(&g, &weighted_sum(&out, &g.t("gout")), &wrt);
    if kind == NormKind::Batch {
        let sd: HashMap<String, HostValue> = state_dict(&seq).unwrap().into_iter().collect();
        assert_eq!(sd["0.num_batches_tracked"], HostValue::Int(1), "{name}");
        for k in ["running_mean", "running_var"] {
            let HostValue::F32 { shape, data } = &sd[&format!("0.{k}")] else {
                panic!("{name}: {k} is not a float tensor");
            };
            g.check(&t(data, shape), k);
        }
    }

    // A miniature WGAN-GP critic through the block: the penalty's gradients need the fused
    // op's backward to be differentiable itself.
    let (m, _, gp) = critic_penalty(&g, &x, &seq);
    g.check(&gp, "gp");
    let mut wrt = vec![&x, &m];
    wrt.extend(&params);
    // The bias reaches g1 only through the activation's piecewise-constant mask: PyTorch
    // returns zeros for it, tapegan finds it unused (None).
    let opts = GradOptions {
        allow_unused: true,
        ..GradOptions::default()
    };
    let g2 = grad_with(&[&gp], &wrt, &opts).unwrap();
    let keys = ["grad2.x", "grad2.M", "grad2.weight", "grad2.bias"];
    for (gr, k) in g2.iter().zip(keys) {
        match gr {
            Some(gr) => g.check_tol(gr, k, 1e-3, 1e-4),
            None => assert!(
                k == "grad2.bias" && g.vals(k).iter().all(|&v| v == 0.0),
                "{name}/{k}: no gradient, but the golden one is not zero"
            ),
        }
    }
}

#[test]
fn batch_norm_leaky_relu_matches_pytorch() {
    golden_case("layer_bn_leaky", NormKind::Batch, 0.2);
}

#[test]
fn batch_norm_relu_matches_pytorch() {
    // 3×3 planes: scalar rows rather than vec4 ones.
    golden_case("layer_bn_relu", NormKind::Batch, 0.0);
}

#[test]
fn instance_norm_leaky_relu_matches_pytorch() {
    golden_case("layer_in_leaky", NormKind::Instance, 0.2);
}

/// The fused op against `normalize` then `leaky_relu` on the same inputs: output, running
/// statistics, the gradients for x, weight and bias, and the gradients of a penalty on the
/// input gradient (the recorded backward). Weights of both signs: the activation's mask must
/// follow z = x̂·w + b, not x̂.
fn against_unfused(kind: NormKind, shape: &[usize], slope: f32, seed: u64) {
    let what = format!("{kind:?} {shape:?} slope {slope}");
    let numel: usize = shape.iter().product();
    let c = shape[1];
    let x = var(&rand_vec(numel, seed, -2.0, 2.5), shape);
    let gout = t(&rand_vec(numel, seed + 1, -1.0, 1.0), shape);
    let affine = kind == NormKind::Batch;
    let w = var(&rand_vec(c, seed + 2, -1.5, 1.5), &[c]);
    let b = var(&rand_vec(c, seed + 3, -0.8, 0.8), &[c]);
    let (w, b) = if affine {
        (Some(&w), Some(&b))
    } else {
        (None, None)
    };
    let mut outs = Vec::new();
    for fused in [true, false] {
        let rm = Tensor::zeros(&gpu(), &[c]).unwrap();
        let rv = Tensor::ones(&gpu(), &[c]).unwrap();
        let running = affine.then_some(tapegan::ops::Running {
            mean: &rm,
            var: &rv,
            momentum: 0.1,
            unbiased: true,
        });
        let y = if fused {
            x.normalize_leaky_relu(kind, w, b, 1e-5, running, slope)
        } else {
            x.normalize(kind, w, b, 1e-5, running)
                .and_then(|y| y.leaky_relu(slope))
        }
        .unwrap();
        let loss = y.mul(&gout).unwrap().sum_all().unwrap();
        let mut wrt = vec![&x];
        wrt.extend(w.into_iter().chain(b));
        let grads = grad(&[&loss], &wrt, false).unwrap();
        let mut all = vec![Some(y), Some(rm), Some(rv)];
        all.extend(grads.into_iter().map(Some));
        all.extend(if affine { vec![] } else { vec![None, None] });
        // Σ (∂loss/∂x)², differentiated again (the bias only reaches it through the mask).
        let gx = grad(&[&loss], &[&x], true).unwrap().remove(0);
        let penalty = gx.square().unwrap().sum_all().unwrap();
        let opts = GradOptions {
            allow_unused: true,
            ..GradOptions::default()
        };
        all.extend(grad_with(&[&penalty], &wrt, &opts).unwrap());
        outs.push(
            all.iter()
                .map(|t| t.as_ref().map(|t| t.to_vec().unwrap()))
                .collect::<Vec<_>>(),
        );
    }
    let names = [
        "y",
        "running_mean",
        "running_var",
        "dx",
        "dweight",
        "dbias",
        "penalty dx",
        "penalty dweight",
        "penalty dbias",
    ];
    for (k, (f, u)) in outs[0].iter().zip(&outs[1]).enumerate() {
        let what = format!("{what}: {}", names[k]);
        match (f, u) {
            (Some(f), Some(u)) => Tol::new(1e-4, 1e-5).assert(f, u, &what),
            (None, None) => {}
            _ => panic!("{what}: a gradient on one side only"),
        }
    }
}

#[test]
fn fused_matches_unfused_at_preset_shapes() {
    // vec4 rows with several tiles per channel (dcgan-28 G), 7×7 scalar rows, a rank-2 batch
    // norm, and instance norm on vec4 and scalar planes (wgan-gp-28).
    against_unfused(NormKind::Batch, &[64, 128, 4, 4], 0.0, 10);
    against_unfused(NormKind::Batch, &[16, 64, 7, 7], 0.2, 20);
    against_unfused(NormKind::Batch, &[300, 256], 0.3, 30);
    against_unfused(NormKind::Batch, &[8, 16, 32, 32], 0.2, 40);
    against_unfused(NormKind::Instance, &[16, 64, 7, 7], 0.2, 50);
    against_unfused(NormKind::Instance, &[8, 32, 8, 8], 0.0, 60);
}

#[test]
fn only_fusable_pairs_are_fused() {
    let mut rng = Generator::new(0);
    let x = var(&rand_vec(2 * 4 * 9, 5, -1.0, 1.0), &[2, 4, 3, 3]);
    let bn = || BatchNorm::new(&gpu(), 4, NormConfig::pytorch()).unwrap();
    let op = |seq: &Sequential, train: bool, rng: &mut Generator| {
        let mut ctx = if train {
            Ctx::train(rng)
        } else {
            Ctx::eval(rng)
        };
        let y = seq.forward(&x, &mut ctx).unwrap();
        y.node().map(|n| n.op)
    };
    // A negative slope is not fused (the recorded backward reads the mask from the output),
    // nor is another activation, nor evaluation mode (running statistics).
    let negative = Sequential::new()
        .layer(bn())
        .layer(Act(Activation::LeakyRelu(-0.5)));
    assert_eq!(op(&negative, true, &mut rng), Some("leaky_relu"));
    let tanh = Sequential::new().layer(bn()).layer(Act(Activation::Tanh));
    assert_eq!(op(&tanh, true, &mut rng), Some("tanh"));
    let relu = Sequential::new().layer(bn()).layer(Act(Activation::Relu));
    assert_eq!(op(&relu, false, &mut rng), Some("relu"));
    assert_eq!(op(&relu, true, &mut rng), Some("normalize_leaky_relu"));
    // The op itself rejects a slope it cannot differentiate twice, in one line.
    let e = x
        .normalize_leaky_relu(NormKind::Batch, None, None, 1e-5, None, -0.5)
        .unwrap_err();
    assert!(e.to_string().contains("slope -0.5"), "{e}");
}

#[test]
fn a_lone_weight_or_bias_is_applied_alone() {
    // The kernels apply weight and bias together; a lone weight must not pick up a stray shift
    // (nor a lone bias a stray scale), forward and backward, with and without the activation.
    let shape = [4, 3, 4, 4];
    let x = var(&rand_vec(192, 70, -1.0, 2.0), &shape);
    let gout = t(&rand_vec(192, 71, -1.0, 1.0), &shape);
    let w = var(&[0.5, -1.0, 2.0], &[3]);
    let b = var(&[0.25, 0.0, -0.5], &[3]);
    let per_channel = |p: &Tensor| p.reshape(&[1, 3, 1, 1]).unwrap();
    for slope in [None, Some(0.1)] {
        for (param, is_weight) in [(&w, true), (&b, false)] {
            let (pw, pb) = if is_weight {
                (Some(param), None)
            } else {
                (None, Some(param))
            };
            let got = match slope {
                Some(a) => x.normalize_leaky_relu(NormKind::Batch, pw, pb, 1e-5, None, a),
                None => x.normalize(NormKind::Batch, pw, pb, 1e-5, None),
            }
            .unwrap();
            let xhat = x
                .normalize(NormKind::Batch, None, None, 1e-5, None)
                .unwrap();
            let z = if is_weight {
                xhat.mul(&per_channel(param))
            } else {
                xhat.add(&per_channel(param))
            }
            .unwrap();
            let want = match slope {
                Some(a) => z.leaky_relu(a).unwrap(),
                None => z,
            };
            let what = format!("weight {is_weight} slope {slope:?}");
            let mut vals = Vec::new();
            for y in [&got, &want] {
                let loss = y.mul(&gout).unwrap().sum_all().unwrap();
                let g = grad(&[&loss], &[&x, param], false).unwrap();
                vals.push([
                    y.to_vec().unwrap(),
                    g[0].to_vec().unwrap(),
                    g[1].to_vec().unwrap(),
                ]);
            }
            for (k, name) in ["y", "dx", "dparam"].iter().enumerate() {
                Tol::GOLDEN.assert(&vals[0][k], &vals[1][k], &format!("{what}: {name}"));
            }
        }
    }
}
