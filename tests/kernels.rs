//! Every kernel against a plain-Rust CPU reference (`tests/common/reference.rs`), at awkward
//! sizes (1, 7, 33, 300×784, and one op over more elements than one row of the dispatch grid
//! holds): elementwise maps, broadcasting arithmetic, comparisons, select, reductions, layout
//! copies, matrix products, index ops, the random generator, fills and readback.
//!
//! Tolerances are tight: exact for copies, comparisons and integer-valued data, about one
//! rounding for IEEE arithmetic, 1e-5 relative (plus 1e-6 absolute where WGSL only bounds the
//! absolute error) for transcendental functions, and a multiple of √k·ε·Σ|aᵢₖbₖⱼ| for products.
mod common;
#[path = "common/reference.rs"]
mod reference;

use common::*;
use tapegan::{Compare, Generator, Gpu, Result, Tensor};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// f32 unit roundoff.
const EPS: f64 = f32::EPSILON as f64 / 2.0;

/// Asserts |got − want| ≤ atol + rtol·|want| elementwise against an f64 reference. NaN must meet
/// NaN and an infinity the same infinity. Names the worst offender and its input, if given.
fn check(got: &[f32], want: &[f64], rtol: f64, atol: f64, what: &str, input: Option<&[f32]>) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64;
        let excess = if w.is_nan() || g.is_nan() {
            if w.is_nan() && g.is_nan() {
                continue;
            }
            f64::INFINITY
        } else if w.is_infinite() || g.is_infinite() {
            if g == w {
                continue;
            }
            f64::INFINITY
        } else {
            let tol = atol + rtol * w.abs();
            (g - w).abs() - tol
        };
        if excess > 0.0 && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        let inp = input
            .map(|x| format!(" (input {:e})", x[i]))
            .unwrap_or_default();
        panic!(
            "{what}: element {i}{inp}: got {:e} want {:e} (err {:e}, rtol {rtol:e}, atol {atol:e})",
            got[i],
            want[i],
            (got[i] as f64 - want[i]).abs()
        );
    }
}

/// Asserts bitwise equality (so −0 ≠ +0 and NaN payloads matter), naming the first difference.
fn check_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i}: got {:e} want {:e}", got[i], want[i]);
    }
}

/// Asserts |got − want| ≤ tol[i] elementwise.
fn check_tol(got: &[f32], want: &[f64], tol: &[f64], what: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    let mut worst: Option<(usize, f64)> = None;
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i]).abs();
        let excess = if err.is_nan() {
            f64::INFINITY
        } else {
            err - tol[i]
        };
        if excess > 0.0 && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}: element {i}: got {:e} want {:e} (err {:e} > tol {:e})",
            got[i],
            want[i],
            (got[i] as f64 - want[i]).abs(),
            tol[i]
        );
    }
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Small integers in [-k, k] stored as f32: sums and products of them are exact in f32.
fn ints(n: usize, seed: u64, k: i32) -> Vec<f32> {
    rand_vec(n, seed, -(k as f32) - 0.5, k as f32 + 0.5)
        .into_iter()
        .map(|v| v.round().clamp(-(k as f32), k as f32))
        .collect()
}

/// Returns pooled buffers of `n` elements holding NaN, so that a kernel that leaves output
/// elements unwritten shows it (the pool hands recycled buffers out uninitialised).
fn poison(n: usize) {
    let g = gpu();
    let ts: Vec<Tensor> = (0..3)
        .map(|_| Tensor::full(&g, &[n.max(1)], f32::NAN).unwrap())
        .collect();
    g.synchronize().unwrap();
    drop(ts);
}

/// The awkward sizes every elementwise kernel is run at.
const SHAPES: [&[usize]; 4] = [&[1], &[7], &[33], &[300, 784]];

/// Inputs of each awkward shape: `special` first (as many as fit), then values in [lo, hi).
fn inputs(special: &[f32], lo: f32, hi: f32, seed: u64) -> Vec<(Vec<usize>, Vec<f32>)> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let n = numel(s);
            let mut v = rand_vec(n, seed + k as u64, lo, hi);
            let m = special.len().min(n);
            v[..m].copy_from_slice(&special[..m]);
            (s.to_vec(), v)
        })
        .collect()
}

/// Runs `op` on every input set and compares with `reference` (in f64).
fn unary_case(
    what: &str,
    sets: &[(Vec<usize>, Vec<f32>)],
    op: impl Fn(&Tensor) -> Result<Tensor>,
    reference: impl Fn(f32) -> f64,
    rtol: f64,
    atol: f64,
) {
    for (shape, x) in sets {
        let y = op(&t(x, shape)).unwrap();
        assert_eq!(y.shape(), shape.as_slice(), "{what}: output shape");
        let want: Vec<f64> = x.iter().map(|&v| reference(v)).collect();
        check(
            &y.to_vec().unwrap(),
            &want,
            rtol,
            atol,
            &format!("{what} {shape:?}"),
            Some(x),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Unary maps
// ---------------------------------------------------------------------------------------------

#[test]
fn unary_exact_ops() {
    let sp = [0.0, -0.0, 1.0, -1.0, 3.5, -1e-30, 1e30, -2.5];
    let sets = inputs(&sp, -100.0, 100.0, 1);
    for (shape, x) in &sets {
        let tx = t(x, shape);
        let bits = |f: &dyn Fn(f32) -> f32| x.iter().map(|&v| f(v)).collect::<Vec<f32>>();
        check_bits(&tx.neg().unwrap().to_vec().unwrap(), &bits(&|v| -v), "neg");
        check_bits(
            &tx.abs().unwrap().to_vec().unwrap(),
            &bits(&|v| v.abs()),
            "abs",
        );
        check_bits(
            &tx.square().unwrap().to_vec().unwrap(),
            &bits(&|v| v * v),
            "square",
        );
        let relu = tx.relu().unwrap().to_vec().unwrap();
        let want: Vec<f64> = x.iter().map(|&v| v.max(0.0) as f64).collect();
        check(&relu, &want, 0.0, 0.0, "relu", Some(x));
        let sign = tx.sign().unwrap().to_vec().unwrap();
        let want: Vec<f64> = x
            .iter()
            .map(|&v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect();
        check(&sign, &want, 0.0, 0.0, "sign", Some(x));
        for slope in [0.2f32, 0.01, 1.5] {
            let y = tx.leaky_relu(slope).unwrap().to_vec().unwrap();
            let want = bits(&|v| if v > 0.0 { v } else { slope * v });
            check_bits(&y, &want, &format!("leaky_relu({slope}) {shape:?}"));
        }
        for (lo, hi) in [(-1.0f32, 1.0f32), (0.0, 3.5), (-2.5, -2.5)] {
            let y = tx.clamp(lo, hi).unwrap().to_vec().unwrap();
            let want: Vec<f64> = x.iter().map(|&v| v.clamp(lo, hi) as f64).collect();
            check(
                &y,
                &want,
                0.0,
                0.0,
                &format!("clamp({lo}, {hi}) {shape:?}"),
                Some(x),
            );
        }
    }
}

#[test]
fn affine_and_scalar_arithmetic() {
    let sets = inputs(&[0.0, 1.0, -1.0, 0.5, 1e20], -50.0, 50.0, 2);
    for (shape, x) in &sets {
        let tx = t(x, shape);
        for (a, b) in [
            (2.0f32, 1.0f32),
            (-0.3, 7.25),
            (1.0, -1.0),
            (0.0, 3.0),
            (1e-3, 0.0),
        ] {
            let y = tx.affine(a, b).unwrap().to_vec().unwrap();
            // a·x + b may be one fused operation or two roundings: allow one rounding of each term.
            let want: Vec<f64> = x.iter().map(|&v| a as f64 * v as f64 + b as f64).collect();
            let tol: Vec<f64> = x
                .iter()
                .map(|&v| 2.0 * EPS * ((a as f64 * v as f64).abs() + (b as f64).abs()))
                .collect();
            check_tol(&y, &want, &tol, &format!("affine({a}, {b}) {shape:?}"));
        }
        let y = tx.add_scalar(0.75).unwrap().to_vec().unwrap();
        check_bits(
            &y,
            &x.iter().map(|&v| v + 0.75).collect::<Vec<_>>(),
            "add_scalar",
        );
        // mul_scalar(c) is c·x + 0, so 0·(−3) comes out as +0 rather than −0: compare values.
        let y = tx.mul_scalar(-3.0).unwrap().to_vec().unwrap();
        let want: Vec<f64> = x.iter().map(|&v| (v * -3.0) as f64).collect();
        check(&y, &want, 0.0, 0.0, "mul_scalar", Some(x));
    }
}

#[test]
fn exp_log_sqrt_rsqrt_recip() {
    let sets = inputs(&[0.0, 1.0, -1.0, -87.0, 80.0, 1e-3, -1e-6], -20.0, 20.0, 3);
    unary_case("exp", &sets, |x| x.exp(), |v| (v as f64).exp(), 1e-5, 1e-37);

    let sp = [
        1.0,
        1.0001,
        0.9999,
        std::f32::consts::E,
        1e-6,
        1e4,
        2.0,
        0.5,
    ];
    let sets = inputs(&sp, 1e-3, 1e3, 4);
    // WGSL bounds log's error absolutely (2⁻²¹) on [0.5, 2], relatively elsewhere.
    unary_case("log", &sets, |x| x.log(), |v| (v as f64).ln(), 1e-5, 1e-6);

    let sets = inputs(&[0.0, 1.0, 4.0, 2.0, 1e-20, 1e20], 0.0, 1e4, 5);
    unary_case(
        "sqrt",
        &sets,
        |x| x.sqrt(),
        |v| (v as f64).sqrt(),
        1e-6,
        1e-37,
    );
    let sets = inputs(&[1.0, 4.0, 2.0, 1e-20, 1e20], 1e-4, 1e4, 6);
    unary_case(
        "rsqrt",
        &sets,
        |x| x.rsqrt(),
        |v| 1.0 / (v as f64).sqrt(),
        1e-6,
        0.0,
    );

    let mut sets = inputs(&[1.0, -1.0, 3.0, -7.0, 1e-30, 1e30], 1e-3, 1e3, 7);
    for (_, x) in sets.iter_mut() {
        for (i, v) in x.iter_mut().enumerate().skip(6) {
            if i % 2 == 1 {
                *v = -*v;
            }
        }
    }
    unary_case("recip", &sets, |x| x.recip(), |v| 1.0 / v as f64, 1e-6, 0.0);
}

#[test]
fn tanh_sigmoid_softplus_are_stable_at_large_magnitude() {
    let sp = [
        50.0, -50.0, 100.0, -100.0, 0.0, 10.5, -10.5, 9.9, -9.9, 1e-4, -1e-4, 1e-7, 20.0, -20.0,
        88.0, -88.0, 1e30, -1e30,
    ];
    let sets = inputs(&sp, -12.0, 12.0, 8);
    // WGSL bounds tanh by exp's error: absolute 1e-6 near 0, relative elsewhere.
    unary_case(
        "tanh",
        &sets,
        |x| x.tanh(),
        |v| (v as f64).tanh(),
        1e-5,
        1e-6,
    );
    let sets = inputs(&sp, -30.0, 30.0, 9);
    unary_case(
        "sigmoid",
        &sets,
        |x| x.sigmoid(),
        |v| reference::sigmoid(v as f64),
        1e-5,
        1e-37,
    );
    unary_case(
        "softplus",
        &sets,
        |x| x.softplus(),
        |v| reference::softplus(v as f64),
        1e-5,
        1e-6,
    );
    // No overflow to inf or NaN anywhere in the range of f32.
    let big = [f32::MAX, -f32::MAX, 3e38, -3e38, 1e10, -1e10];
    let x = t(&big, &[6]);
    for (name, y) in [
        ("tanh", x.tanh().unwrap()),
        ("sigmoid", x.sigmoid().unwrap()),
        ("softplus", x.softplus().unwrap()),
    ] {
        for (i, v) in y.to_vec().unwrap().into_iter().enumerate() {
            let want = match name {
                "tanh" => big[i].signum() as f64,
                "sigmoid" => (big[i] > 0.0) as u8 as f64,
                _ => (big[i] as f64).max(0.0),
            };
            check(
                &[v],
                &[want],
                1e-6,
                0.0,
                &format!("{name} at {:e}", big[i]),
                None,
            );
        }
    }
}

#[test]
fn elu_is_accurate_near_zero() {
    let sp = [
        0.0, -0.0, 1e-3, -1e-3, 1e-6, -1e-6, -1e-8, 0.00999, -0.00999, 0.0101, -0.0101, -0.02,
        -0.05, -5.0, -20.0, -100.0, 2.0,
    ];
    let mut sets = inputs(&sp, -0.05, 0.05, 10);
    // A dense sweep of [−1, 0] catches a switch from a series to exp(x) − 1 made too close to 0.
    let sweep: Vec<f32> = (0..65536).map(|i| -(i as f32) / 65536.0).collect();
    sets.push((vec![256, 256], sweep));
    for alpha in [1.0f32, 0.5] {
        // Near 0 the result is α·x(1 + x/2 + …): only an accurate expm1 keeps the relative error
        // small there (exp(x) − 1 loses ~log2(1/|x|) bits).
        unary_case(
            &format!("elu({alpha})"),
            &sets,
            |x| x.elu(alpha),
            |v| {
                let v = v as f64;
                if v > 0.0 {
                    v
                } else {
                    alpha as f64 * v.exp_m1()
                }
            },
            2e-6,
            1e-12,
        );
    }
}

#[test]
fn powf_integer_fractional_and_negative_bases() {
    // Integer exponents take negative bases (sign kept for odd powers); 0⁰ = 1.
    for p in [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0, -3.0] {
        let mut sp = vec![-2.0, 2.0, -0.5, 1.0, -1.0, -3.0];
        if p >= 0.0 {
            sp.push(0.0);
        }
        let sets = inputs(&sp, -4.0, 4.0, 11 + p.to_bits() as u64);
        let sets: Vec<_> = sets
            .into_iter()
            .map(|(s, x)| {
                let x = x
                    .into_iter()
                    .map(|v| if p < 0.0 && v.abs() < 0.05 { 0.25 } else { v })
                    .collect();
                (s, x)
            })
            .collect();
        unary_case(
            &format!("powf({p})"),
            &sets,
            |x| x.powf(p),
            |v| (v as f64).powi(p as i32),
            1e-5,
            0.0,
        );
    }
    // Fractional exponents on non-negative bases.
    for p in [0.5f32, 2.5, -0.5, 1.0 / 3.0, 1.7] {
        let mut sp = vec![1.0, 4.0, 2.0, 0.25];
        if p > 0.0 {
            sp.push(0.0);
        }
        let sets = inputs(&sp, 0.05, 8.0, 20 + p.to_bits() as u64);
        unary_case(
            &format!("powf({p})"),
            &sets,
            |x| x.powf(p),
            |v| (v as f64).powf(p as f64),
            1e-5,
            0.0,
        );
    }
    // Spot values.
    let x = t(&[0.0, -2.0, -0.5, -2.0, 3.0], &[5]);
    assert_eq!(x.powf(0.0).unwrap().to_vec().unwrap(), vec![1.0; 5], "x⁰");
    let y = x.powf(3.0).unwrap().to_vec().unwrap();
    check(&y, &[0.0, -8.0, -0.125, -8.0, 27.0], 1e-6, 0.0, "x³", None);
    let y = x
        .narrow(0, 1, 4)
        .unwrap()
        .powf(-3.0)
        .unwrap()
        .to_vec()
        .unwrap();
    check(
        &y,
        &[-0.125, -8.0, -0.125, 1.0 / 27.0],
        1e-6,
        0.0,
        "x⁻³",
        None,
    );
}

#[test]
fn compare_scalar_all_ops() {
    for (shape, x) in SHAPES.iter().map(|s| (s.to_vec(), ints(numel(s), 30, 3))) {
        let tx = t(&x, &shape);
        for c in [0.0f32, 1.0, -2.5] {
            for (op, f) in compare_fns() {
                let y = tx.compare_scalar(op, c).unwrap().to_vec().unwrap();
                let want: Vec<f64> = x.iter().map(|&v| f(v, c) as u8 as f64).collect();
                check(
                    &y,
                    &want,
                    0.0,
                    0.0,
                    &format!("compare_scalar {op:?} {c} {shape:?}"),
                    Some(&x),
                );
            }
        }
    }
}

type CompareCase = (Compare, fn(f32, f32) -> bool);

fn compare_fns() -> [CompareCase; 6] {
    [
        (Compare::Gt, |a, b| a > b),
        (Compare::Ge, |a, b| a >= b),
        (Compare::Lt, |a, b| a < b),
        (Compare::Le, |a, b| a <= b),
        (Compare::Eq, |a, b| a == b),
        (Compare::Ne, |a, b| a != b),
    ]
}

// ---------------------------------------------------------------------------------------------
// Broadcasting binary ops, comparisons, select, lerp
// ---------------------------------------------------------------------------------------------

/// Shape pairs covering every broadcasting case the layout code distinguishes.
fn broadcast_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![1], vec![1]),
        (vec![7], vec![7]),
        (vec![33], vec![1]),
        (vec![300, 784], vec![300, 784]),
        (vec![300, 784], vec![784]),
        (vec![784], vec![300, 784]),
        (vec![300, 784], vec![300, 1]),
        (vec![3, 1], vec![1, 4]),
        (vec![], vec![33]),
        (vec![7, 33], vec![]),
        (vec![], vec![]),
        (vec![2, 1, 3, 1, 5], vec![1, 4, 1, 6, 1]),
        (vec![2, 4, 3, 6, 5], vec![4, 1, 6, 5]),
        (vec![2, 3, 1, 5, 7], vec![2, 1, 4, 5, 1]),
        (vec![5, 1, 7], vec![1, 33, 1]),
        (vec![1, 1, 7], vec![7, 1]),
    ]
}

#[test]
fn binary_arithmetic_broadcasts() {
    for (k, (sa, sb)) in broadcast_pairs().into_iter().enumerate() {
        let a = rand_vec(numel(&sa), 40 + k as u64, -10.0, 10.0);
        let mut b = rand_vec(numel(&sb), 60 + k as u64, -10.0, 10.0);
        for v in b.iter_mut() {
            if v.abs() < 0.1 {
                *v = 0.5; // keep divisors away from 0
            }
        }
        let (ta, tb) = (t(&a, &sa), t(&b, &sb));
        type Op = fn(&Tensor, &Tensor) -> Result<Tensor>;
        type Case = (&'static str, Op, fn(f32, f32) -> f32);
        let ops: [Case; 3] = [
            ("add", |x, y| x.add(y), |x, y| x + y),
            ("sub", |x, y| x.sub(y), |x, y| x - y),
            ("mul", |x, y| x.mul(y), |x, y| x * y),
        ];
        for (name, op, f) in ops {
            let y = op(&ta, &tb).unwrap();
            let (shape, want) = reference::binary(&a, &sa, &b, &sb, f);
            assert_eq!(y.shape(), shape.as_slice(), "{name} {sa:?} {sb:?}: shape");
            // IEEE add, sub and mul are correctly rounded: the GPU must match f32 bit for bit.
            check_bits(
                &y.to_vec().unwrap(),
                &want,
                &format!("{name} {sa:?} {sb:?}"),
            );
        }
        let y = ta.div(&tb).unwrap();
        let (_, want) = reference::binary(&a, &sa, &b, &sb, |x, y| x as f64 / y as f64);
        // WGSL allows 2.5 ULP for division.
        check(
            &y.to_vec().unwrap(),
            &want,
            3.0 * 2.0 * EPS,
            0.0,
            &format!("div {sa:?} {sb:?}"),
            None,
        );
    }
}

#[test]
fn compare_broadcasts() {
    for (k, (sa, sb)) in broadcast_pairs().into_iter().enumerate() {
        let a = ints(numel(&sa), 80 + k as u64, 2);
        let b = ints(numel(&sb), 90 + k as u64, 2);
        let (ta, tb) = (t(&a, &sa), t(&b, &sb));
        for (op, f) in compare_fns() {
            let y = ta.compare(op, &tb).unwrap();
            let (shape, want) = reference::binary(&a, &sa, &b, &sb, |x, y| f(x, y) as u8 as f64);
            assert_eq!(y.shape(), shape.as_slice());
            check(
                &y.to_vec().unwrap(),
                &want,
                0.0,
                0.0,
                &format!("compare {op:?} {sa:?} {sb:?}"),
                None,
            );
        }
    }
}

#[test]
fn select_where_and_lerp_broadcast() {
    let cases: [[&[usize]; 3]; 7] = [
        [&[1], &[1], &[1]],
        [&[7], &[7], &[7]],
        [&[33], &[], &[33]],
        [&[300, 784], &[300, 784], &[784]],
        [&[300, 1], &[300, 784], &[]],
        [&[3, 1], &[1, 4], &[3, 4]],
        [&[2, 1, 3, 1, 5], &[1, 4, 1, 6, 1], &[2, 4, 3, 6, 5]],
    ];
    for (k, [sc, sa, sb]) in cases.into_iter().enumerate() {
        // Conditions: zeros (of both signs), negatives, fractions. (NaN is left out: WGSL lets
        // implementations assume floats are never NaN.)
        let mut c = ints(numel(sc), 100 + k as u64, 1);
        if c.len() > 3 {
            c[1] = 0.25;
            c[2] = -1e-30;
            c[3] = -0.0;
        }
        let a = rand_vec(numel(sa), 110 + k as u64, -5.0, 5.0);
        let b = rand_vec(numel(sb), 120 + k as u64, -5.0, 5.0);
        let (tc, ta, tb) = (t(&c, sc), t(&a, sa), t(&b, sb));
        let (shape, want) =
            reference::ternary(
                &c,
                sc,
                &a,
                sa,
                &b,
                sb,
                |c, x, y| {
                    if c != 0.0 {
                        x
                    } else {
                        y
                    }
                },
            );
        let y = tc.select(&ta, &tb).unwrap();
        assert_eq!(y.shape(), shape.as_slice());
        check_bits(
            &y.to_vec().unwrap(),
            &want,
            &format!("select {sc:?} {sa:?} {sb:?}"),
        );
        let y = ta.where_(&tc, &tb).unwrap();
        check_bits(
            &y.to_vec().unwrap(),
            &want,
            &format!("where_ {sc:?} {sa:?} {sb:?}"),
        );

        // lerp(a, b, t) = a + t·(b − a), each step rounded as f32.
        let tt = rand_vec(numel(sc), 130 + k as u64, 0.0, 1.0);
        let y = ta.lerp(&tb, &t(&tt, sc)).unwrap();
        let (shape, want) = reference::ternary(&tt, sc, &a, sa, &b, sb, |w, x, y| x + (y - x) * w);
        assert_eq!(y.shape(), shape.as_slice());
        check_bits(
            &y.to_vec().unwrap(),
            &want,
            &format!("lerp {sa:?} {sb:?} {sc:?}"),
        );
    }
}

#[test]
fn elementwise_over_a_two_dimensional_dispatch_grid() {
    // 17 M outputs = 66 407 workgroups of 256 > 65 535: the grid spills into y.
    let (rows, cols) = (4250usize, 4000usize);
    let n = rows * cols;
    assert!(n > 65535 * 256);
    let x: Vec<f32> = (0..n).map(|i| (i % 4093) as f32).collect();
    let r: Vec<f32> = (0..cols).map(|j| j as f32 * 0.5).collect();
    let y = t(&x, &[rows, cols]).add(&t(&r, &[cols])).unwrap();
    let got = y.to_vec().unwrap();
    drop(y);
    assert_eq!(got.len(), n);
    if let Some(i) = (0..n).find(|&i| got[i] != x[i] + r[i % cols]) {
        panic!(
            "add over {n} elements: element {i}: got {} want {}",
            got[i],
            x[i] + r[i % cols]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

/// Shapes and axis sets: single axes, contiguous and non-contiguous runs, all axes, and long
/// reductions that take the chunked two-pass path.
fn reduction_cases() -> Vec<(Vec<usize>, Vec<isize>)> {
    let bchw = vec![4, 3, 17, 19];
    let mut v = vec![
        (vec![1], vec![]),
        (vec![7], vec![0]),
        (vec![33], vec![-1]),
        (vec![33, 7], vec![0]),
        (vec![33, 7], vec![1]),
        (vec![33, 7], vec![]),
        (vec![300, 784], vec![0]),
        (vec![300, 784], vec![1]),
        (vec![300, 784], vec![]),
        (vec![300, 784], vec![0, 1]),
        (vec![100000, 3], vec![0]),
        (vec![3, 70000], vec![1]),
        (vec![2, 3, 4, 5, 6], vec![0, 2, 4]),
        (vec![2, 3, 4, 5, 6], vec![1, 3]),
        (vec![2, 3, 4, 5, 6], vec![-1, 1, 2]),
        (vec![5, 1, 7], vec![1]),
    ];
    for axes in [
        vec![0, 2],
        vec![0, 2, 3],
        vec![1],
        vec![1, 3],
        vec![2, 3],
        vec![0],
        vec![3],
        vec![0, 1, 2, 3],
        vec![0, 3],
    ] {
        v.push((bchw.clone(), axes));
    }
    v
}

fn axes_usize(axes: &[isize], rank: usize) -> Vec<usize> {
    let mut a: Vec<usize> = axes
        .iter()
        .map(|&a| {
            if a < 0 {
                (a + rank as isize) as usize
            } else {
                a as usize
            }
        })
        .collect();
    a.sort_unstable();
    a
}

#[test]
fn reductions_exact_on_integer_data() {
    // Integer-valued data sum exactly in f32 (|Σ| < 2²⁴), so any lost, repeated or misplaced
    // element shows as an exact mismatch.
    for (k, (shape, axes)) in reduction_cases().into_iter().enumerate() {
        let x = ints(numel(&shape), 200 + k as u64, 7);
        let ax = axes_usize(&axes, shape.len());
        let r = reference::reduce(&x, &shape, &ax);
        poison(r.sum.len());
        let tx = t(&x, &shape);
        for keepdim in [false, true] {
            let all: Vec<usize> = if ax.is_empty() {
                (0..shape.len()).collect()
            } else {
                ax.clone()
            };
            let out_shape = reference::reduced_shape(&shape, &all, keepdim);
            let what = format!("{shape:?} axes {axes:?} keepdim {keepdim}");
            let s = tx.sum(&axes, keepdim).unwrap();
            assert_eq!(s.shape(), out_shape.as_slice(), "sum {what}: shape");
            check(
                &s.to_vec().unwrap(),
                &r.sum,
                0.0,
                0.0,
                &format!("sum {what}"),
                None,
            );
            let m = tx.max(&axes, keepdim).unwrap();
            assert_eq!(m.shape(), out_shape.as_slice(), "max {what}: shape");
            check(
                &m.to_vec().unwrap(),
                &f64s(&r.max),
                0.0,
                0.0,
                &format!("max {what}"),
                None,
            );
            let mean = tx.mean(&axes, keepdim).unwrap();
            assert_eq!(mean.shape(), out_shape.as_slice(), "mean {what}: shape");
            let want: Vec<f64> = r.sum.iter().map(|s| s / r.count as f64).collect();
            // The scale is applied in the first pass, so later passes add rounded partial means.
            let tol: Vec<f64> = r
                .abs_sum
                .iter()
                .zip(&want)
                .map(|(s, w)| 1e-6 * s / r.count as f64 + 2.0 * EPS * w.abs())
                .collect();
            check_tol(
                &mean.to_vec().unwrap(),
                &want,
                &tol,
                &format!("mean {what}"),
            );
        }
    }
}

#[test]
fn reductions_on_float_data() {
    for (k, (shape, axes)) in reduction_cases().into_iter().enumerate() {
        let x = rand_vec(numel(&shape), 300 + k as u64, -1.0, 1.0);
        let ax = axes_usize(&axes, shape.len());
        let r = reference::reduce(&x, &shape, &ax);
        let tx = t(&x, &shape);
        let what = format!("{shape:?} axes {axes:?}");
        // Error of a (chunked) sequential f32 sum: a few ulps of Σ|x|, never more than γₙΣ|x|.
        let tol: Vec<f64> = r.abs_sum.iter().map(|s| 1e-6 * s + 1e-30).collect();
        let s = tx.sum(&axes, false).unwrap().to_vec().unwrap();
        check_tol(&s, &r.sum, &tol, &format!("sum {what}"));
        let mean = tx.mean(&axes, false).unwrap().to_vec().unwrap();
        let want: Vec<f64> = r.sum.iter().map(|s| s / r.count as f64).collect();
        let tol: Vec<f64> = tol
            .iter()
            .map(|t| t / r.count as f64 + 2.0 * EPS * 1e-3)
            .collect();
        check_tol(&mean, &want, &tol, &format!("mean {what}"));
        let m = tx.max(&axes, false).unwrap().to_vec().unwrap();
        check(&m, &f64s(&r.max), 0.0, 0.0, &format!("max {what}"), None);
    }
}

#[test]
fn max_of_negative_and_infinite_values() {
    // All-negative rows (the identity must not leak), ties, and infinities.
    let x = [
        -5.0,
        -3.0,
        -3.0,
        -7.0,
        -1e30,
        -2e30,
        f32::NEG_INFINITY,
        -1.0,
        2.0,
        f32::INFINITY,
        0.0,
        -0.0,
    ];
    let m = t(&x, &[4, 3]).max(&[1], false).unwrap().to_vec().unwrap();
    check(
        &m,
        &[-3.0, -7.0, 2.0, f64::INFINITY],
        0.0,
        0.0,
        "row max",
        None,
    );
    let x = [-1e30f32, -2e30, -3e38, -f32::MAX, -1e38, -5e37];
    let m = t(&x, &[2, 3]).max(&[1], false).unwrap().to_vec().unwrap();
    check(
        &m,
        &[-1e30f32 as f64, -5e37f32 as f64],
        0.0,
        0.0,
        "max of huge negatives",
        None,
    );
    let m = t(&x[2..4], &[2]).max(&[], false).unwrap().to_vec().unwrap();
    check(&m, &[-3e38f32 as f64], 0.0, 0.0, "max near −f32::MAX", None);
    // Rows of −inf only: the kernel's identity is −f32::MAX (WGSL has no infinite literals and
    // lets implementations assume infinities away), so either −inf or −f32::MAX is accepted.
    let x = [f32::NEG_INFINITY; 6];
    let m = t(&x, &[2, 3]).max(&[1], false).unwrap().to_vec().unwrap();
    assert!(m.iter().all(|&v| v <= -f32::MAX), "max of −inf rows: {m:?}");
}

#[test]
fn sum_to_reduces_broadcast_dims() {
    let x = ints(2 * 3 * 4, 400, 5);
    let tx = t(&x, &[2, 3, 4]);
    for target in [
        vec![3, 4],
        vec![1, 4],
        vec![3, 1],
        vec![2, 1, 4],
        vec![],
        vec![1],
    ] {
        let y = tx.sum_to(&target).unwrap();
        assert_eq!(y.shape(), target.as_slice());
        // Reference: sum over every axis where target (right-aligned) is 1 or missing.
        let off = 3 - target.len();
        let axes: Vec<usize> = (0..3)
            .filter(|&d| d < off || target[d - off] == 1)
            .collect();
        let r = reference::reduce(&x, &[2, 3, 4], &axes);
        check(
            &y.to_vec().unwrap(),
            &r.sum,
            0.0,
            0.0,
            &format!("sum_to {target:?}"),
            None,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Layout: permute, transpose, narrow, pad_into, concat, broadcast_to, reshape
// ---------------------------------------------------------------------------------------------

/// Every permutation of 0..n.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn permute_and_transpose_rank_2_to_5() {
    let shapes: [&[usize]; 6] = [
        &[7, 33],
        &[300, 784],
        &[2, 3, 4],
        &[3, 1, 5, 2],
        &[2, 3, 4, 5],
        &[2, 3, 1, 4, 5],
    ];
    for (k, shape) in shapes.iter().enumerate() {
        let n = numel(shape);
        let x: Vec<f32> = (0..n).map(|i| i as f32 + 0.5).collect();
        let xu: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2654435761)).collect();
        let tx = t(&x, shape);
        let tu = Tensor::from_u32(&gpu(), &xu, shape).unwrap();
        poison(n);
        let perms = permutations(shape.len());
        // All permutations up to rank 4; every 7th of rank 5's 120.
        for (j, p) in perms.iter().enumerate() {
            if shape.len() == 5 && j % 7 != 0 && j != perms.len() - 1 {
                continue;
            }
            let (ws, want) = reference::permute(&x, shape, p);
            let y = tx.permute(p).unwrap();
            assert_eq!(y.shape(), ws.as_slice());
            check_bits(
                &y.to_vec().unwrap(),
                &want,
                &format!("permute {shape:?} {p:?}"),
            );
            if j % 3 == k % 3 {
                let (_, want) = reference::permute(&xu, shape, p);
                assert_eq!(
                    tu.permute(p).unwrap().to_vec_u32().unwrap(),
                    want,
                    "u32 permute {shape:?} {p:?}"
                );
            }
        }
        // transpose(a, b) = permute with a and b swapped, negative axes included.
        let r = shape.len() as isize;
        for (a, b) in [(0, r - 1), (-1, -2), (1, 0)] {
            let mut dims: Vec<usize> = (0..shape.len()).collect();
            dims.swap(((a + r) % r) as usize, ((b + r) % r) as usize);
            let (ws, want) = reference::permute(&x, shape, &dims);
            let y = tx.transpose(a, b).unwrap();
            assert_eq!(y.shape(), ws.as_slice());
            check_bits(
                &y.to_vec().unwrap(),
                &want,
                &format!("transpose {shape:?} ({a}, {b})"),
            );
        }
    }
}

#[test]
fn narrow_and_pad_into() {
    let shapes: [&[usize]; 5] = [&[7], &[33, 7], &[300, 784], &[2, 3, 4, 5], &[2, 3, 1, 4, 5]];
    for shape in shapes {
        let n = numel(shape);
        let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 3.0).collect();
        let tx = t(&x, shape);
        for axis in 0..shape.len() {
            let full = shape[axis];
            let mut ranges = vec![
                (0, full),
                (0, 1),
                (full - 1, 1),
                (full / 3, full - full / 3),
            ];
            if full > 2 {
                ranges.push((1, full - 2));
            }
            for (start, len) in ranges {
                let what = format!("{shape:?} axis {axis} {start}..{}", start + len);
                let want = reference::narrow(&x, shape, axis, start, len);
                poison(want.len());
                let neg_axis = axis as isize - shape.len() as isize;
                let y = tx
                    .narrow(
                        if axis % 2 == 0 {
                            axis as isize
                        } else {
                            neg_axis
                        },
                        start,
                        len,
                    )
                    .unwrap();
                let mut ws = shape.to_vec();
                ws[axis] = len;
                assert_eq!(y.shape(), ws.as_slice(), "narrow {what}");
                let got = y.to_vec().unwrap();
                check_bits(&got, &want, &format!("narrow {what}"));
                // pad_into is narrow's adjoint: it must put the slice back among zeros, even
                // when the pool hands out a dirty buffer.
                poison(n);
                let back = y.pad_into(axis as isize, start, full).unwrap();
                assert_eq!(back.shape(), shape);
                let want = reference::pad_into(&got, &ws, axis, start, full);
                check_bits(&back.to_vec().unwrap(), &want, &format!("pad_into {what}"));
            }
        }
    }
    // Padding into a larger extent than the source had.
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = x.pad_into(1, 2, 6).unwrap().to_vec().unwrap();
    check_bits(
        &y,
        &[0., 0., 1., 2., 3., 0., 0., 0., 4., 5., 6., 0.],
        "pad_into wider",
    );
    assert!(x.narrow(1, 2, 2).is_err());
    assert!(x.pad_into(0, 1, 2).is_err());
}

#[test]
fn concat_f32_and_u32() {
    let g = gpu();
    let cases: [(Vec<Vec<usize>>, isize); 6] = [
        (vec![vec![1], vec![7], vec![33]], 0),
        (vec![vec![300, 784], vec![1, 784], vec![33, 784]], 0),
        (vec![vec![300, 784], vec![300, 1], vec![300, 7]], 1),
        (vec![vec![2, 3, 4, 5], vec![2, 1, 4, 5]], 1),
        (
            vec![vec![2, 3, 4, 5], vec![2, 3, 4, 1], vec![2, 3, 4, 2]],
            -1,
        ),
        (
            vec![
                vec![2, 3, 1, 4, 5],
                vec![2, 3, 2, 4, 5],
                vec![2, 3, 3, 4, 5],
            ],
            2,
        ),
    ];
    for (k, (shapes, axis)) in cases.into_iter().enumerate() {
        let ax = if axis < 0 {
            (axis + shapes[0].len() as isize) as usize
        } else {
            axis as usize
        };
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .enumerate()
            .map(|(j, s)| rand_vec(numel(s), 500 + 10 * k as u64 + j as u64, -9.0, 9.0))
            .collect();
        let ts: Vec<Tensor> = data.iter().zip(&shapes).map(|(d, s)| t(d, s)).collect();
        let refs: Vec<&Tensor> = ts.iter().collect();
        let parts: Vec<(&[f32], &[usize])> = data
            .iter()
            .zip(&shapes)
            .map(|(d, s)| (d.as_slice(), s.as_slice()))
            .collect();
        let want = reference::concat(&parts, ax);
        poison(want.len());
        let y = Tensor::concat(&refs, axis).unwrap();
        let mut ws = shapes[0].clone();
        ws[ax] = shapes.iter().map(|s| s[ax]).sum();
        assert_eq!(y.shape(), ws.as_slice());
        check_bits(
            &y.to_vec().unwrap(),
            &want,
            &format!("concat {shapes:?} axis {axis}"),
        );

        let du: Vec<Vec<u32>> = data
            .iter()
            .map(|d| d.iter().map(|v| v.to_bits() ^ 0xA5A5_0000).collect())
            .collect();
        let tu: Vec<Tensor> = du
            .iter()
            .zip(&shapes)
            .map(|(d, s)| Tensor::from_u32(&g, d, s).unwrap())
            .collect();
        let refs: Vec<&Tensor> = tu.iter().collect();
        let parts: Vec<(&[u32], &[usize])> = du
            .iter()
            .zip(&shapes)
            .map(|(d, s)| (d.as_slice(), s.as_slice()))
            .collect();
        let y = Tensor::concat(&refs, axis).unwrap();
        assert_eq!(
            y.to_vec_u32().unwrap(),
            reference::concat(&parts, ax),
            "u32 concat {shapes:?}"
        );
    }
    // Mismatched shapes and dtypes are errors.
    let a = t(&[0.0; 6], &[2, 3]);
    assert!(Tensor::concat(&[&a, &t(&[0.0; 6], &[3, 2])], 0).is_err());
    assert!(Tensor::concat(&[&a, &Tensor::full_u32(&g, &[2, 3], 1).unwrap()], 0).is_err());
}

#[test]
fn broadcast_to_and_reshape() {
    let cases: [(&[usize], &[usize]); 8] = [
        (&[], &[5]),
        (&[1], &[7]),
        (&[784], &[300, 784]),
        (&[300, 1], &[300, 784]),
        (&[3, 1], &[2, 3, 4]),
        (&[1, 4, 1, 6, 1], &[2, 4, 3, 6, 5]),
        (&[2, 1, 3], &[2, 5, 3]),
        (&[7], &[7]),
    ];
    for (k, (from, to)) in cases.into_iter().enumerate() {
        let x = rand_vec(numel(from), 600 + k as u64, -1.0, 1.0);
        let want = reference::broadcast_to(&x, from, to);
        poison(want.len());
        let y = t(&x, from).broadcast_to(to).unwrap();
        assert_eq!(y.shape(), to);
        check_bits(
            &y.to_vec().unwrap(),
            &want,
            &format!("broadcast_to {from:?} → {to:?}"),
        );
        let xu: Vec<u32> = (0..numel(from) as u32).map(|i| i * 7 + 1).collect();
        let yu = Tensor::from_u32(&gpu(), &xu, from)
            .unwrap()
            .broadcast_to(to)
            .unwrap();
        assert_eq!(
            yu.to_vec_u32().unwrap(),
            reference::broadcast_to(&xu, from, to),
            "u32 broadcast_to {from:?}"
        );
    }
    assert!(t(&[0.0; 3], &[3]).broadcast_to(&[4]).is_err());
    assert!(t(&[0.0; 6], &[2, 3]).broadcast_to(&[3]).is_err());

    let x = rand_vec(2 * 3 * 4, 700, -1.0, 1.0);
    let tx = t(&x, &[2, 3, 4]);
    for shape in [vec![24], vec![4, 6], vec![1, 2, 1, 12], vec![2, 3, 4]] {
        let y = tx.reshape(&shape).unwrap();
        assert_eq!(y.shape(), shape.as_slice());
        assert!(y.shares_storage(&tx), "reshape copies nothing");
        check_bits(&y.to_vec().unwrap(), &x, &format!("reshape {shape:?}"));
    }
    assert_eq!(tx.reshape_infer(&[-1, 8]).unwrap().shape(), &[3, 8]);
    assert_eq!(tx.flatten_from(1).unwrap().shape(), &[2, 12]);
    assert!(tx.reshape(&[5, 5]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------------------------

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
        "matmul_every_kernel_family",
        "TAPEGAN_MATMUL_KERNEL",
        &["tiled", "register", "sharing"],
    ) {
        return;
    }
    // (64, 1000, 1) and the batch of k = 700: few output tiles and a long K (split into
    // slices by the tiled kernel); K = 20,000: longer than one invocation may loop.
    let shapes = [
        (7, 33, 5),
        (31, 33, 35),
        (130, 37, 260),
        (64, 1000, 1),
        (3, 20_000, 5),
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
        "matmul_every_tile",
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

/// Batched products (one with a K the tiled kernel splits) and a Linear with bias and a
/// split K: the cases every matmul family and tile must pass besides plain products.
fn check_batches_and_bias() {
    check_batched(7, 33, 5, 3);
    check_batched(7, 700, 5, 3);
    check_linear_bias(64, 1000, 3);
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

// ---------------------------------------------------------------------------------------------
// Index ops
// ---------------------------------------------------------------------------------------------

#[test]
fn gather_rows_f32_and_u32_with_out_of_range_indices() {
    let g = gpu();
    let cases: [(&[usize], Vec<u32>); 4] = [
        (&[1], vec![0]),
        (&[10, 3, 4], vec![0, 9, 3, 3, 10, 1000, u32::MAX]),
        (&[300, 784], (0..128u32).map(|i| (i * 37) % 333).collect()),
        (&[33], vec![32, 0, 33, 5, 5, 7]),
    ];
    for (k, (shape, idx)) in cases.into_iter().enumerate() {
        let width: usize = shape[1..].iter().product();
        let table = rand_vec(numel(shape), 1400 + k as u64, -3.0, 3.0);
        let ti = Tensor::from_u32(&g, &idx, &[idx.len()]).unwrap();
        let mut ws = shape.to_vec();
        ws[0] = idx.len();
        poison(numel(&ws));
        let y = t(&table, shape).gather_rows(&ti).unwrap();
        assert_eq!(y.shape(), ws.as_slice());
        check_bits(
            &y.to_vec().unwrap(),
            &reference::gather_rows(&table, width, &idx),
            &format!("gather_rows {shape:?}"),
        );
        let tu: Vec<u32> = table.iter().map(|v| v.to_bits()).collect();
        let yu = Tensor::from_u32(&g, &tu, shape)
            .unwrap()
            .gather_rows(&ti)
            .unwrap();
        assert_eq!(
            yu.to_vec_u32().unwrap(),
            reference::gather_rows(&tu, width, &idx),
            "u32 gather_rows {shape:?}"
        );
    }
}

#[test]
fn scatter_add_rows_with_repeated_indices() {
    let g = gpu();
    let cases: [(usize, usize, Vec<u32>); 4] = [
        (1, 1, vec![0]),
        (7, 5, vec![0, 4, 4, 4, 2, 9, 0]),
        (33, 3, (0..33u32).map(|i| i % 3).collect()),
        (300, 10, (0..300u32).map(|i| (i * 7) % 11).collect()), // index 10 is out of range
    ];
    for (k, (rows, vocab, idx)) in cases.into_iter().enumerate() {
        for width_shape in [vec![], vec![7], vec![4, 33]] {
            let width: usize = width_shape.iter().product();
            let mut shape = vec![rows];
            shape.extend(&width_shape);
            let src = rand_vec(rows * width, 1500 + k as u64, -2.0, 2.0);
            let ti = Tensor::from_u32(&g, &idx, &[rows]).unwrap();
            poison(vocab * width);
            let y = t(&src, &shape).scatter_add_rows(&ti, vocab).unwrap();
            let mut ws = shape.clone();
            ws[0] = vocab;
            assert_eq!(y.shape(), ws.as_slice());
            // The kernel sums each output's rows in index order, as the reference does.
            let want = reference::scatter_add_rows(&src, width, &idx, vocab);
            check_bits(
                &y.to_vec().unwrap(),
                &want,
                &format!("scatter_add_rows {shape:?} → {vocab}"),
            );
        }
    }
}

#[test]
fn one_hot_rows() {
    let g = gpu();
    for (classes, labels) in [
        (1usize, vec![0u32]),
        (10, vec![0, 9, 3, 3, 10, 7, 1]),
        (784, (0..300u32).map(|i| (i * 13) % 790).collect()),
    ] {
        let y = Tensor::from_u32(&g, &labels, &[labels.len()])
            .unwrap()
            .one_hot(classes)
            .unwrap();
        assert_eq!(y.shape(), &[labels.len(), classes]);
        let want: Vec<f32> = labels
            .iter()
            .flat_map(|&l| (0..classes).map(move |c| if c as u32 == l { 1.0 } else { 0.0 }))
            .collect();
        check_bits(&y.to_vec().unwrap(), &want, &format!("one_hot {classes}"));
    }
    assert!(t(&[1.0], &[1]).one_hot(3).is_err(), "labels must be u32");
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

fn mean_var(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[test]
fn random_matches_philox_reference() {
    let g = gpu();
    // Bit-exact uniform [0, 1) against a CPU Philox4x32-10, including a 32-bit counter carry.
    for (seed, offset, n) in [
        (0u64, 0u64, 1usize),
        (42, 0, 7),
        (0xDEAD_BEEF_1234_5678, 5, 33),
        (7, u32::MAX as u64 - 2, 41),
        (9, 1 << 40, 300 * 784),
    ] {
        let mut gen = Generator { seed, offset };
        let u = gen.uniform(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();
        let words = reference::philox_words(seed, offset, n.div_ceil(4) * 4);
        let want: Vec<f32> = words[..n].iter().map(|&w| reference::unit(w)).collect();
        check_bits(
            &u,
            &want,
            &format!("uniform seed {seed:#x} offset {offset:#x} n {n}"),
        );
        assert_eq!(
            gen.offset,
            offset + n.div_ceil(4) as u64,
            "offset advances one counter per 4 numbers"
        );

        let mut gen = Generator { seed, offset };
        let z = gen.normal(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();
        check_normal(
            &z,
            &words,
            &format!("normal seed {seed:#x} offset {offset:#x} n {n}"),
        );
    }
}

/// Compares a standard-normal draw with the Box–Muller reference of its words. The device's
/// cos, sin and log are only accurate to an absolute error (WGSL bounds cos and sin by 2⁻¹¹,
/// log near 1 by 2⁻²¹), which the radius √(−2 ln u) amplifies by 1/r where r is small.
fn check_normal(z: &[f32], words: &[u32], what: &str) {
    let zr = reference::box_muller(words);
    let want: Vec<f64> = zr[..z.len()].iter().map(|p| p.0).collect();
    let tol: Vec<f64> = zr[..z.len()]
        .iter()
        .map(|p| 1e-4 + 1e-6 / p.1.max(1e-9))
        .collect();
    assert!(z.iter().all(|v| v.is_finite()), "{what}: not finite: {z:?}");
    check_tol(z, &want, &tol, what);
}

#[test]
fn normal_is_finite_at_extreme_uniforms() {
    // Find counters whose log-words give u within 16 steps of 1 (radius → 0, where an inexact
    // log could turn −2 ln u negative) or of 0 (the largest radius), then draw exactly there.
    let g = gpu();
    let seed = 2024u64;
    let (mut near_one, mut near_zero) = (None, None);
    for t in 0..(1u64 << 24) {
        let b = reference::philox([t as u32, (t >> 32) as u32, 0, 0], [seed as u32, 0]);
        for w in [b[0], b[2]] {
            if w >> 8 >= 0xFF_FFF0 && near_one.is_none() {
                near_one = Some(t);
            }
            if w >> 8 < 16 && near_zero.is_none() {
                near_zero = Some(t);
            }
        }
        if near_one.is_some() && near_zero.is_some() {
            break;
        }
    }
    for offset in [
        near_one.expect("a counter near 1"),
        near_zero.expect("a counter near 0"),
    ] {
        let mut gen = Generator { seed, offset };
        let z = gen.normal(&g, &[4], 0.0, 1.0).unwrap().to_vec().unwrap();
        let words = reference::philox_words(seed, offset, 4);
        check_normal(&z, &words, &format!("normal at counter {offset}"));
    }
}

#[test]
fn random_distributions() {
    let g = gpu();
    let n = 1 << 20;
    let mut gen = Generator::new(1234);

    let u = gen.uniform(&g, &[n], -2.0, 3.0).unwrap().to_vec().unwrap();
    assert!(
        u.iter().all(|&v| (-2.0..3.0).contains(&v)),
        "uniform stays in [lo, hi)"
    );
    let (m, v) = mean_var(&u);
    // Standard errors: 5/√12/√n ≈ 1.4e-3 for the mean, ≈ 1.9e-3 for the variance.
    assert!((m - 0.5).abs() < 7e-3, "uniform mean {m}");
    assert!((v - 25.0 / 12.0).abs() < 1e-2, "uniform variance {v}");
    let low = u.iter().filter(|&&x| x < -1.0).count() as f64 / n as f64;
    assert!((low - 0.2).abs() < 2.5e-3, "uniform P(x < −1) = {low}");

    let (mu, sd) = (1.5f32, 2.0f32);
    let z = gen.normal(&g, &[n], mu, sd).unwrap().to_vec().unwrap();
    assert!(z.iter().all(|v| v.is_finite()), "normal numbers are finite");
    let (m, v) = mean_var(&z);
    assert!(
        (m - 1.5).abs() < 5.0 * 2.0 / (n as f64).sqrt(),
        "normal mean {m}"
    );
    assert!(
        (v - 4.0).abs() < 5.0 * 4.0 * (2.0 / n as f64).sqrt(),
        "normal variance {v}"
    );
    let within = |k: f32| z.iter().filter(|&&x| (x - mu).abs() < k * sd).count() as f64 / n as f64;
    let (w1, w2, w3) = (within(1.0), within(2.0), within(3.0));
    assert!((w1 - 0.682_689).abs() < 3e-3, "P(|z| < 1σ) = {w1}");
    assert!((w2 - 0.954_500).abs() < 2e-3, "P(|z| < 2σ) = {w2}");
    assert!((w3 - 0.997_300).abs() < 6e-4, "P(|z| < 3σ) = {w3}");
    let skew = z
        .iter()
        .map(|&x| ((x - mu) / sd).powi(3) as f64)
        .sum::<f64>()
        / n as f64;
    assert!(skew.abs() < 0.015, "normal skewness {skew}");

    for p in [0.3f32, 0.01, 0.0, 1.0] {
        let b = gen.bernoulli(&g, &[n], p).unwrap().to_vec().unwrap();
        assert!(
            b.iter().all(|&x| x == 0.0 || x == 1.0),
            "bernoulli gives 0 or 1"
        );
        let f = b.iter().sum::<f32>() as f64 / n as f64;
        let se = (p as f64 * (1.0 - p as f64) / n as f64).sqrt();
        assert!(
            (f - p as f64).abs() <= 5.0 * se,
            "bernoulli({p}) frequency {f}"
        );
    }
    assert!(gen.bernoulli(&g, &[4], 1.5).is_err());
    assert!(gen.bernoulli(&g, &[4], -0.1).is_err());
}

#[test]
fn random_streams_are_deterministic_and_distinct() {
    let g = gpu();
    let draw =
        |gen: &mut Generator, n: usize| gen.normal(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();

    // Same seed and offset → identical numbers.
    let (mut a, mut b) = (Generator::new(99), Generator::new(99));
    let (x1, y1) = (draw(&mut a, 1000), draw(&mut b, 1000));
    check_bits(&x1, &y1, "same seed");
    // Consecutive draws differ; both generators stay in step.
    let (x2, y2) = (draw(&mut a, 1000), draw(&mut b, 1000));
    check_bits(&x2, &y2, "same seed, second draw");
    assert!(
        x1.iter().zip(&x2).filter(|(p, q)| p == q).count() < 5,
        "consecutive draws differ"
    );
    // Resuming from a saved (seed, offset) reproduces the stream.
    let saved = Generator {
        seed: 99,
        offset: 250,
    };
    let mut r = saved;
    check_bits(&draw(&mut r, 1000), &x2, "resumed at offset 250");

    // Forked streams differ from each other and from the parent, and forking is deterministic.
    let root = Generator::new(5);
    let (mut f1, mut f2, mut p) = (root.fork(1), root.fork(2), root);
    assert_eq!(root.fork(1), root.fork(1));
    assert_ne!(f1.seed, f2.seed);
    let (a1, a2, ap) = (draw(&mut f1, 1000), draw(&mut f2, 1000), draw(&mut p, 1000));
    assert!(
        a1.iter().zip(&a2).filter(|(p, q)| p == q).count() < 5,
        "fork(1) vs fork(2)"
    );
    assert!(
        a1.iter().zip(&ap).filter(|(p, q)| p == q).count() < 5,
        "fork(1) vs parent"
    );
    let mut seeds: Vec<u64> = (0..100).map(|s| root.fork(s).seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 100, "fork seeds are distinct");

    // A draw's numbers do not depend on its size: the first k of n equal a draw of k.
    let start = Generator {
        seed: 77,
        offset: 3,
    };
    for dist in 0..3 {
        let mk = |n: usize| {
            let mut gen = start;
            let t = match dist {
                0 => gen.uniform(&g, &[n], -1.0, 1.0),
                1 => gen.normal(&g, &[n], 0.0, 1.0),
                _ => gen.bernoulli(&g, &[n], 0.5),
            };
            t.unwrap().to_vec().unwrap()
        };
        let long = mk(300 * 784 + 3);
        for k in [1, 2, 3, 4, 5, 7, 33, 1000] {
            check_bits(
                &mk(k),
                &long[..k],
                &format!("dist {dist}: first {k} numbers"),
            );
        }
    }
    // Shapes with the same element count give the same numbers.
    let mut a = Generator::new(3);
    let mut b = Generator::new(3);
    let x = a
        .uniform(&g, &[300, 784], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let y = b
        .uniform(&g, &[784 * 300], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    check_bits(&x, &y, "shape independence");
}

// ---------------------------------------------------------------------------------------------
// Creation and readback
// ---------------------------------------------------------------------------------------------

#[test]
fn fills_overwrite_recycled_buffers() {
    let g = gpu();
    for shape in [&[][..], &[1], &[7], &[33], &[300, 784], &[2, 3, 4, 5, 6]] {
        let n = numel(shape);
        for (name, make, want) in [
            (
                "zeros",
                Tensor::zeros as fn(&Gpu, &[usize]) -> Result<Tensor>,
                0.0f32,
            ),
            ("ones", Tensor::ones, 1.0),
        ] {
            poison(n);
            let y = make(&g, shape).unwrap();
            assert_eq!(y.shape(), shape);
            check_bits(
                &y.to_vec().unwrap(),
                &vec![want; n],
                &format!("{name} {shape:?}"),
            );
        }
        for v in [-0.0f32, 3.25, f32::INFINITY, f32::MIN_POSITIVE, -1e-40] {
            poison(n);
            let y = Tensor::full(&g, shape, v).unwrap();
            check_bits(
                &y.to_vec().unwrap(),
                &vec![v; n],
                &format!("full({v:e}) {shape:?}"),
            );
        }
        let y = Tensor::full(&g, shape, f32::NAN).unwrap().to_vec().unwrap();
        assert!(
            y.iter().all(|v| v.to_bits() == f32::NAN.to_bits()),
            "full(NaN) keeps the bits"
        );
        for v in [0u32, 7, u32::MAX, 0x8000_0001] {
            poison(n);
            let y = Tensor::full_u32(&g, shape, v).unwrap();
            assert_eq!(
                y.to_vec_u32().unwrap(),
                vec![v; n],
                "full_u32({v}) {shape:?}"
            );
        }
    }
    let s = Tensor::scalar(&g, 2.5).unwrap();
    assert_eq!(s.shape(), &[] as &[usize]);
    assert_eq!(s.item().unwrap(), 2.5);
    let z = t(&[1.0, 2.0], &[2]).zeros_like().unwrap();
    assert_eq!(z.to_vec().unwrap(), vec![0.0, 0.0]);
    assert_eq!(
        t(&[1.0; 3], &[3]).ones_like().unwrap().to_vec().unwrap(),
        vec![1.0; 3]
    );
}

#[test]
fn read_all_reads_many_tensors_in_one_round_trip() {
    // A private device so that other tests' readbacks do not disturb the counters.
    tapegan::gpu::quiet_platform_probes();
    let g = Gpu::new().unwrap();
    let shapes: [&[usize]; 6] = [&[1], &[7], &[33], &[300, 784], &[], &[0]];
    let data: Vec<Vec<f32>> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| rand_vec(numel(s), 1600 + k as u64, -1.0, 1.0))
        .collect();
    let ts: Vec<Tensor> = data
        .iter()
        .zip(shapes)
        .map(|(d, s)| {
            Tensor::from_slice(&g, d, s)
                .unwrap()
                .mul_scalar(2.0)
                .unwrap()
        })
        .collect();
    let before = g.exec_stats();
    let refs: Vec<&Tensor> = ts.iter().collect();
    let got = Tensor::read_all(&refs).unwrap();
    let after = g.exec_stats();
    assert_eq!(
        after.readbacks - before.readbacks,
        1,
        "one readback for all tensors"
    );
    assert_eq!(
        after.submits - before.submits,
        1,
        "one submit for all tensors"
    );
    assert_eq!(got.len(), ts.len());
    for (k, (g, d)) in got.iter().zip(&data).enumerate() {
        let want: Vec<f32> = d.iter().map(|v| v * 2.0).collect();
        check_bits(g, &want, &format!("read_all item {k} {:?}", shapes[k]));
    }
    // The same tensor twice, and an empty list.
    let again = Tensor::read_all(&[&ts[1], &ts[1]]).unwrap();
    assert_eq!(again[0], again[1]);
    assert!(Tensor::read_all(&[]).unwrap().is_empty());
    // u32 tensors are read with to_vec_u32, not read_all.
    let u = Tensor::full_u32(&g, &[3], 1).unwrap();
    assert!(Tensor::read_all(&[&ts[0], &u]).is_err());
    // Tensors of different devices cannot share a round trip.
    assert!(Tensor::read_all(&[&ts[0], &t(&[1.0], &[1])]).is_err());
}

#[test]
fn subgroup_probe_accepts_a_cpu_adapter_with_fixed_subgroups() {
    // lavapipe (the test adapter) has subgroups of 8: the probe must confirm them, or every
    // matmul and conv would silently fall back to the slower register-blocked kernels.
    let g = gpu();
    match (g.is_cpu(), g.subgroup_size()) {
        (true, Some(sg)) if (4..=8).contains(&sg) => {
            assert_eq!(g.sharing_subgroup(), Some(sg as usize))
        }
        _ => assert_eq!(g.sharing_subgroup(), None),
    }
}
