//! Shared helpers of the kernel tests: tolerance checks against f64 references and input
//! generators.

use super::common::*;
use tapegan::{Compare, Result, Tensor};

/// f32 unit roundoff.
pub(crate) const EPS: f64 = f32::EPSILON as f64 / 2.0;

/// Asserts |got − want| ≤ atol + rtol·|want| elementwise against an f64 reference. NaN must meet
/// NaN and an infinity the same infinity. Names the worst offender and its input, if given.
pub(crate) fn check(
    got: &[f32],
    want: &[f64],
    rtol: f64,
    atol: f64,
    what: &str,
    input: Option<&[f32]>,
) {
    assert_len(got.len(), want.len(), what);
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
pub(crate) fn check_bits(got: &[f32], want: &[f32], what: &str) {
    assert_len(got.len(), want.len(), what);
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i}: got {:e} want {:e}", got[i], want[i]);
    }
}

/// Asserts |got − want| ≤ tol[i] elementwise.
pub(crate) fn check_tol(got: &[f32], want: &[f64], tol: &[f64], what: &str) {
    assert_len(got.len(), want.len(), what);
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

pub(crate) fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Small integers in [-k, k] stored as f32: sums and products of them are exact in f32.
pub(crate) fn ints(n: usize, seed: u64, k: i32) -> Vec<f32> {
    rand_vec(n, seed, -(k as f32) - 0.5, k as f32 + 0.5)
        .into_iter()
        .map(|v| v.round().clamp(-(k as f32), k as f32))
        .collect()
}

/// Returns pooled buffers of `n` elements holding NaN, so that a kernel that leaves output
/// elements unwritten shows it (the pool hands recycled buffers out uninitialised).
pub(crate) fn poison(n: usize) {
    let g = gpu();
    let ts: Vec<Tensor> = (0..3)
        .map(|_| Tensor::full(&g, &[n.max(1)], f32::NAN).unwrap())
        .collect();
    g.synchronize().unwrap();
    drop(ts);
}

/// The awkward sizes every elementwise kernel is run at.
pub(crate) const SHAPES: [&[usize]; 4] = [&[1], &[7], &[33], &[300, 784]];

/// Inputs of each awkward shape: `special` first (as many as fit), then values in [lo, hi).
pub(crate) fn inputs(special: &[f32], lo: f32, hi: f32, seed: u64) -> Vec<(Vec<usize>, Vec<f32>)> {
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
pub(crate) fn unary_case(
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

pub(crate) type CompareCase = (Compare, fn(f32, f32) -> bool);

pub(crate) fn compare_fns() -> [CompareCase; 6] {
    [
        (Compare::Gt, |a, b| a > b),
        (Compare::Ge, |a, b| a >= b),
        (Compare::Lt, |a, b| a < b),
        (Compare::Le, |a, b| a <= b),
        (Compare::Eq, |a, b| a == b),
        (Compare::Ne, |a, b| a != b),
    ]
}
