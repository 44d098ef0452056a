//! Matrix products: odd sizes, the GAN shapes, every kernel family and tile, batches and bias.

use super::common::*;
use super::reference;
use super::support::*;
use tapegan::ops::MatmulKernel;

/// `x` (batch × r × c, row-major) with each matrix transposed when `tr`.
fn stored(x: &[f32], batch: usize, r: usize, c: usize, tr: bool) -> Vec<f32> {
    if !tr {
        return x.to_vec();
    }
    (0..batch)
        .flat_map(|b| reference::transpose2(&x[b * r * c..(b + 1) * r * c], r, c))
        .collect()
}

/// Checks op(A)·op(B) against the reference for logical A (m×k) and B (k×n), in every layout.
/// `exact` data (small integers) must match exactly; float data within a multiple of
/// √k·ε·Σ|aᵢₖbₖⱼ| (the typical growth of a sequential f32 dot product; worst case is k·ε).
fn check_matmul(m: usize, k: usize, n: usize, exact: bool, seed: u64) {
    let (a, b) = if exact {
        (ints(m * k, seed, 4), ints(k * n, seed + 1, 4))
    } else {
        (
            rand_vec(m * k, seed, -1.0, 1.0),
            rand_vec(k * n, seed + 1, -1.0, 1.0),
        )
    };
    let (want, abs) = reference::matmul(&a, &b, m, k, n);
    let tol: Vec<f64> = abs
        .iter()
        .map(|s| {
            if exact {
                0.0
            } else {
                4.0 * (k as f64).sqrt() * EPS * s
            }
        })
        .collect();
    poison(m * n);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let sa: &[usize] = if ta { &[k, m] } else { &[m, k] };
        let sb: &[usize] = if tb { &[n, k] } else { &[k, n] };
        let da = t(&stored(&a, 1, m, k, ta), sa);
        let db = t(&stored(&b, 1, k, n, tb), sb);
        let c = da.matmul_t(&db, ta, tb).unwrap();
        assert_eq!(c.shape(), &[m, n]);
        let what = format!(
            "{m}×{k}×{n} ta={ta} tb={tb}{}",
            if exact { " (integers)" } else { "" }
        );
        check_tol(&c.to_vec().unwrap(), &want, &tol, &what);
        if !ta && !tb {
            check_tol(
                &da.matmul(&db).unwrap().to_vec().unwrap(),
                &want,
                &tol,
                &what,
            );
        }
    }
}

/// `check_matmul` on each (m, k, n) with integer inputs (seeds from `exact_seed`) and with
/// random ones (seeds from `rand_seed`).
fn check_matmuls(shapes: &[(usize, usize, usize)], exact_seed: u64, rand_seed: u64) {
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        check_matmul(m, k, n, true, exact_seed + 2 * i as u64);
        check_matmul(m, k, n, false, rand_seed + 2 * i as u64);
    }
}

#[test]
fn matmul_small_and_odd_sizes() {
    let shapes = [
        (1, 1, 1),
        (7, 33, 5),
        (33, 7, 65),
        (1, 300, 1),
        (5, 1, 9),
        (64, 64, 64),
        (31, 33, 35),
    ];
    check_matmuls(&shapes, 800, 900);
}

#[test]
fn matmul_gan_shapes() {
    check_matmuls(
        &[(300, 784, 128), (300, 128, 784), (128, 300, 784)],
        1000,
        1100,
    );
}

#[test]
fn matmul_vector_reads() {
    // Sizes that let the kernel read A or B as vec4s along k, m or n, with K mod 4 = 1, 2, 0
    // (the scalar loop finishing what the vector loop leaves) and edge tiles.
    let shapes = [
        (36, 13, 40),
        (40, 14, 36),
        (64, 20, 12),
        (8, 4, 8),
        (4, 16, 4),
    ];
    check_matmuls(&shapes, 1200, 1300);
}

#[test]
fn matmul_every_kernel_family() {
    // The adapter picks one family (subgroup sharing on lavapipe, tiled on GPUs); the others
    // are checked on any adapter by rerunning this test with TAPEGAN_MATMUL_KERNEL set.
    if rerun_with_env(
        "matmul::matmul_every_kernel_family",
        "TAPEGAN_MATMUL_KERNEL",
        &["tiled", "register", "sharing"],
    ) {
        return;
    }
    // (64, 1000, 1) and the batch of k = 700: few output tiles and a long K (split into
    // slices by the tiled kernel); K = 20,000: longer than one invocation may loop, with
    // odd sizes (scalar stores) and sizes that allow vec4 stores (chunks accumulating into C).
    let shapes = [
        (7, 33, 5),
        (31, 33, 35),
        (130, 37, 260),
        (64, 1000, 1),
        (3, 20_000, 5),
        (8, 20_000, 12),
    ];
    check_matmuls(&shapes, 1400, 1500);
    check_batches_and_bias();
    check_linear_bias(300, 128, 40);
    // An empty batch with a long K.
    let empty = t(&[], &[0, 7, 600]).matmul(&t(&[], &[0, 600, 5])).unwrap();
    assert_eq!(empty.shape(), &[0, 7, 5]);
}

#[test]
fn matmul_every_tile() {
    // Every built-in tile of the tiled kernel and one non-square one, forced through
    // TAPEGAN_MATMUL_TILE: edge tiles in both directions, K not a multiple of the step, more
    // than one workgroup each way, batches, K split into slices (5×1030×7, batch k = 700).
    if rerun_with_env(
        "matmul::matmul_every_tile",
        "TAPEGAN_MATMUL_TILE",
        &[
            "128x128x8/8x8",
            "64x64x16/4x4",
            "32x32x16/4x4",
            "64x32x8/4x8",
        ],
    ) {
        return;
    }
    let shapes = [
        (1, 1, 1),
        (1, 300, 1),
        (260, 37, 300),
        (300, 64, 128),
        (5, 1030, 7),
    ];
    check_matmuls(&shapes, 1600, 1700);
    check_batches_and_bias();
}

#[test]
fn matmul_operands_in_textures_and_buffers() {
    // The subgroup-sharing kernel of CPU adapters reads large products' vec4 operands through
    // texture copies and small ones from their buffers; forcing each source checks both on
    // every shape: vector reads along k, m and n with edge tiles and K mod 4 ≠ 0, several
    // operand sizes in one test (textures of different heights, recycled between products),
    // a product with more rows than one texture row holds, batches, bias and a K split into
    // chunks.
    if rerun_with_env(
        "matmul::matmul_operands_in_textures_and_buffers",
        "TAPEGAN_OPERANDS",
        &["texture", "buffer"],
    ) {
        return;
    }
    let g = gpu();
    let copies = g.exec_stats().texture_copies;
    let shapes = [
        (36, 13, 40),
        (64, 20, 12),
        (130, 37, 260),
        (300, 128, 784),
        (3, 20_000, 5),
    ];
    check_matmuls(&shapes, 1800, 1900);
    check_batches_and_bias();
    // Threads sharing one device record interleaved: each product must keep its own copies.
    std::thread::scope(|s| {
        for t in 0..3u64 {
            s.spawn(move || check_matmuls(&[(64, 48, 80), (40, 96, 36)], 2000 + t, 2100 + t));
        }
    });
    let copied = g.exec_stats().texture_copies > copies;
    let forced = std::env::var("TAPEGAN_OPERANDS").unwrap();
    if matches!(MatmulKernel::of(&g), MatmulKernel::Sharing(_)) {
        assert_eq!(copied, forced == "texture", "texture copies with {forced}");
    }
}

#[test]
fn matmul_one_operand_in_a_texture() {
    // Under the default rule a product with one narrow side copies only the operand the wide
    // side reuses (8 rows: B stays in its buffer, read as vec4s, A comes from a texture), so
    // one kernel mixes both sources.
    check_matmuls(&[(8, 4096, 64), (64, 4096, 8)], 2200, 2300);
}

/// Batched products (one with a K the tiled kernel splits) and a Linear with bias and a
/// split K: the cases every matmul family and tile must pass besides plain products.
fn check_batches_and_bias() {
    check_batched(7, 33, 5, 3);
    check_batched(7, 700, 5, 3);
    check_linear_bias(64, 1000, 3);
    // The bias in the first of two K chunks, the second accumulating (vec4 stores).
    check_linear_bias(8, 17_000, 12);
    // A shape whose transpose tiles better: the bias runs along the kernel's rows, stored
    // four rows at a time on the subgroup-sharing kernel.
    check_linear_bias(100, 24, 96);
}

/// x·Wᵀ + b (`Tensor::linear`, the bias added inside the matmul) for x m×k, W n×k.
fn check_linear_bias(m: usize, k: usize, n: usize) {
    let x = rand_vec(m * k, 1800 + k as u64, -1.0, 1.0);
    let w = rand_vec(n * k, 1900 + k as u64, -1.0, 1.0);
    let b = rand_vec(n, 2000 + k as u64, -1.0, 1.0);
    let (mut want, mut tol) = (Vec::new(), Vec::new());
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|q| x[i * k + q] as f64 * w[j * k + q] as f64);
            let abs: f64 = terms.clone().map(f64::abs).sum::<f64>() + (b[j] as f64).abs();
            want.push(terms.sum::<f64>() + b[j] as f64);
            tol.push(4.0 * (k as f64).sqrt() * EPS * abs);
        }
    }
    let y = t(&x, &[m, k])
        .linear(&t(&w, &[n, k]), Some(&t(&b, &[n])))
        .unwrap();
    let what = format!("linear {m}×{k}→{n} + bias");
    check_tol(&y.to_vec().unwrap(), &want, &tol, &what);
}

#[test]
fn matmul_batched_with_broadcast() {
    check_batched(7, 33, 5, 3);
}

#[test]
fn outer_products_run_elementwise_in_every_layout() {
    // K = 1 bypasses the matmul kernels: batched and broadcast operands, a Linear with bias,
    // and n = 128 (the critics' last layer, the elementwise kernel's vec4 path).
    check_batched(7, 1, 5, 3);
    check_batched(3, 1, 128, 2);
    check_linear_bias(9, 1, 6);
    check_linear_bias(300, 1, 128);
}

/// Batched products of m×k by k×n (batch `bt`) in every layout, with either operand broadcast
/// or of rank 2, against the reference.
fn check_batched(m: usize, k: usize, n: usize, bt: usize) {
    // (batch of A, batch of B, rank of A, rank of B)
    let cases = [
        (bt, bt, 3, 3),
        (1, bt, 3, 3),
        (bt, 1, 3, 3),
        (1, bt, 2, 3),
        (bt, 1, 3, 2),
        (1, 1, 3, 3),
    ];
    for (ci, &(ba, bb, ra, rb)) in cases.iter().enumerate() {
        let a = ints(ba * m * k, 1200 + ci as u64, 3);
        let b = ints(bb * k * n, 1300 + ci as u64, 3);
        let batch = ba.max(bb);
        let mut want = Vec::new();
        for i in 0..batch {
            let ai = if ba == 1 { 0 } else { i };
            let bi = if bb == 1 { 0 } else { i };
            let (c, _) = reference::matmul(
                &a[ai * m * k..(ai + 1) * m * k],
                &b[bi * k * n..(bi + 1) * k * n],
                m,
                k,
                n,
            );
            want.extend(c);
        }
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (ar, ac) = if ta { (k, m) } else { (m, k) };
            let (br, bc) = if tb { (n, k) } else { (k, n) };
            let sa: Vec<usize> = if ra == 3 {
                vec![ba, ar, ac]
            } else {
                vec![ar, ac]
            };
            let sb: Vec<usize> = if rb == 3 {
                vec![bb, br, bc]
            } else {
                vec![br, bc]
            };
            let da = t(&stored(&a, ba, m, k, ta), &sa);
            let db = t(&stored(&b, bb, k, n, tb), &sb);
            let c = da.matmul_t(&db, ta, tb).unwrap();
            assert_eq!(c.shape(), &[batch, m, n], "{sa:?}·{sb:?}");
            check(
                &c.to_vec().unwrap(),
                &want,
                0.0,
                0.0,
                &format!("batched {sa:?}·{sb:?} ta={ta} tb={tb}"),
                None,
            );
        }
    }
    // Batch sizes that disagree (neither 1) are an error.
    let a = t(&[0.0; 2 * 4], &[2, 2, 2]);
    let b = t(&[0.0; 3 * 4], &[3, 2, 2]);
    assert!(a.matmul(&b).is_err());
}
