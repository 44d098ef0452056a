//! Layout copies: permute, transpose, narrow, pad_into, concat, broadcast_to, reshape.

use super::common::*;
use super::reference;
use super::support::*;
use tapegan::Tensor;

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
    let cases: [(&[usize], &[usize]); 9] = [
        (&[], &[5]),
        (&[6, 8, 1, 1], &[6, 8, 7, 7]),
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
