//! Every layer of `tapegan::nn` against PyTorch: forward values, gradients, buffer updates,
//! state-dict names and initialiser statistics. The goldens come from
//! `scripts/goldens_layers.py` (tests/goldens/layer_*.safetensors); each test loads the golden's
//! initial parameters into the layer so both sides start from identical values.
mod common;

use std::collections::HashMap;

use common::*;
use tapegan::nn::{
    self, init, load_state_dict, named_parameters, state_dict, Act, Activation, BatchNorm, Ctx,
    Dropout, Embedding, HostValue, Init, InstanceNorm, Linear, Module, NormConfig, SelfAttention,
    Sequential, SpectralNorm,
};
use tapegan::{grad, grad_with, Generator, GradOptions, Tensor};

// ---------------------------------------------------------------------------------------------
// Golden access
// ---------------------------------------------------------------------------------------------

/// One golden file of `scripts/goldens_layers.py`.
struct G {
    name: &'static str,
    d: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl G {
    fn load(name: &'static str) -> G {
        G {
            name,
            d: golden(name),
        }
    }

    fn get(&self, k: &str) -> &(Vec<usize>, Vec<f32>) {
        self.d
            .get(k)
            .unwrap_or_else(|| panic!("{}: no key {k:?} in the golden file", self.name))
    }

    fn vals(&self, k: &str) -> &[f32] {
        &self.get(k).1
    }

    fn shape(&self, k: &str) -> &[usize] {
        &self.get(k).0
    }

    /// The stored tensor `k`, uploaded.
    fn t(&self, k: &str) -> Tensor {
        let (s, v) = self.get(k);
        t(v, s)
    }

    /// The stored tensor `k`, uploaded as a variable.
    fn var(&self, k: &str) -> Tensor {
        let (s, v) = self.get(k);
        var(v, s)
    }

    /// The `sd.*` entries as a state dict (`num_batches_tracked` as an integer).
    fn state(&self) -> HashMap<String, HostValue> {
        self.d
            .iter()
            .filter_map(|(k, (s, v))| {
                let key = k.strip_prefix("sd.")?;
                let hv = if key.ends_with("num_batches_tracked") {
                    HostValue::Int(v[0] as i64)
                } else {
                    HostValue::F32 {
                        shape: s.clone(),
                        data: v.clone(),
                    }
                };
                Some((key.to_string(), hv))
            })
            .collect()
    }

    /// `got` against the stored `k`: same shape, |got − want| ≤ 1e-4·|want| + 1e-5·max|want|.
    fn check(&self, got: &Tensor, k: &str) {
        self.check_tol(got, k, 1e-4, 1e-5);
    }

    fn check_tol(&self, got: &Tensor, k: &str, rtol: f32, atol_rel: f32) {
        let what = format!("{}/{k}", self.name);
        assert_eq!(got.shape(), self.shape(k), "{what}: shape");
        close_tol(&got.to_vec().unwrap(), self.vals(k), rtol, atol_rel, &what);
    }
}

/// |got − want| ≤ rtol·|want| + atol_rel·max|want| elementwise (the absolute part covers
/// elements that are small only through cancellation).
fn close_tol(got: &[f32], want: &[f32], rtol: f32, atol_rel: f32, what: &str) {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert_close(got, want, rtol, atol_rel * scale + 1e-7, what);
}

fn close(got: &[f32], want: &[f32], what: &str) {
    close_tol(got, want, 1e-4, 1e-5, what);
}

fn rng() -> Generator {
    Generator::new(7)
}

/// Σ out ⊙ gout: the scalar whose gradients the goldens store as `grad.*`.
fn weighted_sum(out: &Tensor, gout: &Tensor) -> Tensor {
    out.mul(gout).unwrap().sum_all().unwrap()
}

/// Gradients of `loss` w.r.t. each (golden key, tensor), checked against `grad.<key>`.
fn check_grads(g: &G, loss: &Tensor, wrt: &[(&str, &Tensor)]) {
    let ts: Vec<&Tensor> = wrt.iter().map(|(_, t)| *t).collect();
    let grads = grad(&[loss], &ts, false).unwrap();
    for ((k, _), gr) in wrt.iter().zip(&grads) {
        g.check(gr, &format!("grad.{k}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Linear, Embedding
// ---------------------------------------------------------------------------------------------

fn linear_case(name: &'static str, bias: bool) {
    let g = G::load(name);
    let mut r = rng();
    let lin = Linear::new(&gpu(), 5, 3, bias, Init::PyTorch, &mut r).unwrap();
    load_state_dict(&lin, &g.state()).unwrap();
    let x = g.var("x");
    let out = lin.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    let mut wrt = vec![("x", &x), ("weight", lin.weight.param())];
    if let Some(b) = &lin.bias {
        wrt.push(("bias", b));
    }
    check_grads(&g, &loss, &wrt);
    let names: Vec<String> = named_parameters(&lin).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        if bias {
            vec!["weight", "bias"]
        } else {
            vec!["weight"]
        }
    );
}

#[test]
fn linear_forward_and_gradients() {
    linear_case("layer_linear", true);
}

#[test]
fn linear_without_bias() {
    linear_case("layer_linear_nobias", false);
}

#[test]
fn embedding_forward_and_weight_gradient_with_repeated_labels() {
    let g = G::load("layer_embedding");
    let mut r = rng();
    let emb = Embedding::new(&gpu(), 6, 4, &mut r).unwrap();
    load_state_dict(&emb, &g.state()).unwrap();
    let labels: Vec<u32> = g.vals("labels").iter().map(|&v| v as u32).collect();
    let x = Tensor::from_u32(&gpu(), &labels, &[labels.len()]).unwrap();
    let out = emb.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    check_grads(&g, &loss, &[("weight", &emb.weight)]);
    // Row 4 is never picked; row 1 three times.
    assert!(g.vals("grad.weight")[16..20].iter().all(|&v| v == 0.0));
}

// ---------------------------------------------------------------------------------------------
// Batch norm
// ---------------------------------------------------------------------------------------------

fn batch_norm_case(name: &'static str, config: NormConfig) {
    let g = G::load(name);
    let c = g.shape("sd.weight")[0];
    let bn = BatchNorm::new(&gpu(), c, config).unwrap();
    load_state_dict(&bn, &g.state()).unwrap();
    assert_eq!(
        bn.num_batches_tracked
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let mut r = rng();

    // First training step: output and gradients.
    let x0 = g.var("x0");
    let out = bn.forward(&x0, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    check_grads(
        &g,
        &loss,
        &[("x", &x0), ("weight", &bn.weight), ("bias", &bn.bias)],
    );

    // Two more steps on different batches, then the running statistics.
    for k in ["x1", "x2"] {
        bn.forward(&g.t(k), &mut Ctx::train(&mut r)).unwrap();
    }
    g.check(&bn.running_mean, "running_mean");
    g.check(&bn.running_var, "running_var");
    let sd: HashMap<String, HostValue> = state_dict(&bn).unwrap().into_iter().collect();
    assert_eq!(
        sd["num_batches_tracked"],
        HostValue::Int(3),
        "{name}: num_batches_tracked"
    );
    assert_eq!(g.vals("num_batches_tracked"), &[3.0]);

    // Evaluation uses (and leaves alone) the running statistics.
    let out = bn.forward(&g.t("x_eval"), &mut Ctx::eval(&mut r)).unwrap();
    g.check(&out, "out_eval");
    g.check(&bn.running_mean, "running_mean");
    g.check(&bn.running_var, "running_var");
    assert_eq!(
        bn.num_batches_tracked
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn batch_norm_1d_matches_pytorch() {
    batch_norm_case("layer_bn1d", NormConfig::pytorch());
}

#[test]
fn batch_norm_2d_matches_pytorch() {
    batch_norm_case("layer_bn2d", NormConfig::pytorch());
}

#[test]
fn batch_norm_keras_config_uses_biased_running_variance() {
    // eps 1e-3, momentum 0.01, biased running variance (the golden computes these by hand).
    batch_norm_case("layer_bn2d_keras", NormConfig::keras());
}

// ---------------------------------------------------------------------------------------------
// Instance norm
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Dropout
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Activation modules: double backward (Linear → activation), slopes ≠ the op-level goldens'
// ---------------------------------------------------------------------------------------------

fn activation_case(name: &'static str, act: Activation) {
    let g = G::load(name);
    let mut r = rng();
    let seq = Sequential::new()
        .layer(Linear::new(&gpu(), 5, 3, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(act));
    load_state_dict(&seq, &g.state()).unwrap();
    let x = g.var("x");
    let out = seq.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let opts = GradOptions {
        create_graph: true,
        grad_outputs: Some(vec![g.t("gout")]),
        ..Default::default()
    };
    let g1 = grad_with(&[&out], &[&x], &opts).unwrap().remove(0).unwrap();
    g.check(&g1, "g1");
    let s = g1.mul(&g.t("v")).unwrap().sum_all().unwrap();
    g.check(&s, "s");
    let params = named_parameters(&seq);
    let mut wrt: Vec<(&str, &Tensor)> = vec![("x", &x)];
    wrt.extend(params.iter().map(|(k, p)| (k.as_str(), p)));
    let ts: Vec<&Tensor> = wrt.iter().map(|(_, t)| *t).collect();
    let opts = GradOptions {
        allow_unused: true,
        ..Default::default()
    };
    let g2 = grad_with(&[&s], &ts, &opts).unwrap();
    for ((k, t), gr) in wrt.iter().zip(g2) {
        let gr = gr.unwrap_or_else(|| t.zeros_like().unwrap());
        g.check(&gr, &format!("grad2.{k}"));
    }
}

#[test]
fn leaky_relu_module_double_backward() {
    activation_case("layer_act_leaky_relu", Activation::LeakyRelu(0.2));
}

#[test]
fn elu_module_double_backward() {
    activation_case("layer_act_elu", Activation::Elu(0.5));
}

// ---------------------------------------------------------------------------------------------
// Spectral norm
// ---------------------------------------------------------------------------------------------

fn spectral_norm_case(name: &'static str, dim: usize) {
    let g = G::load(name);
    let mut r = rng();
    let w = init::weight(&gpu(), g.shape("weight_orig"), Init::PyTorch, &mut r).unwrap();
    let sn = SpectralNorm::new(w, dim, &mut r).unwrap();
    assert_eq!(sn.u.shape(), g.shape("u0"), "{name}: u shape");
    assert_eq!(sn.v.shape(), g.shape("v0"), "{name}: v shape");
    // Fresh u, v are unit vectors.
    for (k, t) in [("u", &sn.u), ("v", &sn.v)] {
        let n = norm(&t.to_vec().unwrap());
        assert!((n - 1.0).abs() < 1e-5, "{name}: fresh {k} has norm {n}");
    }
    sn.weight_orig.write(g.vals("weight_orig")).unwrap();
    sn.u.write(g.vals("u0")).unwrap();
    sn.v.write(g.vals("v0")).unwrap();

    // One training forward: one power-iteration step, stored back into u and v.
    let w1 = sn.weight(true).unwrap();
    g.check(&w1, "weight1");
    g.check(&sn.u, "u1");
    g.check(&sn.v, "v1");
    // Gradient through W/σ with u, v held constant.
    let loss = weighted_sum(&w1, &g.t("r"));
    let gw = grad(&[&loss], &[&sn.weight_orig], false).unwrap().remove(0);
    g.check(&gw, "grad1");
    // σ with the stored vectors (evaluation mode does not iterate).
    let u1 = sn.u.to_vec().unwrap();
    g.check(&sn.sigma(false).unwrap(), "sigma1");
    assert_eq!(sn.u.to_vec().unwrap(), u1, "{name}: eval-mode σ changed u");

    // Four more training forwards (five in all).
    for _ in 0..4 {
        sn.weight(true).unwrap();
    }
    g.check(&sn.u, "u5");
    g.check(&sn.v, "v5");
    g.check(&sn.sigma(false).unwrap(), "sigma5");
    let (u5, v5) = (sn.u.to_vec().unwrap(), sn.v.to_vec().unwrap());
    // An eval forward uses u5, v5 as stored and leaves them alone.
    let we = sn.weight(false).unwrap();
    g.check(&we, "weight5");
    assert_eq!(sn.u.to_vec().unwrap(), u5, "{name}: eval forward changed u");
    assert_eq!(sn.v.to_vec().unwrap(), v5, "{name}: eval forward changed v");
}

#[test]
fn spectral_norm_linear_weight() {
    spectral_norm_case("layer_sn_linear", 0);
}

#[test]
fn spectral_norm_conv_weight() {
    spectral_norm_case("layer_sn_conv", 0);
}

#[test]
fn spectral_norm_conv_transpose_weight_dim1() {
    spectral_norm_case("layer_sn_convt", 1);
}

#[test]
fn spectral_norm_linear_layer_uses_w_over_sigma_in_training_only_updates() {
    // Linear::spectral_norm end to end with the golden's W, u0, v0 (bias zero).
    let g = G::load("layer_sn_linear");
    let mut r = rng();
    let lin = Linear::new(&gpu(), 7, 5, true, Init::PyTorch, &mut r)
        .unwrap()
        .spectral_norm(&mut r)
        .unwrap();
    let mut sd = HashMap::new();
    for (k, src) in [
        ("weight_orig", "weight_orig"),
        ("weight_u", "u0"),
        ("weight_v", "v0"),
    ] {
        let (s, v) = g.get(src);
        sd.insert(
            k.to_string(),
            HostValue::F32 {
                shape: s.clone(),
                data: v.clone(),
            },
        );
    }
    sd.insert(
        "bias".into(),
        HostValue::F32 {
            shape: vec![5],
            data: vec![0.0; 5],
        },
    );
    load_state_dict(&lin, &sd).unwrap();
    let xs = rand_vec(14, 5, -1.0, 1.0);
    let x = t(&xs, &[2, 7]);
    let y = lin
        .forward(&x, &mut Ctx::train(&mut r))
        .unwrap()
        .to_vec()
        .unwrap();
    // y = x·(W/σ)ᵀ with the golden weight1.
    let w1 = g.vals("weight1");
    let (xs, w1) = (&xs, w1);
    let want: Vec<f32> = (0..2)
        .flat_map(|i| {
            (0..5).map(move |o| (0..7).map(|j| xs[i * 7 + j] * w1[o * 7 + j]).sum::<f32>())
        })
        .collect();
    close_tol(&y, &want, 1e-4, 1e-5, "sn linear forward");
    let sd: HashMap<String, HostValue> = state_dict(&lin).unwrap().into_iter().collect();
    let HostValue::F32 { data: u, .. } = &sd["weight_u"] else {
        panic!()
    };
    close(
        u,
        g.vals("u1"),
        "sn linear weight_u after a training forward",
    );
    // Evaluation does not move u.
    lin.forward(&x, &mut Ctx::eval(&mut r)).unwrap();
    let sd2: HashMap<String, HostValue> = state_dict(&lin).unwrap().into_iter().collect();
    assert_eq!(sd["weight_u"], sd2["weight_u"]);
}

// ---------------------------------------------------------------------------------------------
// Self-attention
// ---------------------------------------------------------------------------------------------

#[test]
fn self_attention_forward_map_and_gradients() {
    let g = G::load("layer_attention");
    let mut r = rng();
    let sa = SelfAttention::new(&gpu(), 16, Init::PyTorch, &mut r).unwrap();
    load_state_dict(&sa, &g.state()).unwrap();
    assert_eq!(sa.gamma.to_vec().unwrap(), [0.7f32]);
    let x = g.var("x");
    let mut ctx = Ctx::train(&mut r);
    ctx.attention = Some(Vec::new());
    let out = sa.forward(&x, &mut ctx).unwrap();
    g.check(&out, "out");
    let maps = ctx.attention.take().unwrap();
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].size, (4, 4));
    let parts: Vec<&Tensor> = maps[0].chunks.iter().collect();
    let attn = Tensor::concat(&parts, 0).unwrap();
    g.check(&attn, "attn");
    // Rows sum to one over the key positions; rows() picks query position 5 of each sample.
    let a = g.vals("attn");
    let rows = maps[0].rows(5).unwrap();
    for (b, row) in rows.iter().enumerate() {
        close(
            row,
            &a[b * 256 + 5 * 16..b * 256 + 6 * 16],
            "attention row 5",
        );
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let params = named_parameters(&sa);
    let mut wrt: Vec<(&str, &Tensor)> = vec![("x", &x)];
    wrt.extend(params.iter().map(|(k, p)| (k.as_str(), p)));
    assert_eq!(wrt.len(), 8);
    let ts: Vec<&Tensor> = wrt.iter().map(|(_, t)| *t).collect();
    let grads = grad(&[&weighted_sum(&out, &g.t("gout"))], &ts, false).unwrap();
    for ((k, _), gr) in wrt.iter().zip(&grads) {
        if *k == "key_conv.bias" {
            // Exactly zero: a key bias adds qᵢ·b to every score of row i, which the softmax over
            // the keys cancels. Computed, it is a sum of terms the size of the key-weight
            // gradient that cancel in f32, so it is held to 1e-5 of that gradient's scale.
            let scale = g
                .vals("grad.key_conv.weight")
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            assert!(g.vals("grad.key_conv.bias").iter().all(|v| v.abs() < 1e-12));
            assert_close(
                &gr.to_vec().unwrap(),
                &[0.0, 0.0],
                0.0,
                1e-5 * scale,
                "grad.key_conv.bias",
            );
        } else {
            g.check(gr, &format!("grad.{k}"));
        }
    }
}

/// Output and the gradients of Σ out ⊙ gout w.r.t. x and every parameter, on the host.
fn attention_run(
    sa: &SelfAttention,
    x: &[f32],
    gout: &[f32],
    shape: &[usize],
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let x = var(x, shape);
    let (out, _) = sa.forward_with_map(&x).unwrap();
    let params = named_parameters(sa);
    let mut wrt = vec![&x];
    wrt.extend(params.iter().map(|(_, p)| p));
    let grads = grad(&[&weighted_sum(&out, &t(gout, shape))], &wrt, false).unwrap();
    let grads = grads.iter().map(|g| g.to_vec().unwrap()).collect();
    (out.to_vec().unwrap(), grads)
}

#[test]
fn self_attention_batch_equals_samples_run_separately() {
    // Batch 3, C 8, 8×8 (N = 64): the batch result must be the three single-sample results
    // (the per-chunk loop, narrow and concat must keep samples apart and in order).
    let mut r = rng();
    let sa = SelfAttention::new(&gpu(), 8, Init::PyTorch, &mut r).unwrap();
    sa.gamma.write(&[0.9]).unwrap();
    let (b, c, n) = (3, 8, 64);
    let per = c * n;
    let xs = rand_vec(b * per, 21, -2.0, 2.0);
    let gs = rand_vec(b * per, 22, -1.0, 1.0);
    let (out, grads) = attention_run(&sa, &xs, &gs, &[b, c, 8, 8]);
    let mut sum_param_grads: Vec<Vec<f32>> =
        grads[1..].iter().map(|g| vec![0.0; g.len()]).collect();
    for i in 0..b {
        let s = i * per..(i + 1) * per;
        let (o1, g1) = attention_run(&sa, &xs[s.clone()], &gs[s.clone()], &[1, c, 8, 8]);
        close_tol(&out[s.clone()], &o1, 1e-6, 1e-6, "batch vs single: out");
        close_tol(&grads[0][s], &g1[0], 1e-6, 1e-6, "batch vs single: grad x");
        for (acc, g) in sum_param_grads.iter_mut().zip(&g1[1..]) {
            acc.iter_mut().zip(g).for_each(|(a, v)| *a += v);
        }
    }
    for (k, (got, want)) in grads[1..].iter().zip(&sum_param_grads).enumerate() {
        close_tol(
            got,
            want,
            1e-5,
            1e-5,
            &format!("batch vs single: parameter grad {k}"),
        );
    }
}

#[test]
#[ignore = "about 15 s on lavapipe; run with `cargo test --test layers -- --ignored`"]
fn self_attention_chunked_batch_equals_samples_run_separately() {
    // The batch-chunking path proper. At N = 48·64 = 3072 one score matrix takes 36 MiB: with a
    // 128 MiB binding limit (lavapipe, and wgpu's default) the block forms them one sample at a
    // time. On adapters with a larger limit this runs as one chunk and still checks the same
    // equality. Ignored by default for its run time; the batch-of-3 test above covers the loop's
    // bookkeeping at a size where it does not split.
    let mut r = rng();
    let sa = SelfAttention::new(&gpu(), 8, Init::PyTorch, &mut r).unwrap();
    sa.gamma.write(&[0.9]).unwrap();
    let (b, c, h, w) = (2, 8, 48, 64);
    let per = c * h * w;
    let xs = rand_vec(b * per, 31, -2.0, 2.0);
    let x = t(&xs, &[b, c, h, w]);
    let (out, map) = sa.forward_with_map(&x).unwrap();
    let chunk_rows: usize = map.chunks.iter().map(|c| c.shape()[0]).sum();
    assert_eq!(chunk_rows, b);
    if gpu().max_binding_bytes() <= 128 << 20 {
        assert_eq!(map.chunks.len(), b, "expected one chunk per sample");
    }
    let out = out.to_vec().unwrap();
    let rows = map.rows(1234).unwrap();
    assert_eq!(rows.len(), b);
    for (i, row) in rows.iter().enumerate() {
        let s = i * per..(i + 1) * per;
        let (o1, m1) = sa
            .forward_with_map(&t(&xs[s.clone()], &[1, c, h, w]))
            .unwrap();
        close_tol(
            &out[s],
            &o1.to_vec().unwrap(),
            1e-6,
            1e-6,
            "chunked vs single: out",
        );
        assert_eq!(
            *row,
            m1.rows(1234).unwrap()[0],
            "chunked vs single: attention row"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// State-dict names and shapes
// ---------------------------------------------------------------------------------------------

/// The module's state-dict keys and shapes equal those of the PyTorch twin; loading the twin's
/// values and reading them back is exact.
fn keys_match(golden_name: &'static str, m: &dyn Module) {
    let g = G::load(golden_name);
    let want: HashMap<String, Vec<usize>> =
        g.d.iter()
            .filter_map(|(k, (s, _))| Some((k.strip_prefix("sd.")?.to_string(), s.clone())))
            .collect();
    let got: HashMap<String, Vec<usize>> = state_dict(m)
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                HostValue::F32 { shape, .. } => shape,
                HostValue::Int(_) => vec![],
            };
            (k, s)
        })
        .collect();
    let mut gk: Vec<_> = got.iter().collect();
    let mut wk: Vec<_> = want.iter().collect();
    gk.sort();
    wk.sort();
    assert_eq!(gk, wk, "{golden_name}: state-dict keys and shapes");
    load_state_dict(m, &g.state()).unwrap();
    for (k, v) in state_dict(m).unwrap() {
        match v {
            HostValue::F32 { data, .. } => {
                assert_eq!(data, g.vals(&format!("sd.{k}")), "{golden_name}/{k}")
            }
            HostValue::Int(i) => {
                assert_eq!(i as f32, g.vals(&format!("sd.{k}"))[0], "{golden_name}/{k}")
            }
        }
    }
}

#[test]
fn state_dict_names_and_shapes_match_pytorch() {
    let gpu = gpu();
    let mut r = rng();
    keys_match(
        "layer_keys_linear",
        &Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r).unwrap(),
    );
    keys_match(
        "layer_keys_bn2d",
        &BatchNorm::new(&gpu, 4, NormConfig::pytorch()).unwrap(),
    );
    keys_match(
        "layer_keys_embedding",
        &Embedding::new(&gpu, 10, 6, &mut r).unwrap(),
    );
    keys_match(
        "layer_keys_sn_linear",
        &Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r)
            .unwrap()
            .spectral_norm(&mut r)
            .unwrap(),
    );
    keys_match(
        "layer_keys_attention",
        &SelfAttention::new(&gpu, 16, Init::PyTorch, &mut r).unwrap(),
    );
    let seq = Sequential::new()
        .layer(Linear::new(&gpu, 5, 8, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(Activation::LeakyRelu(0.2)))
        .layer(BatchNorm::new(&gpu, 8, NormConfig::pytorch()).unwrap())
        .layer(Linear::new(&gpu, 8, 2, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(Activation::Tanh));
    keys_match("layer_keys_sequential", &seq);
}

#[test]
fn spectral_norm_vector_shapes_match_pytorch_for_conv_weights() {
    // There is no convolution module in nn; the power-iteration vectors of a conv weight
    // [out, in, k, k] (dim 0) and a transposed-conv weight [in, out, k, k] (dim 1) must have
    // PyTorch's weight_u / weight_v shapes.
    let mut r = rng();
    for (name, dim) in [("layer_keys_sn_conv", 0), ("layer_keys_sn_convt", 1)] {
        let g = G::load(name);
        let w = init::weight(&gpu(), g.shape("sd.weight_orig"), Init::PyTorch, &mut r).unwrap();
        let sn = SpectralNorm::new(w, dim, &mut r).unwrap();
        assert_eq!(sn.u.shape(), g.shape("sd.weight_u"), "{name}: weight_u");
        assert_eq!(sn.v.shape(), g.shape("sd.weight_v"), "{name}: weight_v");
    }
}

#[test]
fn load_state_dict_errors_are_clear() {
    let gpu = gpu();
    let mut r = rng();
    let lin = Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r).unwrap();
    let g = G::load("layer_keys_linear");
    let full = g.state();

    let mut missing = full.clone();
    missing.remove("bias");
    let e = load_state_dict(&lin, &missing).unwrap_err().to_string();
    assert!(e.contains("missing key 'bias'"), "{e}");

    let mut extra = full.clone();
    extra.insert(
        "foo.weight".into(),
        HostValue::F32 {
            shape: vec![1],
            data: vec![0.0],
        },
    );
    let e = load_state_dict(&lin, &extra).unwrap_err().to_string();
    assert!(
        e.contains("unexpected key 'foo.weight'") && e.contains("weight, bias"),
        "{e}"
    );

    let mut wrong = full.clone();
    wrong.insert(
        "weight".into(),
        HostValue::F32 {
            shape: vec![5, 3],
            data: vec![0.0; 15],
        },
    );
    let e = load_state_dict(&lin, &wrong).unwrap_err().to_string();
    assert!(
        e.contains("'weight'") && e.contains("[5, 3]") && e.contains("[3, 5]"),
        "{e}"
    );

    let bn = BatchNorm::new(&gpu, 4, NormConfig::pytorch()).unwrap();
    let mut bad = G::load("layer_keys_bn2d").state();
    bad.insert("running_mean".into(), HostValue::Int(1));
    let e = load_state_dict(&bn, &bad).unwrap_err().to_string();
    assert!(e.contains("'running_mean'"), "{e}");

    // A failed load of a wrong shape leaves the layer usable with a correct one afterwards.
    load_state_dict(&lin, &full).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Initialisers
// ---------------------------------------------------------------------------------------------

/// (min, max, mean, standard deviation) in f64.
fn moments(v: &[f32]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let min = v.iter().fold(f64::INFINITY, |m, &x| m.min(x as f64));
    let max = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    (min, max, mean, var.sqrt())
}

/// U(−b, b): every value within ±b, extremes within 1% of ±b, mean 0 and std b/√3 (to 5σ of
/// their sampling error and 2% respectively).
fn assert_uniform(v: &[f32], b: f64, what: &str) {
    let (min, max, mean, std) = moments(v);
    let n = v.len() as f64;
    assert!(
        min >= -b && max <= b,
        "{what}: range [{min}, {max}] exceeds ±{b}"
    );
    assert!(
        min < -0.99 * b && max > 0.99 * b,
        "{what}: range [{min}, {max}] does not reach ±{b}"
    );
    let sd = b / 3f64.sqrt();
    assert!(mean.abs() < 5.0 * sd / n.sqrt(), "{what}: mean {mean}");
    assert!(
        (std / sd - 1.0).abs() < 0.02,
        "{what}: std {std}, want {sd}"
    );
}

fn assert_normal(v: &[f32], mean_want: f64, sd: f64, what: &str) {
    let (min, max, mean, std) = moments(v);
    let n = v.len() as f64;
    assert!(
        (mean - mean_want).abs() < 5.0 * sd / n.sqrt(),
        "{what}: mean {mean}, want {mean_want}"
    );
    assert!(
        (std / sd - 1.0).abs() < 0.03,
        "{what}: std {std}, want {sd}"
    );
    assert!(
        min > mean_want - 7.0 * sd && max < mean_want + 7.0 * sd,
        "{what}: range [{min}, {max}]"
    );
}

#[test]
fn initialisers_have_the_right_bounds_and_moments() {
    let gpu = gpu();
    let mut r = Generator::new(2024);
    let draw = |shape: &[usize], i: Init, r: &mut Generator| {
        init::weight(&gpu, shape, i, r).unwrap().to_vec().unwrap()
    };

    // PyTorch: U(±1/√fan_in), fan_in from dim 1.
    assert_uniform(
        &draw(&[256, 128], Init::PyTorch, &mut r),
        1.0 / 128f64.sqrt(),
        "PyTorch linear",
    );
    // ConvTranspose weight [in 16, out 32, 4, 4]: fan_in = 32·16 = 512 (not 16·16).
    assert_uniform(
        &draw(&[16, 32, 4, 4], Init::PyTorch, &mut r),
        1.0 / 512f64.sqrt(),
        "PyTorch convT",
    );
    let b = init::bias(&gpu, 20000, &[16, 32, 4, 4], Init::PyTorch, &mut r).unwrap();
    assert_uniform(
        &b.to_vec().unwrap(),
        1.0 / 512f64.sqrt(),
        "PyTorch convT bias",
    );
    assert!(b.requires_grad());

    // Keras: glorot U(±√(6/(fan_in+fan_out))), biases zero.
    assert_uniform(
        &draw(&[256, 128], Init::Keras, &mut r),
        (6.0f64 / 384.0).sqrt(),
        "Keras dense",
    );
    assert_uniform(
        &draw(&[64, 32, 4, 4], Init::Keras, &mut r),
        (6.0f64 / (512.0 + 1024.0)).sqrt(),
        "Keras conv",
    );
    let b = init::bias(&gpu, 64, &[64, 32], Init::Keras, &mut r).unwrap();
    assert!(b.to_vec().unwrap().iter().all(|&v| v == 0.0));

    // N(0, 0.02), biases zero.
    let w = init::weight(&gpu, &[512, 256], Init::Normal(0.02), &mut r).unwrap();
    assert!(w.requires_grad());
    assert_normal(&w.to_vec().unwrap(), 0.0, 0.02, "Normal(0.02)");
    let b = init::bias(&gpu, 64, &[64, 32], Init::Normal(0.02), &mut r).unwrap();
    assert!(b.to_vec().unwrap().iter().all(|&v| v == 0.0));

    // DCGAN batch norm: weight N(1, 0.02), bias 0.
    let bn = BatchNorm::new_normal(&gpu, 100_000, NormConfig::pytorch(), 0.02, &mut r).unwrap();
    assert_normal(
        &bn.weight.to_vec().unwrap(),
        1.0,
        0.02,
        "BatchNorm::new_normal weight",
    );
    assert!(bn.bias.to_vec().unwrap().iter().all(|&v| v == 0.0));
    assert!(bn.weight.requires_grad() && bn.bias.requires_grad());

    // Embeddings: PyTorch N(0, 1), Keras U(±0.05).
    let e = Embedding::new(&gpu, 1000, 100, &mut r).unwrap();
    assert_normal(&e.weight.to_vec().unwrap(), 0.0, 1.0, "Embedding");
    let e = Embedding::new_keras(&gpu, 1000, 100, &mut r).unwrap();
    assert_uniform(&e.weight.to_vec().unwrap(), 0.05, "Embedding (Keras)");

    // Independent draws differ; the same seed repeats.
    let a = draw(&[64, 64], Init::PyTorch, &mut Generator::new(5));
    let a2 = draw(&[64, 64], Init::PyTorch, &mut Generator::new(5));
    let mut g = Generator::new(5);
    draw(&[64, 64], Init::PyTorch, &mut g);
    let c = draw(&[64, 64], Init::PyTorch, &mut g);
    assert_eq!(a, a2);
    assert_ne!(a, c);
}

#[test]
fn module_summary_names() {
    let mut r = rng();
    let lin = Linear::new(&gpu(), 784, 128, false, Init::PyTorch, &mut r).unwrap();
    assert_eq!(lin.describe(), "Linear(784 → 128, no bias)");
    assert_eq!(nn::parameter_count(&lin), 784 * 128);
}
