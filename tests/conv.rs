//! Convolution ops: the three kernels (`conv2d`, `conv_transpose2d`, `conv2d_weight_grad`)
//! against naive CPU loops at every layer shape of SPEC.md and at awkward ones; first- and
//! second-order gradients against PyTorch goldens (`scripts/goldens_conv.py`); a
//! finite-difference check; and shape errors.
mod common;
#[path = "conv/reference.rs"]
mod reference;
use common::*;
use reference::*;
use tapegan::ops::{Conv2dGeom, Padding};
use tapegan::{grad, Tensor};

#[test]
fn dcgan_28_layers_match_cpu() {
    // G: 1 → 4 → 7 → 14 → 28 (no bias); D: 28 → 14 → 7 → 4 → 1 (no bias).
    convt(100, 128, 1, 4, 1, 0).no_bias().check(10);
    convt(128, 64, 4, 3, 2, 1).no_bias().check(11);
    convt(64, 32, 7, 4, 2, 1).no_bias().check(12);
    convt(32, 1, 14, 4, 2, 1).no_bias().check(13);
    conv(1, 32, 28, 4, 2, 1).no_bias().check(14);
    conv(32, 64, 14, 4, 2, 1).no_bias().check(15);
    conv(64, 128, 7, 3, 2, 1).no_bias().check(16);
    conv(128, 1, 4, 4, 1, 0).no_bias().check(17);
}

#[test]
fn dcgan_64_layers_match_cpu() {
    // G: 1 → 4 → 8 → 16 → 32 → 64; D: 64 → 32 → 16 → 8 → 4 → 1.
    convt(20, 512, 1, 4, 1, 0).check(20);
    convt(512, 256, 4, 4, 2, 1).batch(1).check(21);
    convt(256, 128, 8, 4, 2, 1).batch(1).check(22);
    convt(128, 64, 16, 4, 2, 1).batch(1).check(23);
    convt(64, 1, 32, 4, 2, 1).batch(1).check(24);
    conv(1, 64, 64, 4, 2, 1).batch(1).check(25);
    conv(64, 128, 32, 4, 2, 1).batch(1).check(26);
    conv(128, 256, 16, 4, 2, 1).batch(1).check(27);
    conv(256, 512, 8, 4, 2, 1).batch(1).check(28);
    conv(512, 1, 4, 4, 1, 0).check(29);
}

#[test]
fn dcgan_celeba_same_padding_layers_match_cpu() {
    // Keras "same", k4 s2: G 4 → 8 → 16 → 32 → 64 (RGB out); D 64 → 32 → 16 → 8 → 4.
    convt(1024, 512, 4, 4, 2, 0).same().batch(1).check(30);
    convt(512, 256, 8, 4, 2, 0).same().batch(1).check(31);
    convt(256, 128, 16, 4, 2, 0).same().batch(1).check(32);
    convt(128, 3, 32, 4, 2, 0).same().batch(1).check(33);
    conv(3, 64, 64, 4, 2, 0).same().batch(1).check(34);
    conv(64, 128, 32, 4, 2, 0).same().batch(1).check(35);
    conv(128, 256, 16, 4, 2, 0).same().batch(1).check(36);
    conv(256, 1, 8, 4, 2, 0).same().check(37);
}

#[test]
fn attention_1x1_convs_match_cpu() {
    // SAGAN query/key (C → C/8) and value (C → C) projections at each attention site.
    for (i, (c, hw)) in [(128, 16), (64, 32), (256, 8), (512, 4)]
        .into_iter()
        .enumerate()
    {
        conv(c, c / 8, hw, 1, 1, 0).batch(1).check(40 + i as u64);
        conv(c, c, hw, 1, 1, 0)
            .batch(1)
            .no_bias()
            .check(50 + i as u64);
    }
}

#[test]
fn awkward_geometries_match_cpu() {
    let g = |s: [usize; 2], p: [usize; 2]| Conv2dGeom {
        stride: s,
        padding: Padding::Explicit(p),
        output_padding: [0; 2],
    };
    let mk = |transposed, cin, cout, hw: [usize; 2], k: [usize; 2], g: Conv2dGeom| Layer {
        transposed,
        n: 2,
        cin,
        cout,
        hw,
        k,
        g,
        bias: true,
    };
    // Odd sizes, non-square images and kernels, strides 3, channels 1 and 3.
    mk(false, 3, 5, [9, 7], [3, 2], g([3, 2], [1, 0])).check(60);
    mk(true, 3, 5, [4, 3], [3, 2], g([3, 2], [1, 0])).check(61);
    mk(false, 1, 3, [5, 5], [5, 5], g([1, 1], [2, 2])).check(62);
    mk(true, 1, 1, [3, 5], [2, 2], g([3, 3], [0, 0])).check(63); // stride > kernel: empty phases
    mk(false, 2, 3, [11, 10], [3, 3], g([3, 3], [0, 1])).check(64); // the last row is dropped
    mk(
        true,
        9,
        17,
        [5, 6],
        [3, 3],
        g([2, 2], [1, 1]).with_output_padding(1),
    )
    .check(65);
    mk(
        true,
        4,
        3,
        [3, 3],
        [4, 4],
        Conv2dGeom {
            output_padding: [2, 1],
            ..g([3, 2], [2, 1])
        },
    )
    .check(66);
    mk(false, 13, 9, [6, 6], [3, 3], g([1, 1], [3, 3])).check(67); // padding ≥ kernel
                                                                   // Asymmetric "same": k3 s2 on even sizes (0 before, 1 after), k4 s1 (1 before, 2 after),
                                                                   // k3 s2 on odd sizes (1 and 1), stride 3.
    mk(false, 3, 4, [8, 7], [3, 3], Conv2dGeom::same(2)).check(70);
    mk(false, 5, 2, [6, 5], [4, 4], Conv2dGeom::same(1)).check(71);
    mk(false, 2, 3, [10, 9], [4, 2], Conv2dGeom::same(3)).check(72);
    mk(true, 3, 4, [4, 3], [3, 3], Conv2dGeom::same(2)).check(73);
    mk(true, 5, 2, [5, 4], [4, 4], Conv2dGeom::same(1)).check(74);
    mk(true, 2, 3, [3, 4], [4, 2], Conv2dGeom::same(3)).check(75);
    // A 1×1 input with padding / output padding (not the matrix-product path) and batch 3.
    mk(true, 6, 5, [1, 1], [4, 4], g([2, 2], [1, 1])).check(76);
    mk(
        true,
        6,
        5,
        [1, 1],
        [3, 3],
        g([2, 2], [0, 0]).with_output_padding(1),
    )
    .check(77);
    convt(7, 9, 1, 3, 1, 0).batch(3).check(78);
    // Many pixels, few channels, and many channels on a tiny image (block remainders).
    mk(false, 3, 1, [33, 31], [3, 3], g([1, 1], [1, 1])).check(79);
    mk(true, 37, 11, [2, 3], [3, 3], g([1, 1], [0, 0])).check(80);
    // Windows that cover the whole input (a matrix product): with bias, few and many outputs,
    // a long reduction (split on GPUs).
    conv(5, 3, 4, 4, 1, 0).check(81);
    conv(40, 9, 4, 4, 1, 0).check(82);
    conv(70, 2, 5, 5, 1, 0).check(83);
}

#[test]
fn every_kernel_family_matches_cpu() {
    // The adapter picks one kernel family (subgroup sharing on lavapipe). The others — GPU
    // blocks (8×8, 64-wide workgroups), CPU blocks, convolutions as implicit GEMMs on the
    // tiled matmul and transposed convolutions through columns — are checked on any adapter
    // by rerunning this test in a child process with TAPEGAN_CONV_BLOCKS set.
    if rerun_with_env(
        "every_kernel_family_matches_cpu",
        "TAPEGAN_CONV_BLOCKS",
        &["gpu", "cpu", "gemm", "columns"],
    ) {
        return;
    }
    dcgan_28_layers_match_cpu();
    awkward_geometries_match_cpu();
    // A weight gradient summing over 20 × 32 × 32 = 20,480 positions: more than one
    // invocation may loop over (the GEMM splits it into slices).
    conv(1, 8, 64, 4, 2, 1).batch(20).check(96);
    convt(20, 24, 1, 4, 1, 0).check(90);
    convt(19, 9, 4, 3, 2, 1).check(91);
    convt(6, 3, 5, 4, 2, 1).same().check(92);
    conv(3, 17, 9, 4, 2, 1).check(93);
    conv(70, 2, 5, 3, 1, 1).no_bias().check(94);
    conv(9, 1, 7, 4, 2, 0).same().check(95);
    // One geometry at two batch sizes (pipelines are shared across batches; K split, bias).
    convt(128, 64, 4, 3, 2, 1).batch(2).check(97);
    convt(128, 64, 4, 3, 2, 1).batch(3).check(98);
    // Phases with fewer taps than others, or none: a kernel smaller than the stride (with
    // output padding), padding beyond the kernel, a kernel not a multiple of the stride.
    let geom = |stride, pad, output_padding| Conv2dGeom {
        stride,
        padding: Padding::Explicit(pad),
        output_padding,
    };
    let layer = |cin, cout, hw, k, g| Layer {
        transposed: true,
        n: 2,
        cin,
        cout,
        hw,
        k,
        g,
        bias: true,
    };
    layer(5, 4, [4, 5], [1, 1], geom([2, 3], [0, 0], [1, 2])).check(99);
    layer(3, 4, [3, 4], [2, 5], geom([3, 2], [3, 4], [0, 0])).check(100);
    layer(3, 4, [5, 3], [5, 7], geom([3, 4], [1, 2], [2, 3])).check(101);
    infinite_input_stays_out_of_padded_taps();
}

/// An infinite input reaches only the outputs its taps touch: no kernel may multiply it by
/// the zero of a padded tap (0·∞ = NaN). k3 s2: the phases have 4, 2, 2 and 1 taps.
fn infinite_input_stays_out_of_padded_taps() {
    let mut xv = vec![1.0f32; 9];
    xv[4] = f32::INFINITY;
    let x = t(&xv, &[1, 1, 3, 3]);
    let w = t(&rand_vec(9, 5, 0.5, 1.0), &[1, 1, 3, 3]);
    let y = x
        .conv_transpose2d(&w, None, &Conv2dGeom::new(2, 1))
        .unwrap();
    let v = y.to_vec().unwrap();
    assert!(v.iter().all(|f| !f.is_nan()), "NaN in {v:?}");
    assert!(
        v.iter().any(|f| f.is_infinite()),
        "the infinity vanished: {v:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// PyTorch goldens (scripts/goldens_conv.py).

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

// ---------------------------------------------------------------------------------------------
// Shape errors: Error::Shape naming the op and the shapes, never a panic.

fn shape_err(r: tapegan::Result<Tensor>, op: &str, needles: &[&str]) {
    match r {
        Err(tapegan::Error::Shape { op: o, msg }) => {
            assert_eq!(o, op, "{msg}");
            for n in needles {
                assert!(msg.contains(n), "{op}: '{msg}' should mention {n}");
            }
        }
        other => panic!("{op}: expected a shape error, got {other:?}"),
    }
}

#[test]
fn bad_shapes_are_shape_errors() {
    let z = |s: &[usize]| Tensor::zeros(&gpu(), s).unwrap();
    let g1 = Conv2dGeom::new(1, 0);
    shape_err(
        z(&[1, 3, 8, 8]).conv2d(&z(&[4, 2, 3, 3]), None, &g1),
        "conv2d",
        &["[1, 3, 8, 8]", "[4, 2, 3, 3]"],
    );
    shape_err(
        z(&[1, 3, 8, 8]).conv_transpose2d(&z(&[4, 2, 3, 3]), None, &g1),
        "conv_transpose2d",
        &["[1, 3, 8, 8]", "[4, 2, 3, 3]"],
    );
    shape_err(
        z(&[1, 1, 2, 2]).conv2d(&z(&[1, 1, 3, 3]), None, &g1),
        "conv2d",
        &["kernel [3, 3]", "[2, 2]"],
    );
    shape_err(
        z(&[1, 1, 1, 1]).conv_transpose2d(&z(&[1, 1, 3, 3]), None, &Conv2dGeom::new(1, 2)),
        "conv_transpose2d",
        &["non-positive"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv2d(&z(&[3, 2, 3, 3]), Some(&z(&[2])), &g1),
        "conv2d",
        &["bias", "[3]", "[2]"],
    );
    shape_err(
        z(&[2, 4, 4]).conv2d(&z(&[3, 2, 3, 3]), None, &g1),
        "conv2d",
        &["rank 4", "[2, 4, 4]"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv2d(&z(&[3, 2, 3]), None, &g1),
        "conv2d",
        &["rank 4", "[3, 2, 3]"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv_transpose2d(
            &z(&[2, 3, 3, 3]),
            None,
            &Conv2dGeom::new(2, 1).with_output_padding(2),
        ),
        "conv_transpose2d",
        &["output_padding"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv2d(&z(&[3, 2, 3, 3]), None, &Conv2dGeom::new(0, 1)),
        "conv2d",
        &["stride"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv2d(
            &z(&[3, 2, 3, 3]),
            None,
            &Conv2dGeom::new(1, 1).with_output_padding(1),
        ),
        "conv2d",
        &["output_padding"],
    );
    shape_err(
        z(&[1, 2, 4, 4]).conv_transpose2d(
            &z(&[2, 3, 3, 3]),
            None,
            &Conv2dGeom::same(2).with_output_padding(1),
        ),
        "conv_transpose2d",
        &["same"],
    );
    // The weight gradient checks the output gradient against the geometry.
    let x = z(&[2, 2, 8, 8]);
    shape_err(
        x.conv2d_weight_grad(&z(&[2, 3, 5, 5]), &Conv2dGeom::new(2, 1), [4, 4]),
        "conv2d_weight_grad",
        &["[2, 3, 5, 5]"],
    );
    shape_err(
        x.conv2d_weight_grad(&z(&[1, 3, 4, 4]), &Conv2dGeom::new(2, 1), [4, 4]),
        "conv2d_weight_grad",
        &["[1, 3, 4, 4]"],
    );
}
