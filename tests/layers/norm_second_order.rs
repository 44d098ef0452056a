//! The fused second-order rule of a normalisation without affine parameters (the recorded
//! input gradient of `norm_grad.rs`, taken by instance norm and affine-free batch norm) against
//! the composed rule, which the same normalisation takes when given identity affine parameters
//! (weight 1, bias 0: the same function). The composed rule is checked against PyTorch in
//! `norm_act.rs` and `batch_norm.rs`; these cases cover the kernel layouts the goldens do not
//! (several row chunks, four channels per vec4, scalar rows) and the derivative for the
//! upstream gradient, which the goldens' penalties leave constant.

use super::common::*;
use tapegan::ops::NormKind;
use tapegan::{grad, Tensor};

/// A critic piece y = act(norm(x))·w with w a parameter (so the norm's upstream gradient g
/// depends on it), its penalty P = Σ q·(∂Σy/∂x)², and ∂P/∂x, ∂P/∂w. With `identity_affine`
/// the normalisation is given weight 1 and bias 0 (instance norm as batch norm of
/// [1, N·C, H, W], which has the same statistics).
fn penalty_grads(
    kind: NormKind,
    shape: &[usize],
    slope: Option<f32>,
    seed: u64,
    identity_affine: bool,
) -> Vec<Vec<f32>> {
    let numel: usize = shape.iter().product();
    let x = var(&rand_vec(numel, seed, -2.0, 2.5), shape);
    let w = var(&rand_vec(numel, seed + 1, -1.0, 1.0), shape);
    let q = t(&rand_vec(numel, seed + 2, 0.5, 1.5), shape);
    let y = if identity_affine {
        let (xv, c) = match kind {
            NormKind::Batch => (x.clone(), shape[1]),
            NormKind::Instance => {
                let c = shape[0] * shape[1];
                let flat = [1, c, shape[2], shape[3]];
                (x.reshape(&flat).unwrap(), c)
            }
        };
        let ones = Tensor::ones(&gpu(), &[c]).unwrap();
        let zeros = Tensor::zeros(&gpu(), &[c]).unwrap();
        let (wt, bt) = (Some(&ones), Some(&zeros));
        match slope {
            Some(a) => xv.normalize_leaky_relu(NormKind::Batch, wt, bt, 1e-5, None, a),
            None => xv.normalize(NormKind::Batch, wt, bt, 1e-5, None),
        }
        .unwrap()
        .reshape(shape)
        .unwrap()
    } else {
        match slope {
            Some(a) => x.normalize_leaky_relu(kind, None, None, 1e-5, None, a),
            None => x.normalize(kind, None, None, 1e-5, None),
        }
        .unwrap()
    };
    let out = y.mul(&w).unwrap().sum_all().unwrap();
    let g1 = grad(&[&out], &[&x], true).unwrap().remove(0);
    let p = g1.square().unwrap().mul(&q).unwrap().sum_all().unwrap();
    let g2 = grad(&[&p], &[&x, &w], false).unwrap();
    [g1].iter()
        .chain(&g2)
        .map(|t| t.to_vec().unwrap())
        .collect()
}

#[test]
fn fused_second_order_matches_the_composed_rule() {
    let cases: [(NormKind, &[usize], Option<f32>); 7] = [
        // vec4 rows (instance norm of 8 × 8 planes), with and without the activation.
        (NormKind::Instance, &[4, 8, 8, 8], Some(0.2)),
        (NormKind::Instance, &[2, 6, 4, 4], None),
        // Scalar rows: 7 × 7 planes (wgan-gp-28's critic), 5 × 5 batch norm.
        (NormKind::Instance, &[4, 16, 7, 7], Some(0.2)),
        (NormKind::Batch, &[8, 3, 5, 5], Some(0.0)),
        // Many row chunks summed on the host side (batch 64, vec4 rows).
        (NormKind::Batch, &[64, 16, 4, 4], None),
        // [N, C]: four channels per vec4, and scalar channels.
        (NormKind::Batch, &[300, 32], Some(0.3)),
        (NormKind::Batch, &[10, 6], None),
    ];
    for (i, (kind, shape, slope)) in cases.into_iter().enumerate() {
        let seed = 100 + 10 * i as u64;
        let fused = penalty_grads(kind, shape, slope, seed, false);
        let composed = penalty_grads(kind, shape, slope, seed, true);
        for (k, name) in ["dx", "penalty dx", "penalty dw"].iter().enumerate() {
            let what = format!("{kind:?} {shape:?} slope {slope:?}: {name}");
            Tol::new(1e-4, 1e-5).assert(&fused[k], &composed[k], &what);
        }
    }
}
