//! Sum, mean and max over every axis set, exact on integer data.

use super::common::*;
use super::reference;
use super::support::*;

/// Shapes and axis sets: single axes, contiguous and non-contiguous runs, all axes, and long
/// reductions that take the chunked two-pass path, in each of the three load forms.
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
        // Rows read as vec4 words: rows of 3 and 49 start mid-word, rows of 16 on a word;
        // [6, 3] has a numel that is not a multiple of 4 (one element per load).
        (vec![8, 3], vec![1]),
        (vec![6, 3], vec![1]),
        (vec![64, 32, 7, 7], vec![2, 3]),
        (vec![8, 16, 4, 4], vec![0, 2, 3]),
        // vec4 along the inner axis, with an outer axis.
        (vec![3, 5, 8], vec![1]),
        (vec![600, 128], vec![0]),
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
