//! Gradients against central finite differences of the GPU functions themselves: the
//! analytic directional derivative from the tape against (F(x + h·d) − F(x − h·d)) / 2h, for
//! unary ops and for composites (matmuls, norms, losses), plus a check that the checker
//! rejects a deliberately wrong gradient.

use crate::common::*;
use tapegan::{grad, losses, no_grad, Result, Tensor};

/// Directional-derivative check of F(xs) = Σ w·f(xs) (w fixed, random): the analytic
/// ⟨∇F, d⟩ from the tape against (F(x + h·d) − F(x − h·d)) / 2h evaluated on the GPU in f32,
/// along a random direction d. The tolerance is `rtol` of |⟨∇F, d⟩| + (Σᵢ (∂ᵢF·dᵢ)²)^½, the
/// second term being the typical size of a directional derivative along a random direction,
/// so that a direction nearly orthogonal to ∇F cannot make the check flaky.
fn fd_check(
    name: &str,
    inputs: &[(Vec<f32>, Vec<usize>)],
    h: f32,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) {
    let seed = name
        .bytes()
        .fold(7u64, |s, b| s.wrapping_mul(31).wrapping_add(b as u64));
    let vars: Vec<Tensor> = inputs.iter().map(|(v, s)| var(v, s)).collect();
    let out = f(&vars).unwrap();
    let w = t(&rand_vec(out.numel(), seed ^ 1, -1.0, 1.0), out.shape());
    let objective = |o: Tensor| o.mul(&w)?.sum_all();
    let y = objective(out).unwrap();
    let refs: Vec<&Tensor> = vars.iter().collect();
    let grads = grad(&[&y], &refs, false).unwrap();
    let dirs: Vec<Vec<f32>> = inputs
        .iter()
        .enumerate()
        .map(|(i, (v, _))| rand_vec(v.len(), seed ^ (100 + i as u64), -1.0, 1.0))
        .collect();
    let (analytic, spread) = directional_derivative(&grads, &dirs);
    let at = |sign: f32| -> f64 {
        let moved: Vec<Tensor> = inputs
            .iter()
            .zip(&dirs)
            .map(|((v, s), d)| {
                let m: Vec<f32> = v.iter().zip(d).map(|(&x, &dx)| x + sign * h * dx).collect();
                t(&m, s)
            })
            .collect();
        no_grad(|| objective(f(&moved)?)).unwrap().item().unwrap() as f64
    };
    let numeric = (at(1.0) - at(-1.0)) / (2.0 * h as f64);
    let tol = rtol * (analytic.abs() + spread);
    eprintln!("{name}: finite difference {numeric}, analytic {analytic}, tolerance {tol}");
    assert!(
        (numeric - analytic).abs() <= tol,
        "{name}: finite difference {numeric} vs analytic {analytic} (tolerance {tol})"
    );
}

fn rv(shape: &[usize], seed: u64, lo: f32, hi: f32) -> (Vec<f32>, Vec<usize>) {
    (
        rand_vec(shape.iter().product(), seed, lo, hi),
        shape.to_vec(),
    )
}

#[test]
fn finite_differences_of_unary_ops() {
    let x = || vec![rv(&[7, 33], 1, -2.0, 2.0)];
    let pos = || vec![rv(&[7, 33], 2, 0.3, 3.0)];
    fd_check("exp", &x(), 1e-2, 2e-2, |v| v[0].exp());
    fd_check("tanh", &x(), 1e-2, 2e-2, |v| v[0].tanh());
    fd_check("sigmoid", &x(), 1e-2, 2e-2, |v| v[0].sigmoid());
    fd_check("softplus", &x(), 1e-2, 2e-2, |v| v[0].softplus());
    fd_check("elu", &x(), 1e-2, 2e-2, |v| v[0].elu(1.0));
    fd_check("powf3", &x(), 1e-2, 2e-2, |v| v[0].powf(3.0));
    fd_check("log", &pos(), 1e-2, 2e-2, |v| v[0].log());
    fd_check("sqrt", &pos(), 1e-2, 2e-2, |v| v[0].sqrt());
    fd_check("rsqrt", &pos(), 1e-2, 2e-2, |v| v[0].rsqrt());
    // Piecewise-linear: a small step, so few elements cross the kink.
    fd_check("leaky_relu", &x(), 1e-3, 2e-2, |v| v[0].leaky_relu(0.3));
}

#[test]
fn finite_differences_of_composites() {
    fd_check(
        "div_broadcast",
        &[rv(&[7, 33], 3, -1.0, 1.0), rv(&[33], 4, 0.5, 2.0)],
        1e-2,
        2e-2,
        |v| v[0].div(&v[1]),
    );
    fd_check(
        "matmul_t_batched",
        &[rv(&[3, 33, 7], 5, -1.0, 1.0), rv(&[1, 33, 5], 6, -1.0, 1.0)],
        1e-2,
        2e-2,
        |v| v[0].matmul_t(&v[1], true, false)?.tanh(),
    );
    fd_check("softmax", &[rv(&[5, 33], 7, -3.0, 3.0)], 1e-2, 2e-2, |v| {
        v[0].softmax(-1)
    });
    fd_check(
        "log_softmax_ax0",
        &[rv(&[7, 5], 8, -3.0, 3.0)],
        1e-2,
        2e-2,
        |v| v[0].log_softmax(0),
    );
    fd_check(
        "mean_max",
        &[rv(&[2, 7, 33], 9, -1.0, 1.0)],
        1e-3,
        2e-2,
        |v| {
            v[0].square()?
                .mean(&[0, 2], true)?
                .mul(&v[0].max(&[1], true)?)
        },
    );
    fd_check(
        "layout",
        &[rv(&[4, 7, 5], 10, -1.0, 1.0), rv(&[4, 2, 5], 11, -1.0, 1.0)],
        1e-2,
        2e-2,
        |v| {
            let a = v[0].permute(&[2, 0, 1])?.narrow(2, 1, 4)?.exp()?;
            let b = v[1].permute(&[2, 0, 1])?.pad_into(2, 0, 3)?;
            Tensor::concat(&[&a, &b], -1)?.broadcast_to(&[2, 5, 4, 7])
        },
    );
    let idx = Tensor::from_u32(&gpu(), &[2, 0, 2, 4, 1], &[5]).unwrap();
    fd_check(
        "gather_scatter",
        &[rv(&[5, 7], 12, -1.0, 1.0)],
        1e-2,
        2e-2,
        |v| v[0].gather_rows(&idx)?.sigmoid()?.scatter_add_rows(&idx, 6),
    );
    let labels = Tensor::from_u32(&gpu(), &[3, 0, 6, 6], &[4]).unwrap();
    fd_check(
        "softmax_cross_entropy",
        &[rv(&[4, 7], 13, -2.0, 2.0)],
        1e-2,
        2e-2,
        |v| losses::softmax_cross_entropy(&v[0], &labels),
    );
    fd_check(
        "bce_with_logits",
        &[rv(&[8, 1], 14, -3.0, 3.0), rv(&[8, 1], 15, 0.0, 1.0)],
        1e-2,
        2e-2,
        |v| losses::bce_with_logits(&v[0], &v[1]),
    );
    fd_check(
        "bce",
        &[rv(&[8, 1], 16, 0.1, 0.9), rv(&[8, 1], 17, 0.0, 1.0)],
        1e-3,
        2e-2,
        |v| losses::bce(&v[0], &v[1]),
    );
}

#[test]
fn finite_differences_catch_a_wrong_gradient() {
    // The checker itself must be able to fail: a function whose tape gradient is deliberately
    // wrong (the gradient of a detached factor is missing) is rejected.
    let r = std::panic::catch_unwind(|| {
        fd_check("wrong", &[rv(&[7, 33], 18, 0.5, 2.0)], 1e-2, 2e-2, |v| {
            v[0].mul(&v[0].detach())
        })
    });
    assert!(
        r.is_err(),
        "a wrong gradient passed the finite-difference check"
    );
}
