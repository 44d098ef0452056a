//! Broadcasting binary ops, comparisons, select and lerp at every broadcast pattern.

use super::common::*;
use super::reference;
use super::support::*;
use tapegan::{Result, Tensor};

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
        // Rows not a multiple of 4 but a whole number of vec4s in all: four outputs per
        // invocation, the broadcast operand gathered (an instance norm's statistics over
        // 7 × 7 planes), from either side.
        (vec![12, 7], vec![12, 1]),
        (vec![6, 8, 7, 7], vec![6, 8, 1, 1]),
        (vec![8, 1, 1], vec![3, 8, 7, 7]),
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
