//! Index ops: gather, scatter-add and one-hot rows, and the accuracy of labelled rows.

use super::common::*;
use super::reference;
use super::support::*;
use tapegan::{losses, Tensor};

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

#[test]
fn accuracy_counts_rows_whose_maximum_is_the_label() {
    let g = gpu();
    // Ties (integer logits in a narrow range), a single class, a label out of range.
    for (n, c, seed) in [
        (300usize, 2usize, 1u64),
        (37, 10, 2),
        (5, 1, 3),
        (64, 33, 4),
    ] {
        let x = ints(n * c, seed, 2);
        let mut labels: Vec<u32> = (0..n)
            .map(|i| ((i * 7 + seed as usize) % c) as u32)
            .collect();
        labels[n / 2] = c as u32; // out of range: a miss
        let hits = (0..n)
            .filter(|&i| {
                let row = &x[i * c..(i + 1) * c];
                let top = row.iter().cloned().fold(f32::MIN, f32::max);
                (labels[i] as usize) < c && row[labels[i] as usize] >= top
            })
            .count();
        let want = hits as f32 / n as f32;
        let lt = Tensor::from_u32(&g, &labels, &[n]).unwrap();
        let got = losses::accuracy(&t(&x, &[n, c]), &lt)
            .unwrap()
            .item()
            .unwrap();
        assert!(
            (got - want).abs() <= 1e-6,
            "{n}×{c}: accuracy {got}, want {want}"
        );
    }
    // A row of −∞ still has its maximum (there), as in the composed max/compare form.
    let inf = t(&[f32::NEG_INFINITY; 2], &[1, 2]);
    let zero = Tensor::from_u32(&g, &[0], &[1]).unwrap();
    let got = losses::accuracy(&inf, &zero).unwrap().item().unwrap();
    assert_eq!(got, 1.0, "accuracy of a row of −∞");
    let bad = Tensor::from_u32(&g, &[0, 1], &[2]).unwrap();
    let e = losses::accuracy(&t(&[0.0; 9], &[3, 3]), &bad).unwrap_err();
    assert!(e.to_string().contains("labels for logits"), "{e}");
}
