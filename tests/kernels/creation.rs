//! Fills, readback and the subgroup probe.

use super::common::*;
use super::support::*;
use tapegan::{Gpu, Result, Tensor};

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

#[test]
fn tensors_beyond_the_binding_limit_are_refused_with_their_shape() {
    let g = gpu();
    // Just over the limit, and a shape whose element count wraps a u64 (it must not be
    // taken for a small tensor).
    let over = (g.max_binding_bytes() / 4 + 1) as usize;
    for shape in [vec![over], vec![1 << 62, 8]] {
        let e = Tensor::zeros(&g, &shape).unwrap_err().to_string();
        assert!(
            e.contains(&format!("a tensor of shape {shape:?}"))
                && e.contains("exceeds this adapter's storage binding limit"),
            "{e}"
        );
    }
}
