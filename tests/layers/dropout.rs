//! Dropout: evaluation is the identity, training masks and rescales.

use super::common::*;
use super::golden::*;
use tapegan::grad;
use tapegan::nn::{Ctx, Dropout, Module};

#[test]
fn dropout_eval_is_identity_and_p_out_of_range_is_rejected() {
    let x = t(&rand_vec(1000, 3, -1.0, 1.0), &[10, 100]);
    let d = Dropout::new(0.5).unwrap();
    let mut r = rng();
    let y = d.forward(&x, &mut Ctx::eval(&mut r)).unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
    assert_eq!(r, rng(), "eval dropout draws no random numbers");
    let y = Dropout::new(0.0)
        .unwrap()
        .forward(&x, &mut Ctx::train(&mut r))
        .unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
    assert!(Dropout::new(1.0).is_err());
    assert!(Dropout::new(-0.1).is_err());
}

#[test]
fn dropout_train_mask_statistics_scaling_and_gradients() {
    let p = 0.3f32;
    let n = 1 << 18;
    let xs = rand_vec(n, 11, 0.5, 1.5); // no zeros: y/x recovers the mask
    let x = var(&xs, &[n]);
    let d = Dropout::new(p).unwrap();
    let mut r = rng();
    let y = d.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    let ys = y.to_vec().unwrap();
    let zeros = ys.iter().filter(|&&v| v == 0.0).count();
    let frac = zeros as f64 / n as f64;
    // Binomial standard deviation √(p(1−p)/n) ≈ 9e-4; allow 5σ.
    assert!(
        (frac - p as f64).abs() < 4.5e-3,
        "fraction of zeros {frac}, want {p}"
    );
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = ys
        .iter()
        .zip(&xs)
        .map(|(&y, &x)| if y == 0.0 { 0.0 } else { y / x })
        .collect();
    for (i, &m) in mask.iter().enumerate() {
        assert!(
            m == 0.0 || (m - scale).abs() <= 1e-6 * scale,
            "element {i}: kept value scaled by {m}, want {scale}"
        );
    }
    // A second draw is a different mask.
    let y2 = d
        .forward(&x.detach(), &mut Ctx::train(&mut r))
        .unwrap()
        .to_vec()
        .unwrap();
    assert_ne!(y2, ys);

    // d Σy / dx is the mask.
    let g = grad(&[&y.sum_all().unwrap()], &[&x], false)
        .unwrap()
        .remove(0);
    close(&g.to_vec().unwrap(), &mask, "dropout gradient = mask");

    // Double backward through y = x·m (m the scaled mask): f = Σ y³ gives g1 = ∂f/∂x = 3x²m³,
    // and ∂/∂x Σ g1·v = 6x·m³·v.
    let vs = rand_vec(n, 12, -1.0, 1.0);
    let f = y.powf(3.0).unwrap().sum_all().unwrap();
    let g1 = grad(&[&f], &[&x], true).unwrap().remove(0);
    let s = g1.mul(&t(&vs, &[n])).unwrap().sum_all().unwrap();
    let g2 = grad(&[&s], &[&x], false).unwrap().remove(0);
    let want1: Vec<f32> = xs
        .iter()
        .zip(&mask)
        .map(|(&x, &m)| 3.0 * x * x * m * m * m)
        .collect();
    let want2: Vec<f32> = xs
        .iter()
        .zip(&mask)
        .zip(&vs)
        .map(|((&x, &m), &v)| 6.0 * x * m * m * m * v)
        .collect();
    close(&g1.to_vec().unwrap(), &want1, "dropout g1");
    close(&g2.to_vec().unwrap(), &want2, "dropout double backward");
}
