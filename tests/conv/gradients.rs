//! Convolution gradients: first and second order against PyTorch goldens
//! (`scripts/goldens_conv.py`), a gradient penalty through a conv critic, and directional
//! derivatives against finite differences, and the backward rules as autograd runs them
//! against the CPU reference.
use crate::common::*;
use crate::reference::{conv, convt};
use tapegan::ops::{Conv2dGeom, Padding};
use tapegan::{grad, Tensor};

/// Names of the golden files `conv_<prefix>*`, without extension.
fn golden_names(prefix: &str) -> Vec<String> {
    let dir = format!("{}/tests/goldens", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".safetensors").map(str::to_string))
        .filter(|f| f.starts_with(&format!("conv_{prefix}")))
        .collect();
    names.sort();
    names
}

type Golden = std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>;

/// `(transposed, geometry)` from a golden's `geom` vector.
fn golden_geom(d: &Golden, key: &str) -> (bool, Conv2dGeom) {
    let v: Vec<usize> = d[key].1.iter().map(|&x| x as usize).collect();
    let padding = if v[7] == 1 {
        Padding::Same
    } else {
        Padding::Explicit([v[3], v[4]])
    };
    (
        v[0] == 1,
        Conv2dGeom {
            stride: [v[1], v[2]],
            padding,
            output_padding: [v[5], v[6]],
        },
    )
}

fn gvar(d: &Golden, k: &str) -> Tensor {
    var(&d[k].1, &d[k].0)
}

fn gconst(d: &Golden, k: &str) -> Tensor {
    t(&d[k].1, &d[k].0)
}

/// Compares a tensor with a golden to 1e-4 relative (absolute floor: 1e-5 of the largest value).
fn check_golden(got: &Tensor, d: &Golden, k: &str, what: &str) {
    let (shape, want) = &d[k];
    assert_eq!(got.shape(), shape.as_slice(), "{what}: shape of {k}");
    let atol = 1e-5 * want.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
    assert_close(
        &got.to_vec().unwrap(),
        want,
        1e-4,
        atol,
        &format!("{what}: {k}"),
    );
}

fn apply(transposed: bool, x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Conv2dGeom) -> Tensor {
    if transposed {
        x.conv_transpose2d(w, b, g)
    } else {
        x.conv2d(w, b, g)
    }
    .unwrap()
}

#[test]
fn first_order_matches_pytorch() {
    let names = golden_names("fo_");
    assert!(
        names.len() >= 15,
        "missing goldens: run scripts/goldens_conv.py ({names:?})"
    );
    for name in &names {
        let d = golden(name);
        let (tr, g) = golden_geom(&d, "geom");
        let (x, w) = (gvar(&d, "in.x"), gvar(&d, "in.w"));
        let b = d.contains_key("in.b").then(|| gvar(&d, "in.b"));
        let y = apply(tr, &x, &w, b.as_ref(), &g);
        check_golden(&y, &d, "out", name);
        let mut wrt = vec![&x, &w];
        wrt.extend(b.as_ref());
        let opts = tapegan::GradOptions {
            grad_outputs: Some(vec![gconst(&d, "gout")]),
            ..Default::default()
        };
        let gs = tapegan::grad_with(&[&y], &wrt, &opts).unwrap();
        for (gr, k) in gs.iter().zip(["grad.x", "grad.w", "grad.b"]) {
            check_golden(gr.as_ref().unwrap(), &d, k, name);
        }
    }
}

#[test]
fn backward_rules_match_cpu_with_each_operand_reading() {
    // The backward rules of conv2d and conv_transpose2d, run through autograd, with the
    // sharing kernels reading four channels per load from channels-last copies (which the
    // input and weight gradients share, and which the forward pass hands to the weight
    // gradient) and one channel per load, each in a child process. Channel counts are
    // multiples of four so that the vec4 reads apply; at stride 1 the input and its
    // gradient have copies of one shape, so a copy given to the wrong operand is caught.
    // With Winograd forced, the 4 × 4 stride-2 layers and their input gradients take it.
    if rerun_with_env(
        "gradients::backward_rules_match_cpu_with_each_operand_reading",
        "TAPEGAN_CONV_BLOCKS",
        &["vec4", "scalar", "winograd"],
    ) {
        return;
    }
    conv(64, 128, 8, 4, 2, 1).check_autograd(120);
    convt(128, 64, 4, 4, 2, 1).check_autograd(121);
    conv(64, 64, 5, 3, 1, 1).check_autograd(122);
    convt(64, 64, 5, 3, 1, 1).check_autograd(123);
    convt(16, 4, 4, 3, 2, 1).batch(3).check_autograd(124);
}

#[test]
fn second_order_matches_pytorch() {
    // L = Σ y²·r;  s = Σ (dL/dx)·v.x + Σ (dL/dw)·v.w;  ds/d(x, w, b). Runs every backward rule
    // (conv, transposed conv and weight gradient) under differentiation.
    let names = golden_names("so_");
    assert!(
        names.len() >= 4,
        "missing goldens: run scripts/goldens_conv.py ({names:?})"
    );
    for name in &names {
        let d = golden(name);
        let (tr, g) = golden_geom(&d, "geom");
        let (x, w, b) = (gvar(&d, "in.x"), gvar(&d, "in.w"), gvar(&d, "in.b"));
        let y = apply(tr, &x, &w, Some(&b), &g);
        let l = y
            .mul(&y)
            .unwrap()
            .mul(&gconst(&d, "r"))
            .unwrap()
            .sum_all()
            .unwrap();
        let g1 = grad(&[&l], &[&x, &w], true).unwrap();
        check_golden(&g1[0], &d, "g1.x", name);
        check_golden(&g1[1], &d, "g1.w", name);
        let sx = g1[0].mul(&gconst(&d, "v.x")).unwrap().sum_all().unwrap();
        let s = sx
            .add(&g1[1].mul(&gconst(&d, "v.w")).unwrap().sum_all().unwrap())
            .unwrap();
        check_golden(&s.reshape(&[1]).unwrap(), &d, "s", name);
        let g2 = grad(&[&s], &[&x, &w, &b], false).unwrap();
        for (gr, k) in g2.iter().zip(["grad2.x", "grad2.w", "grad2.b"]) {
            check_golden(gr, &d, k, name);
        }
    }
}

#[test]
fn gradient_penalty_matches_pytorch() {
    // WGAN-GP through conv/convT → LeakyReLU(0.2) → conv: pen = mean_n (‖∂ΣD/∂x_n‖ − 1)².
    let names = golden_names("gp_");
    assert!(
        names.len() >= 2,
        "missing goldens: run scripts/goldens_conv.py ({names:?})"
    );
    for name in &names {
        let d = golden(name);
        let ((t1, g1), (t2, g2)) = (golden_geom(&d, "geom"), golden_geom(&d, "geom2"));
        let x = gvar(&d, "in.x");
        let (w1, b1, w2, b2) = (
            gvar(&d, "in.w1"),
            gvar(&d, "in.b1"),
            gvar(&d, "in.w2"),
            gvar(&d, "in.b2"),
        );
        let h = apply(t1, &x, &w1, Some(&b1), &g1).leaky_relu(0.2).unwrap();
        let out = apply(t2, &h, &w2, Some(&b2), &g2);
        check_golden(&out, &d, "d", name);
        let gx = grad(&[&out.sum_all().unwrap()], &[&x], true)
            .unwrap()
            .remove(0);
        check_golden(&gx, &d, "gx", name);
        let norm = gx
            .square()
            .unwrap()
            .sum(&[1, 2, 3], false)
            .unwrap()
            .sqrt()
            .unwrap();
        let pen = norm
            .add_scalar(-1.0)
            .unwrap()
            .square()
            .unwrap()
            .mean_all()
            .unwrap();
        check_golden(&pen.reshape(&[1]).unwrap(), &d, "pen", name);
        let g = grad(&[&pen], &[&w1, &w2], false).unwrap();
        check_golden(&g[0], &d, "grad2.w1", name);
        check_golden(&g[1], &d, "grad2.w2", name);
    }
}

// ---------------------------------------------------------------------------------------------
// Finite differences: directional derivatives of f = Σ tanh(op(x, w, b))·r and of
// s = ⟨∂f/∂x, v⟩ (a second-order quantity) along a random direction of (x, w, b).

fn fd_check(transposed: bool, xs: [usize; 4], ws: [usize; 4], g: Conv2dGeom, seed: u64) {
    let co = if transposed { ws[1] } else { ws[0] };
    let x0 = rand_vec(xs.iter().product(), seed, -1.0, 1.0);
    let w0 = rand_vec(ws.iter().product(), seed + 1, -0.5, 0.5);
    let b0 = rand_vec(co, seed + 2, -0.5, 0.5);
    let dirs = [x0.len(), w0.len(), co].map(|n| rand_vec(n, seed + 3 + n as u64, -1.0, 1.0));
    let probe = |eps: f32, order2: bool| -> (f32, Vec<f32>) {
        let shift = |v: &[f32], d: &[f32]| {
            v.iter()
                .zip(d)
                .map(|(a, b)| a + eps * b)
                .collect::<Vec<_>>()
        };
        let (x, w, b) = (
            var(&shift(&x0, &dirs[0]), &xs),
            var(&shift(&w0, &dirs[1]), &ws),
            var(&shift(&b0, &dirs[2]), &[co]),
        );
        let y = apply(transposed, &x, &w, Some(&b), &g);
        let r = t(&rand_vec(y.numel(), seed + 9, -1.0, 1.0), y.shape());
        let f = y.tanh().unwrap().mul(&r).unwrap().sum_all().unwrap();
        let val = if order2 {
            let gx = grad(&[&f], &[&x], true).unwrap().remove(0);
            let v = t(&rand_vec(gx.numel(), seed + 10, -1.0, 1.0), gx.shape());
            gx.mul(&v).unwrap().sum_all().unwrap()
        } else {
            f
        };
        let gr = grad(&[&val], &[&x, &w, &b], false).unwrap();
        let dd: f32 = gr
            .iter()
            .zip(&dirs)
            .map(|(g, d)| {
                g.to_vec()
                    .unwrap()
                    .iter()
                    .zip(d)
                    .map(|(a, b)| a * b)
                    .sum::<f32>()
            })
            .sum();
        (val.item().unwrap(), vec![dd])
    };
    for order2 in [false, true] {
        let eps = 1e-2;
        let (_, analytic) = probe(0.0, order2);
        let (fp, _) = probe(eps, order2);
        let (fm, _) = probe(-eps, order2);
        let numeric = (fp - fm) / (2.0 * eps);
        let what = format!(
            "{} {xs:?} {g:?} order {}",
            if transposed { "convT" } else { "conv" },
            1 + order2 as u8
        );
        assert_close(&[analytic[0]], &[numeric], 2e-2, 2e-2, &what);
    }
}

#[test]
fn directional_derivatives_match_finite_differences() {
    fd_check(
        false,
        [2, 3, 6, 5],
        [4, 3, 3, 3],
        Conv2dGeom::new(2, 1),
        100,
    );
    fd_check(false, [1, 2, 7, 7], [3, 2, 4, 4], Conv2dGeom::same(2), 110);
    fd_check(
        true,
        [2, 3, 3, 4],
        [3, 2, 3, 3],
        Conv2dGeom::new(2, 1).with_output_padding(1),
        120,
    );
    fd_check(true, [1, 4, 4, 4], [4, 2, 4, 4], Conv2dGeom::same(2), 130);
}
