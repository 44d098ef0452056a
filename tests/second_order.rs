//! Gradients of gradients: double-backward goldens for every op a critic uses, the WGAN-GP
//! critic loss of SPEC §3 (the gradient penalty) against PyTorch, and a finite-difference check
//! of a gradient-penalty loss on the GPU.
//!
//! Goldens come from `scripts/goldens.py`; see its docstring for the key layout.
mod common;
use common::*;
use tapegan::{grad, grad_with, losses, GradOptions, Result, Tensor};

/// Runs `f` on the inputs of double-backward case `name`: g1 = ∂(Σ out·gout)/∂(inputs with a
/// `v.` key) with create_graph, s = Σ ⟨g1, v⟩, then ∂s/∂(every input). Checks out, g1, s and
/// the second gradients; an input s does not depend on must have a golden of zeros.
fn check_dd_tol(name: &str, tol: Tol, f: impl Fn(&Case) -> Result<Tensor>) {
    let c = Case::load(name);
    let out = f(&c).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
    c.check(&out, "out", tol);
    let first_wrt = c.with_prefix("v.");
    assert!(!first_wrt.is_empty(), "{name}: no v.<k> keys");
    let wrt: Vec<&Tensor> = first_wrt.iter().map(|k| c.x(k)).collect();
    let opts = GradOptions {
        create_graph: true,
        grad_outputs: Some(vec![c.upload("gout")]),
        ..Default::default()
    };
    let g1 =
        grad_with(&[&out], &wrt, &opts).unwrap_or_else(|e| panic!("{name}: first backward: {e}"));
    let mut s: Option<Tensor> = None;
    for (k, g) in first_wrt.iter().zip(&g1) {
        let g = g.as_ref().unwrap();
        c.check(g, &format!("g1.{k}"), tol);
        let term = g
            .mul(&c.upload(&format!("v.{k}")))
            .unwrap()
            .sum_all()
            .unwrap();
        s = Some(match s {
            None => term,
            Some(acc) => acc.add(&term).unwrap(),
        });
    }
    let s = s.unwrap();
    c.check(&s, "s", tol);
    let names = c.inputs();
    let all: Vec<&Tensor> = names.iter().map(|k| c.x(k)).collect();
    let opts = GradOptions {
        allow_unused: true,
        ..Default::default()
    };
    let g2 =
        grad_with(&[&s], &all, &opts).unwrap_or_else(|e| panic!("{name}: second backward: {e}"));
    for (k, g) in names.iter().zip(&g2) {
        c.check_opt(g.as_ref(), &format!("grad2.{k}"), tol);
    }
}

fn check_dd(name: &str, f: impl Fn(&Case) -> Result<Tensor>) {
    check_dd_tol(name, Tol::GOLDEN, f)
}

/// x·Wᵀ + b with PyTorch's weight layout [out, in].
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.matmul_t(w, false, true)?.add(b)
}

#[test]
fn double_backward_of_linear_and_activations_matches_pytorch() {
    check_dd("dd_linear", |c| linear(c.x("x"), c.x("w"), c.x("b")));
    type Act = fn(&Tensor) -> Result<Tensor>;
    let acts: [(&str, Act); 6] = [
        ("leaky_relu", |z| z.leaky_relu(0.3)),
        ("relu", Tensor::relu),
        ("elu", |z| z.elu(1.0)),
        ("tanh", Tensor::tanh),
        ("sigmoid", Tensor::sigmoid),
        ("softplus", Tensor::softplus),
    ];
    for (name, act) in acts {
        check_dd(&format!("dd_linear_{name}"), |c| {
            act(&linear(c.x("x"), c.x("w"), c.x("b"))?)
        });
    }
}

#[test]
fn double_backward_of_dropout_reductions_and_arithmetic_matches_pytorch() {
    check_dd("dd_dropout", |c| {
        let h = linear(c.x("x"), c.x("w"), c.x("b"))?.tanh()?;
        h.mul(c.x("mask"))?
            .mul_scalar(1.0 / (1.0 - 0.5))?
            .matmul_t(c.x("w2"), false, true)
    });
    check_dd("dd_sum_mean", |c| {
        let x = c.x("x");
        let a = x.sum(&[1], true)?.square()?.mul(&x.mean(&[0], false)?)?;
        a.add(&x.mean_all()?.mul(&x.sum_all()?)?)
    });
    for shape in ["5x7", "4x12", "2x3x256"] {
        check_dd(&format!("dd_softmax_{shape}"), |c| {
            c.x("x").softmax(-1)?.mul(c.x("w"))
        });
    }
    for shape in ["6x5", "300x2"] {
        check_dd(&format!("dd_softmax_cross_entropy_{shape}"), |c| {
            losses::softmax_cross_entropy(c.x("x"), c.x("labels"))
        });
    }
    for shape in ["5x7", "4x12", "2x2x128"] {
        check_dd(&format!("dd_log_softmax_{shape}"), |c| {
            c.x("x").log_softmax(-1)?.mul(c.x("w"))
        });
    }
    check_dd("dd_square", |c| c.x("x").square()?.mul(c.x("w")));
    check_dd("dd_sqrt", |c| c.x("x").sqrt()?.mul(c.x("w")));
    check_dd("dd_norm", |c| c.x("x").square()?.sum(&[1], false)?.sqrt());
    check_dd("dd_add_sub_div", |c| {
        let (a, b) = (c.x("a"), c.x("b"));
        a.add(b)?.div(c.x("c"))?.sub(&a.sub(b)?.square()?)
    });
    check_dd("dd_mini_critic", |c| {
        let h = linear(c.x("x"), c.x("w1"), c.x("b1"))?.leaky_relu(0.3)?;
        let h = h.mul(c.x("mask"))?.mul_scalar(2.0)?;
        let h = linear(&h, c.x("w2"), c.x("b2"))?.elu(1.0)?;
        linear(&h, c.x("w3"), c.x("b3"))
    });
}

// ---------------------------------------------------------------------------------------------
// The WGAN-GP critic (SPEC §3)
// ---------------------------------------------------------------------------------------------

/// Linear 784→128 → LeakyReLU(0.3) → Dropout(0.5) (×3, fixed masks) → Linear 128→1.
/// `pass` picks the stored masks of that forward pass (r: real, f: fake, h: x̂).
fn critic(c: &Case, x: &Tensor, pass: char) -> Result<Tensor> {
    let mut h = x.clone();
    for l in 1..=3 {
        h = linear(&h, c.x(&format!("w{l}")), c.x(&format!("b{l}")))?.leaky_relu(0.3)?;
        h = h
            .mul(c.x(&format!("mask_{pass}{l}")))?
            .mul_scalar(1.0 / (1.0 - 0.5))?;
    }
    linear(&h, c.x("w4"), c.x("b4"))
}

#[test]
fn wgan_gp_critic_loss_and_parameter_gradients_match_pytorch() {
    let c = Case::load("wgan_gp_critic");
    let tol = Tol::GOLDEN;
    let (real, fake, eps) = (c.x("real"), c.x("fake"), c.x("eps"));
    let lambda = 10.0;

    // x̂ = fake + ε(real − fake), a leaf the penalty differentiates with respect to.
    let xhat = fake.lerp(real, eps).unwrap();
    assert!(!xhat.requires_grad());
    c.check(&xhat, "xhat", tol);
    let xhat = xhat.with_grad().unwrap();

    let d_xhat = critic(&c, &xhat, 'h').unwrap();
    c.check(&d_xhat, "d_xhat", tol);
    let opts = GradOptions {
        create_graph: true,
        grad_outputs: Some(vec![d_xhat.ones_like().unwrap()]),
        ..Default::default()
    };
    let gp_grad = grad_with(&[&d_xhat], &[&xhat], &opts).unwrap()[0]
        .clone()
        .unwrap();
    assert!(
        gp_grad.requires_grad(),
        "the input gradient must be part of the tape"
    );
    c.check(&gp_grad, "gp_grad", tol);
    let norms = gp_grad
        .square()
        .unwrap()
        .sum(&[1], false)
        .unwrap()
        .sqrt()
        .unwrap();
    c.check(&norms, "norms", tol);
    let penalty = norms
        .add_scalar(-1.0)
        .unwrap()
        .square()
        .unwrap()
        .mul_scalar(lambda)
        .unwrap();
    c.check(&penalty, "penalty", tol);

    let d_real = critic(&c, real, 'r').unwrap();
    let d_fake = critic(&c, fake, 'f').unwrap();
    c.check(&d_real, "d_real", tol);
    c.check(&d_fake, "d_fake", tol);
    let loss = d_fake
        .mean_all()
        .unwrap()
        .sub(&d_real.mean_all().unwrap())
        .unwrap()
        .add(&penalty.mean_all().unwrap())
        .unwrap();
    c.check(&loss, "loss", tol);

    let names = c.inputs();
    assert_eq!(names, ["b1", "b2", "b3", "b4", "w1", "w2", "w3", "w4"]);
    let params: Vec<&Tensor> = names.iter().map(|k| c.x(k)).collect();
    let grads = grad(&[&loss], &params, false).unwrap();
    for (k, g) in names.iter().zip(&grads) {
        c.check(g, &format!("grad.{k}"), tol);
    }

    // The penalty's share of the parameter gradients is not negligible: without the
    // second-order terms the gradients would be far from PyTorch's (so the match above is a
    // test of double backward, not only of the Wasserstein terms).
    let wass = d_fake
        .mean_all()
        .unwrap()
        .sub(&d_real.mean_all().unwrap())
        .unwrap();
    let g_wass = grad(&[&wass], &[c.x("w1")], false).unwrap();
    let (got, want) = (g_wass[0].to_vec().unwrap(), &c.want("grad.w1").1);
    let diff: Vec<f32> = got.iter().zip(want).map(|(a, b)| a - b).collect();
    assert!(
        norm(&diff) > 0.05 * norm(want),
        "the gradient penalty barely changes ∂loss/∂w1; the golden does not exercise double backward"
    );
}

// ---------------------------------------------------------------------------------------------
// Finite differences of a gradient-penalty loss
// ---------------------------------------------------------------------------------------------

/// A small WGAN-GP critic loss (33 → 16 → 16 → 1 with softplus and tanh, with fixed dropout),
/// as a function of the
/// parameters `p = [w1, b1, w2, b2, w3, b3]`. With `second_order` false the input gradient is
/// detached, so the penalty contributes nothing to the parameter gradients (a wrong answer
/// the check must reject).
fn small_gp_loss(p: &[Tensor], data: [&Tensor; 4], second_order: bool) -> Result<Tensor> {
    let [real, fake, eps, mask] = data;
    let d = |x: &Tensor| -> Result<Tensor> {
        let h = linear(x, &p[0], &p[1])?
            .softplus()?
            .mul(mask)?
            .mul_scalar(2.0)?;
        let h = linear(&h, &p[2], &p[3])?.tanh()?;
        linear(&h, &p[4], &p[5])
    };
    let xhat = fake.lerp(real, eps)?.with_grad()?;
    let dx = d(&xhat)?;
    let opts = GradOptions {
        create_graph: true,
        grad_outputs: Some(vec![dx.ones_like()?]),
        ..Default::default()
    };
    let g = grad_with(&[&dx], &[&xhat], &opts)?[0]
        .clone()
        .expect("x̂ is used");
    let g = if second_order { g } else { g.detach() };
    let norms = g.square()?.sum(&[1], false)?.sqrt()?;
    let penalty = norms.add_scalar(-1.0)?.square()?.mul_scalar(10.0)?;
    d(fake)?
        .mean_all()?
        .sub(&d(real)?.mean_all()?)?
        .add(&penalty.mean_all()?)
}

#[test]
fn finite_difference_of_a_gradient_penalty_loss() {
    // The activations must be C²: the loss contains the critic's first derivative, so with
    // LeakyReLU or ELU (whose derivative has a kink) the loss itself has kinks in θ and a
    // central difference that straddles one is off by O(1)·(fraction of units crossing).
    let shapes: [&[usize]; 6] = [&[16, 33], &[16], &[16, 16], &[16], &[1, 16], &[1]];
    let values: Vec<Vec<f32>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let fan_in = if s.len() == 2 { s[1] } else { 16 } as f32;
            rand_vec(s.iter().product(), 40 + i as u64, -1.5, 1.5)
                .into_iter()
                .map(|v| v / fan_in.sqrt())
                .collect()
        })
        .collect();
    let real = t(&rand_vec(8 * 33, 50, -1.0, 1.0), &[8, 33]);
    let fake = t(&rand_vec(8 * 33, 51, -1.0, 1.0), &[8, 33]);
    let eps = t(&rand_vec(8, 52, 0.0, 1.0), &[8, 1]);
    let mask_vals: Vec<f32> = rand_vec(8 * 16, 53, 0.0, 1.0)
        .iter()
        .map(|&u| if u > 0.5 { 1.0 } else { 0.0 })
        .collect();
    let mask = t(&mask_vals, &[8, 16]);
    let dirs: Vec<Vec<f32>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| rand_vec(v.len(), 60 + i as u64, -1.0, 1.0))
        .collect();

    let data = [&real, &fake, &eps, &mask];
    let directional = |second_order: bool| -> (f64, f64) {
        let params: Vec<Tensor> = values.iter().zip(shapes).map(|(v, s)| var(v, s)).collect();
        let loss = small_gp_loss(&params, data, second_order).unwrap();
        let refs: Vec<&Tensor> = params.iter().collect();
        let grads = grad(&[&loss], &refs, false).unwrap();
        // With the typical size of a directional derivative along a random direction
        // (the tolerance floor).
        directional_derivative(&grads, &dirs)
    };
    let h = 1e-2f32;
    let at = |sign: f32| -> f64 {
        // Parameters as plain tensors: only x̂ requires grad (for the penalty's gradient).
        let moved: Vec<Tensor> = values
            .iter()
            .zip(&dirs)
            .zip(shapes)
            .map(|((v, d), s)| {
                let m: Vec<f32> = v.iter().zip(d).map(|(&x, &dx)| x + sign * h * dx).collect();
                t(&m, s)
            })
            .collect();
        small_gp_loss(&moved, data, true).unwrap().item().unwrap() as f64
    };
    let numeric = (at(1.0) - at(-1.0)) / (2.0 * h as f64);
    let (analytic, spread) = directional(true);
    let tol = 2e-2 * (analytic.abs() + spread);
    eprintln!("finite difference {numeric}, analytic {analytic}, tolerance {tol}");
    assert!(
        (numeric - analytic).abs() <= tol,
        "finite difference {numeric} vs analytic {analytic} (tolerance {tol})"
    );
    // Without the second-order path the analytic value must disagree, or the check is vacuous.
    let (first_only, _) = directional(false);
    assert!(
        (numeric - first_only).abs() > 3.0 * tol,
        "the penalty does not matter here: {numeric} vs first-order-only {first_only}"
    );
}
