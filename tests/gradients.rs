//! First-order gradients of every differentiable op: against PyTorch goldens (forward output
//! and the gradient for every input, from `tests/goldens/*.safetensors`, written by
//! `scripts/goldens.py`), and against central finite differences of the GPU functions
//! (`gradients/finite_differences.rs`).
//!
//! Golden tolerance (unless a case says otherwise): |got − want| ≤ 1e-4·|want| + 1e-5·max|want|
//! (see `Tol::GOLDEN`), i.e. 1e-4 relative per element plus an absolute floor at 1e-5 of the
//! tensor's scale for elements that are small only through cancellation.
mod common;
#[path = "gradients/finite_differences.rs"]
mod finite_differences;
use common::*;
use tapegan::{grad, grad_with, losses, GradOptions, Result, Tensor};

/// Runs `f` on the golden inputs of `name`, checks the output and the gradient of
/// Σ out·gout with respect to every `in.<k>`.
fn check_tol(name: &str, tol: Tol, f: impl Fn(&Case) -> Result<Tensor>) {
    let c = Case::load(name);
    let out = f(&c).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
    c.check(&out, "out", tol);
    let names = c.inputs();
    assert!(!names.is_empty(), "{name}: no differentiable inputs");
    let wrt: Vec<&Tensor> = names.iter().map(|k| c.x(k)).collect();
    let opts = GradOptions {
        grad_outputs: Some(vec![c.upload("gout")]),
        ..Default::default()
    };
    let grads =
        grad_with(&[&out], &wrt, &opts).unwrap_or_else(|e| panic!("{name}: backward failed: {e}"));
    for (k, g) in names.iter().zip(&grads) {
        c.check_opt(g.as_ref(), &format!("grad.{k}"), tol);
    }
}

fn check(name: &str, f: impl Fn(&Case) -> Result<Tensor>) {
    check_tol(name, Tol::GOLDEN, f)
}

// ---------------------------------------------------------------------------------------------
// Goldens
// ---------------------------------------------------------------------------------------------

#[test]
fn unary_ops_match_pytorch() {
    check("neg", |c| c.x("x").neg());
    check("exp", |c| c.x("x").exp());
    check("exp_1", |c| c.x("x").exp());
    check("log", |c| c.x("x").log());
    check("sqrt", |c| c.x("x").sqrt());
    check("rsqrt", |c| c.x("x").rsqrt());
    check("square", |c| c.x("x").square());
    check("abs", |c| c.x("x").abs());
    check("recip", |c| c.x("x").recip());
    check("tanh", |c| c.x("x").tanh());
    check("tanh_1x7", |c| c.x("x").tanh());
    check("sigmoid", |c| c.x("x").sigmoid());
    // softplus(x) for x ≪ 0 is log(1 + eˣ) evaluated in f32 without log1p: for x = −15 the
    // result (3e-7) carries ~10% relative error, ~3e-8 absolute, far inside the scale-relative
    // floor (1e-5 · 25). Every other element meets 1e-4 relative.
    check("softplus", |c| c.x("x").softplus());
    check("relu", |c| c.x("x").relu());
    check("leaky_relu_0.3", |c| c.x("x").leaky_relu(0.3));
    check("leaky_relu_0.2", |c| c.x("x").leaky_relu(0.2));
    check("elu_1", |c| c.x("x").elu(1.0));
    check("elu_0.5", |c| c.x("x").elu(0.5));
    check("clamp", |c| c.x("x").clamp(-0.5, 0.8));
    check("affine", |c| c.x("x").affine(1.7, -0.4));
    check("add_scalar", |c| c.x("x").add_scalar(2.5));
    check("mul_scalar", |c| c.x("x").mul_scalar(-3.0));
    check("powf_2", |c| c.x("x").powf(2.0));
    check("powf_3", |c| c.x("x").powf(3.0));
    check("powf_0.5", |c| c.x("x").powf(0.5));
    check("powf_-1", |c| c.x("x").powf(-1.0));
}

#[test]
fn conventions_at_kinks_match_pytorch() {
    // Inputs exactly on the kinks: relu'(0) = 0, leaky_relu'(0) = slope, |x|'(0) = 0,
    // elu'(0) = α, hinge'(kink) = 0, and max splits the gradient evenly among ties
    // (torch.amax) — all as PyTorch. clamp passes the gradient at both bounds (lo ≤ x ≤ hi),
    // the subgradient 1 PyTorch documented and used for years; recent PyTorch (2.15, the one
    // that wrote the goldens) returns 0 at the bounds of a scalar clamp, so the kink_clamp
    // golden spells the documented convention out (see scripts/goldens.py).
    check("kink_relu", |c| c.x("x").relu());
    check("kink_leaky_relu", |c| c.x("x").leaky_relu(0.2));
    check("kink_abs", |c| c.x("x").abs());
    check("kink_elu", |c| c.x("x").elu(0.7));
    check("kink_clamp", |c| c.x("x").clamp(-0.5, 0.8));
    check("kink_hinge", |c| losses::hinge(c.x("x"), 1.0));
    check("kink_max_ties", |c| c.x("x").max(&[1], false));
    check("kink_max_ties_all", |c| c.x("x").max(&[], false));
}

#[test]
fn broadcasting_binary_ops_match_pytorch() {
    type Op = fn(&Tensor, &Tensor) -> Result<Tensor>;
    let ops: [(&str, Op); 4] = [
        ("add", Tensor::add),
        ("sub", Tensor::sub),
        ("mul", Tensor::mul),
        ("div", Tensor::div),
    ];
    for (op, f) in ops {
        for shapes in [
            "7x33_7x33",
            "3x4_4",
            "3x1_1x4",
            "3x4_s",
            "s_3x4",
            "2x3x4_3x1",
        ] {
            check(&format!("{op}_{shapes}"), |c| f(c.x("a"), c.x("b")));
        }
    }
    check("lerp", |c| c.x("a").lerp(c.x("b"), c.x("t")));
}

#[test]
fn select_matches_pytorch() {
    check("select_3x4_4", |c| c.x("cond").select(c.x("a"), c.x("b")));
    check("select_3x1_s_3x4", |c| {
        c.x("cond").select(c.x("a"), c.x("b"))
    });
}

fn reduce_axes(name: &str) -> Vec<isize> {
    match name {
        "all" => vec![],
        "0" => vec![0],
        "1" => vec![1],
        "2" => vec![2],
        "02" => vec![0, 2],
        "12" => vec![1, 2],
        "01" => vec![0, 1],
        _ => unreachable!(),
    }
}

#[test]
fn sum_mean_max_over_axis_sets_match_pytorch() {
    for op in ["sum", "mean", "max"] {
        for an in ["all", "0", "1", "2", "02", "12", "01"] {
            for keep in [false, true] {
                let name = format!("{op}_ax{an}_{}", if keep { "keep" } else { "drop" });
                let axes = reduce_axes(an);
                check(&name, |c| {
                    let x = c.x("x");
                    match op {
                        "sum" => x.sum(&axes, keep),
                        "mean" => x.mean(&axes, keep),
                        _ => x.max(&axes, keep),
                    }
                });
            }
        }
    }
    check("sum_4x1x33_ax1", |c| c.x("x").sum(&[1], false));
    check("max_4x1x33_ax1", |c| c.x("x").max(&[1], false));
    check("mean_300x2_ax0", |c| c.x("x").mean(&[0], false));
    check("max_300x2_ax0", |c| c.x("x").max(&[0], false));
    check("sum_1_all", |c| c.x("x").sum_all());
    check("sum_to_2x3x4_3x1", |c| c.x("x").sum_to(&[3, 1]));
}

#[test]
fn layout_ops_match_pytorch() {
    check("reshape_3x4x5_6x10", |c| c.x("x").reshape(&[6, 10]));
    check("reshape_7x33_231", |c| c.x("x").reshape(&[231]));
    check("permute_201", |c| c.x("x").permute(&[2, 0, 1]));
    check("permute_3102", |c| c.x("x").permute(&[3, 1, 0, 2]));
    check("transpose_02", |c| c.x("x").transpose(0, 2));
    check("transpose_m1m2", |c| c.x("x").transpose(-1, -2));
    check("broadcast_3x1_2x3x4", |c| c.x("x").broadcast_to(&[2, 3, 4]));
    check("broadcast_4_3x4", |c| c.x("x").broadcast_to(&[3, 4]));
    check("broadcast_s_2x3", |c| c.x("x").broadcast_to(&[2, 3]));
    check("broadcast_1x7_33x7", |c| c.x("x").broadcast_to(&[33, 7]));
    check("narrow_ax1", |c| c.x("x").narrow(1, 2, 3));
    check("narrow_axm1_len1", |c| c.x("x").narrow(-1, 0, 1));
    check("narrow_ax0_last", |c| c.x("x").narrow(0, 3, 1));
    check("pad_into_ax1", |c| c.x("x").pad_into(1, 2, 7));
    check("pad_into_ax0", |c| c.x("x").pad_into(0, 0, 3));
    check("pad_into_axm1_end", |c| c.x("x").pad_into(-1, 32, 33));
    check("concat_ax1", |c| {
        Tensor::concat(&[c.x("a"), c.x("b"), c.x("c")], 1)
    });
    check("concat_ax0", |c| Tensor::concat(&[c.x("a"), c.x("b")], 0));
    check("concat_axm1", |c| Tensor::concat(&[c.x("a"), c.x("b")], -1));
}

#[test]
fn matmul_all_transposes_and_batch_broadcasts_match_pytorch() {
    let mut cases: Vec<(&str, bool, bool)> = Vec::new();
    for name in ["2d", "3d", "b1_3d", "2d_3d"] {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            cases.push((name, ta, tb));
        }
    }
    for name in ["2d_edges", "2d_k1", "2d_vec", "3d_2d", "3d_b1"] {
        cases.push((name, false, false));
    }
    cases.push(("2d_edges", true, true));
    for (name, ta, tb) in cases {
        let tag = |t: bool| if t { "t" } else { "n" };
        check(&format!("matmul_{name}_{}{}", tag(ta), tag(tb)), |c| {
            c.x("a").matmul_t(c.x("b"), ta, tb)
        });
    }
}

#[test]
fn gather_and_scatter_rows_match_pytorch() {
    check("gather_rows_5x7", |c| c.x("t").gather_rows(c.x("idx")));
    check("gather_rows_6", |c| c.x("t").gather_rows(c.x("idx")));
    check("gather_rows_4x2x3", |c| c.x("t").gather_rows(c.x("idx")));
    check("scatter_add_rows_8x7_v5", |c| {
        c.x("s").scatter_add_rows(c.x("idx"), 5)
    });
    check("scatter_add_rows_3_v4", |c| {
        c.x("s").scatter_add_rows(c.x("idx"), 4)
    });
}

#[test]
fn softmax_and_log_softmax_match_pytorch() {
    // The adapter picks one softmax kernel family; both are checked on any adapter by running
    // this test again with TAPEGAN_SOFTMAX_KERNEL set.
    rerun_with_env(
        "softmax_and_log_softmax_match_pytorch",
        "TAPEGAN_SOFTMAX_KERNEL",
        &["rows", "workgroup"],
    );
    for (shape, axis) in [
        ("5x7", -1),
        ("3x33", 1),
        ("4x1", -1),
        ("7x5", 0),
        ("2x3x4", 1),
        ("6x12", -1),
        ("2x3x1024", -1),
    ] {
        check(&format!("softmax_{shape}_ax{axis}"), |c| {
            c.x("x").softmax(axis)
        });
        check(&format!("log_softmax_{shape}_ax{axis}"), |c| {
            c.x("x").log_softmax(axis)
        });
    }
}

#[test]
fn losses_match_pytorch() {
    check("bce_with_logits", |c| {
        losses::bce_with_logits(c.x("x"), c.x("y"))
    });
    check("bce_with_logits_bcast", |c| {
        losses::bce_with_logits(c.x("x"), c.x("y"))
    });
    check("bce", |c| losses::bce(c.x("p"), c.x("y")));
    check("bce_5x7", |c| losses::bce(c.x("p"), c.x("y")));
    for shape in ["6x5", "3x33", "4x1"] {
        check(&format!("softmax_cross_entropy_{shape}"), |c| {
            losses::softmax_cross_entropy(c.x("x"), c.x("labels"))
        });
    }
    check("hinge_pos", |c| losses::hinge(c.x("x"), 1.0));
    check("hinge_neg", |c| losses::hinge(c.x("x"), -1.0));
}

// ---------------------------------------------------------------------------------------------
// Finite differences
// ---------------------------------------------------------------------------------------------

#[test]
fn cross_entropy_rows_with_a_label_out_of_range_contribute_nothing() {
    // Row 1's label (7) names no class: its loss and gradient are 0, in the kernel and in the
    // recorded rule alike; the other rows are the log-sum-exp minus the picked logit.
    let xs = [
        0.5f32, -1.0, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0, -2.0, 0.5, 3.0, 0.25,
    ];
    let x = var(&xs, &[3, 4]);
    let labels = Tensor::from_u32(&gpu(), &[1, 7, 2], &[3]).unwrap();
    let loss = losses::softmax_cross_entropy(&x, &labels).unwrap();
    let lse = |r: &[f32]| r.iter().map(|v| (*v as f64).exp()).sum::<f64>().ln();
    let want = (lse(&xs[0..4]) - xs[1] as f64 + lse(&xs[8..12]) - xs[10] as f64) / 3.0;
    assert!((loss.item().unwrap() as f64 - want).abs() < 1e-5, "loss");
    for create_graph in [false, true] {
        let g = grad(&[&loss], &[&x], create_graph).unwrap().remove(0);
        let g = g.to_vec().unwrap();
        assert!(g[4..8].iter().all(|&v| v == 0.0), "row 1 gradient {g:?}");
        for (row, label) in [(0usize, 1usize), (2, 2)] {
            let r = &xs[row * 4..row * 4 + 4];
            let s: f64 = r.iter().map(|v| (*v as f64).exp()).sum();
            for j in 0..4 {
                let hot = if j == label { 1.0 } else { 0.0 };
                let want = ((r[j] as f64).exp() / s - hot) / 3.0;
                let got = g[row * 4 + j] as f64;
                assert!(
                    (got - want).abs() < 1e-6,
                    "create_graph {create_graph}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn log_softmax_and_cross_entropy_keep_their_digits_for_large_logits() {
    // Rows [M, M − 7, M − 8]: log-probability of the first ≈ −0.0012466 whatever M. Computing
    // x − (M + log S) rounds log S to the ulp of M and loses it at M = 1e4–1e5. Both softmax
    // kernel families, as in softmax_and_log_softmax_match_pytorch.
    rerun_with_env(
        "log_softmax_and_cross_entropy_keep_their_digits_for_large_logits",
        "TAPEGAN_SOFTMAX_KERNEL",
        &["rows", "workgroup"],
    );
    for m in [0.0f32, 100.0, 1e4, 1e5] {
        let row = [m, m - 7.0, m - 8.0];
        let want = -(1.0 + (-7.0f64).exp() + (-8.0f64).exp()).ln();
        for kernel in [[1usize, 3], [4, 3]] {
            // 1 row (per-row kernel) and 4 rows; the last axis either way.
            let x: Vec<f32> = row.iter().cycle().take(kernel[0] * 3).cloned().collect();
            let t = t(&x, &kernel);
            let y = t.log_softmax(-1).unwrap().to_vec().unwrap();
            let got = y[0] as f64;
            assert!(
                (got - want).abs() <= 1e-6,
                "log_softmax at M = {m}: {got}, want {want}"
            );
            let labels = Tensor::from_u32(&gpu(), &vec![0; kernel[0]], &[kernel[0]]).unwrap();
            let ce = losses::softmax_cross_entropy(&t, &labels).unwrap();
            let got = ce.item().unwrap() as f64;
            assert!(
                (got + want).abs() <= 1e-6,
                "cross-entropy at M = {m}: {got}, want {}",
                -want
            );
        }
    }
}
