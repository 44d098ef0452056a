//! Convolution ops: the three kernels (`conv2d`, `conv_transpose2d`, `conv2d_weight_grad`)
//! against naive CPU loops at every layer shape of SPEC.md and at awkward ones, and shape
//! errors. Their first- and second-order gradients are checked in `conv/gradients.rs`.
mod common;
#[path = "conv/gradients.rs"]
mod gradients;
#[path = "conv/reference.rs"]
mod reference;
use common::*;
use reference::*;
use tapegan::ops::{Conv2dGeom, Padding};
use tapegan::Tensor;

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
    // Reductions longer than one invocation may loop (input channels × 49 taps): split into
    // dispatches that add into the output, reading four channels per load and one.
    conv(1336, 8, 7, 7, 1, 3).batch(1).check(84);
    conv(1337, 8, 7, 7, 1, 3).batch(1).check(85);
    // Few input channels over a channels-last im2col copy: one, two and three channels,
    // K = 16, 8 and 48 (a K not a multiple of 4, 2 × 9, takes the direct kernel).
    conv(1, 16, 12, 4, 2, 1).check(88);
    conv(2, 9, 10, 2, 1, 0).check(89);
    conv(3, 24, 13, 4, 3, 2).check(102);
    conv(2, 16, 9, 3, 1, 1).check(103);
}

#[test]
fn every_kernel_family_matches_cpu() {
    // The adapter picks one kernel family (subgroup sharing on lavapipe). The others — GPU
    // blocks (8×8, 64-wide workgroups), CPU blocks, convolutions as implicit GEMMs on the
    // tiled matmul and transposed convolutions through columns — are checked on any adapter
    // by rerunning this test in a child process with TAPEGAN_CONV_BLOCKS set; so are the
    // sharing kernels' two ways of reading (vec4 from channels-last copies, which by default
    // only large layers use, and scalar) and the Winograd products of 4 × 4 stride-2 layers.
    if rerun_with_env(
        "every_kernel_family_matches_cpu",
        "TAPEGAN_CONV_BLOCKS",
        &[
            "gpu", "cpu", "gemm", "columns", "vec4", "scalar", "winograd",
        ],
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

#[test]
fn winograd_layers_match_cpu() {
    // 4 × 4 stride-2 layers as Winograd products (conv_winograd.rs), which by default only
    // large layers take on CPU adapters: forced in a child process, at odd sizes (tiles past
    // the output's edge), non-square, a conv source one row and column longer than its
    // windows read, and batches that run in several chunks of images (their transformed
    // inputs over 32 MiB). Each check also runs the input gradient (the other kind of layer)
    // and the weight gradient through the same transforms.
    if rerun_with_env(
        "winograd_layers_match_cpu",
        "TAPEGAN_CONV_BLOCKS",
        &["winograd"],
    ) {
        return;
    }
    let layer = |transposed, n, cin, cout, hw| Layer {
        transposed,
        n,
        cin,
        cout,
        hw,
        k: [4, 4],
        g: Conv2dGeom::new(2, 1),
        bias: true,
    };
    conv(16, 24, 14, 4, 2, 1).batch(3).check(130);
    convt(24, 16, 7, 4, 2, 1).batch(3).no_bias().check(131);
    layer(false, 2, 12, 20, [10, 7]).check(132);
    layer(true, 2, 20, 12, [5, 3]).check(133);
    // Widths of four: whole vec4s in the conv's input transform and in the transposed
    // conv's output transform.
    layer(true, 2, 20, 12, [6, 4]).check(137);
    layer(false, 2, 12, 20, [10, 8]).check(138);
    conv(8, 8, 9, 4, 2, 1).check(134);
    convt(16, 16, 16, 4, 2, 1).batch(240).check(135);
    conv(16, 16, 32, 4, 2, 1).batch(240).no_bias().check(136);
}

#[test]
fn gather_operands_in_textures_and_buffers() {
    // The gather kernel's vec4 variant reads channels-last copies of its operands, from
    // their buffers by default and through texture copies when TAPEGAN_OPERANDS says so:
    // both are checked on any adapter by rerunning in child processes (with the vec4
    // variant forced, which by default only layers too large for this test use).
    if rerun_with_envs(
        "gather_operands_in_textures_and_buffers",
        "TAPEGAN_OPERANDS",
        &["texture", "buffer"],
        &[("TAPEGAN_CONV_BLOCKS", "vec4")],
    ) {
        return;
    }
    dcgan_28_layers_match_cpu();
    attention_1x1_convs_match_cpu();
    convt(512, 256, 4, 4, 2, 1).batch(1).check(110);
    conv(64, 128, 32, 4, 2, 1).batch(1).check(111);
    conv(1336, 8, 7, 7, 1, 3).batch(1).check(112);
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
