//! The fused batch/instance-norm kernels at the shapes the presets use, against a float64
//! reference: channels split into many tiles, rows loaded as vec4 (H·W a multiple of 4),
//! channels loaded as vec4 (rank 2 with C a multiple of 4) and scalars (7×7, rank 2 with odd
//! C), and inputs far from zero (the shifted sums must stay accurate).
//! The PyTorch goldens in tests/layers/ cover the semantics on small shapes.
mod common;
use common::*;
use tapegan::nn::{BatchNorm, Ctx, InstanceNorm, Module, NormConfig};
use tapegan::{grad, Generator, Tensor};

/// y = (x − mean) / sqrt(var + eps) · w + b per group, and the gradients of Σ y ⊙ g with
/// respect to x, w and b. `groups` lists, per (n, c) row of `b_len` elements, the group
/// (channel for batch norm, row for instance norm) and the channel of its affine weight.
struct Reference {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

fn reference(
    x: &[f32],
    gout: &[f32],
    n: usize,
    c: usize,
    b_len: usize,
    per_row: bool,
) -> Reference {
    let eps = 1e-5;
    let groups = if per_row { n * c } else { c };
    let group_of = |i: usize| {
        let row = i / b_len;
        if per_row {
            row
        } else {
            row % c
        }
    };
    let mut sum = vec![0.0f64; groups];
    let mut count = vec![0usize; groups];
    for (i, &v) in x.iter().enumerate() {
        sum[group_of(i)] += v as f64;
        count[group_of(i)] += 1;
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, &k)| s / k as f64).collect();
    let mut var = vec![0.0f64; groups];
    for (i, &v) in x.iter().enumerate() {
        let d = v as f64 - mean[group_of(i)];
        var[group_of(i)] += d * d;
    }
    let invstd: Vec<f64> = var
        .iter()
        .zip(&count)
        .map(|(v, &k)| 1.0 / (v / k as f64 + eps).sqrt())
        .collect();
    let xhat: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as f64 - mean[group_of(i)]) * invstd[group_of(i)])
        .collect();
    // Weight 1, bias 0 (as constructed): y = x̂; dŷ = g.
    let (mut sg, mut sgx) = (vec![0.0f64; groups], vec![0.0f64; groups]);
    let (mut dw, mut db) = (vec![0.0f64; c], vec![0.0f64; c]);
    for (i, (&g, &xh)) in gout.iter().zip(&xhat).enumerate() {
        let k = group_of(i);
        sg[k] += g as f64;
        sgx[k] += g as f64 * xh;
        let ch = (i / b_len) % c;
        dw[ch] += g as f64 * xh;
        db[ch] += g as f64;
    }
    let dx = gout
        .iter()
        .zip(&xhat)
        .enumerate()
        .map(|(i, (&g, &xh))| {
            let k = group_of(i);
            let m = count[k] as f64;
            invstd[k] * (g as f64 - sg[k] / m - xh * sgx[k] / m)
        })
        .collect();
    Reference {
        y: xhat,
        dx,
        dw,
        db,
    }
}

fn check(what: &str, got: &Tensor, want: &[f64], atol: f32) {
    let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
    assert_close(&got.to_vec().unwrap(), &want, 1e-3, atol, what);
}

#[test]
fn batch_norm_matches_float64_at_preset_shapes() {
    // (shape, offset): vec4 rows with many tiles per channel, 7×7 scalar rows, rank-2 batch
    // norms (Linear layers: vec4 along the channels, or scalars when C is not a multiple of
    // 4), data centred far from zero, and rows read as vec4 words that span two rows (B = 49,
    // 9, 6, 3, 2 in a tensor of whole vec4s; the last two with runs of several words per
    // invocation, which cross two rows per word when B = 2).
    let cases: [(&[usize], f32); 12] = [
        (&[64, 32, 14, 14], 0.0),
        (&[16, 64, 7, 7], 5.0),
        (&[8, 16, 32, 32], -300.0),
        (&[300, 128], 0.0),
        (&[300, 128], 40.0),
        (&[6, 12], -3.0),
        (&[5, 6], 1.0),
        (&[3, 5, 9, 9], 2.0),
        (&[4, 6, 2, 3], 0.5),
        (&[6, 2, 1, 2], -2.0),
        (&[2048, 4, 1, 3], 1.0),
        (&[4096, 4, 1, 2], -2.0),
    ];
    for (k, (shape, offset)) in cases.into_iter().enumerate() {
        let (n, c) = (shape[0], shape[1]);
        let b_len: usize = shape[2..].iter().product();
        let numel = n * c * b_len;
        let xs = rand_vec(numel, 100 + k as u64, offset - 1.5, offset + 2.5);
        let gs = rand_vec(numel, 200 + k as u64, -1.0, 1.0);
        let want = reference(&xs, &gs, n, c, b_len, false);
        let bn = BatchNorm::new(&gpu(), c, NormConfig::pytorch()).unwrap();
        let x = var(&xs, shape);
        let mut rng = Generator::new(0);
        let y = bn.forward(&x, &mut Ctx::train(&mut rng)).unwrap();
        let what = format!("batch norm {shape:?} offset {offset}");
        check(&format!("{what}: y"), &y, &want.y, 2e-4);
        let loss = y.mul(&t(&gs, shape)).unwrap().sum_all().unwrap();
        let g = grad(&[&loss], &[&x, &bn.weight, &bn.bias], false).unwrap();
        check(&format!("{what}: dx"), &g[0], &want.dx, 2e-4);
        check(&format!("{what}: dweight"), &g[1], &want.dw, 2e-2);
        check(&format!("{what}: dbias"), &g[2], &want.db, 2e-2);
    }
}

#[test]
fn instance_norm_matches_float64_at_preset_shapes() {
    for (k, shape) in [[64usize, 64, 7, 7], [16, 32, 14, 14], [4, 4, 3, 3]]
        .into_iter()
        .enumerate()
    {
        let (n, c) = (shape[0], shape[1]);
        let b_len = shape[2] * shape[3];
        let numel = n * c * b_len;
        let xs = rand_vec(numel, 300 + k as u64, -2.0, 3.0);
        let gs = rand_vec(numel, 400 + k as u64, -1.0, 1.0);
        let want = reference(&xs, &gs, n, c, b_len, true);
        let x = var(&xs, &shape);
        let mut rng = Generator::new(0);
        let y = InstanceNorm::new(c)
            .forward(&x, &mut Ctx::train(&mut rng))
            .unwrap();
        let what = format!("instance norm {shape:?}");
        check(&format!("{what}: y"), &y, &want.y, 2e-4);
        let loss = y.mul(&t(&gs, &shape)).unwrap().sum_all().unwrap();
        let g = grad(&[&loss], &[&x], false).unwrap();
        check(&format!("{what}: dx"), &g[0], &want.dx, 2e-4);
    }
}

#[test]
fn degenerate_inputs_are_shape_errors_not_panics() {
    let mut rng = Generator::new(0);
    // One position per channel: no instance statistics (PyTorch raises too).
    let x = t(&[1.0; 6], &[2, 3, 1, 1]);
    let e = InstanceNorm::new(3)
        .forward(&x, &mut Ctx::train(&mut rng))
        .unwrap_err();
    assert!(e.to_string().contains("more than one position"), "{e}");
    // An empty batch in training mode has no statistics; in evaluation it is just empty.
    let bn = BatchNorm::new(&gpu(), 3, NormConfig::pytorch()).unwrap();
    let empty = Tensor::zeros(&gpu(), &[0, 3, 4, 4]).unwrap();
    let e = bn.forward(&empty, &mut Ctx::train(&mut rng)).unwrap_err();
    assert!(e.to_string().contains("more than one value"), "{e}");
    let y = bn.forward(&empty, &mut Ctx::eval(&mut rng)).unwrap();
    assert_eq!(y.shape(), &[0, 3, 4, 4]);
}
