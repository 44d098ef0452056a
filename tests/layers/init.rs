//! Initialisers: the statistics of each scheme.

use super::common::*;
use super::golden::*;
use tapegan::nn::{self, init, BatchNorm, Embedding, Init, Linear, Module, NormConfig};
use tapegan::Generator;

/// (min, max, mean, standard deviation) in f64.
fn moments(v: &[f32]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let min = v.iter().fold(f64::INFINITY, |m, &x| m.min(x as f64));
    let max = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    (min, max, mean, var.sqrt())
}

/// U(−b, b): every value within ±b, extremes within 1% of ±b, mean 0 and std b/√3 (to 5σ of
/// their sampling error and 2% respectively).
fn assert_uniform(v: &[f32], b: f64, what: &str) {
    let (min, max, mean, std) = moments(v);
    let n = v.len() as f64;
    assert!(
        min >= -b && max <= b,
        "{what}: range [{min}, {max}] exceeds ±{b}"
    );
    assert!(
        min < -0.99 * b && max > 0.99 * b,
        "{what}: range [{min}, {max}] does not reach ±{b}"
    );
    let sd = b / 3f64.sqrt();
    assert!(mean.abs() < 5.0 * sd / n.sqrt(), "{what}: mean {mean}");
    assert!(
        (std / sd - 1.0).abs() < 0.02,
        "{what}: std {std}, want {sd}"
    );
}

fn assert_normal(v: &[f32], mean_want: f64, sd: f64, what: &str) {
    let (min, max, mean, std) = moments(v);
    let n = v.len() as f64;
    assert!(
        (mean - mean_want).abs() < 5.0 * sd / n.sqrt(),
        "{what}: mean {mean}, want {mean_want}"
    );
    assert!(
        (std / sd - 1.0).abs() < 0.03,
        "{what}: std {std}, want {sd}"
    );
    assert!(
        min > mean_want - 7.0 * sd && max < mean_want + 7.0 * sd,
        "{what}: range [{min}, {max}]"
    );
}

#[test]
fn initialisers_have_the_right_bounds_and_moments() {
    let gpu = gpu();
    let mut r = Generator::new(2024);
    let draw = |shape: &[usize], i: Init, r: &mut Generator| {
        init::weight(&gpu, shape, i, r).unwrap().to_vec().unwrap()
    };

    // PyTorch: U(±1/√fan_in), fan_in from dim 1.
    assert_uniform(
        &draw(&[256, 128], Init::PyTorch, &mut r),
        1.0 / 128f64.sqrt(),
        "PyTorch linear",
    );
    // ConvTranspose weight [in 16, out 32, 4, 4]: fan_in = 32·16 = 512 (not 16·16).
    assert_uniform(
        &draw(&[16, 32, 4, 4], Init::PyTorch, &mut r),
        1.0 / 512f64.sqrt(),
        "PyTorch convT",
    );
    let b = init::bias(&gpu, 20000, &[16, 32, 4, 4], Init::PyTorch, &mut r).unwrap();
    assert_uniform(
        &b.to_vec().unwrap(),
        1.0 / 512f64.sqrt(),
        "PyTorch convT bias",
    );
    assert!(b.requires_grad());

    // Keras: glorot U(±√(6/(fan_in+fan_out))), biases zero.
    assert_uniform(
        &draw(&[256, 128], Init::Keras, &mut r),
        (6.0f64 / 384.0).sqrt(),
        "Keras dense",
    );
    assert_uniform(
        &draw(&[64, 32, 4, 4], Init::Keras, &mut r),
        (6.0f64 / (512.0 + 1024.0)).sqrt(),
        "Keras conv",
    );
    let b = init::bias(&gpu, 64, &[64, 32], Init::Keras, &mut r).unwrap();
    assert!(b.to_vec().unwrap().iter().all(|&v| v == 0.0));

    // N(0, 0.02), biases zero.
    let w = init::weight(&gpu, &[512, 256], Init::Normal(0.02), &mut r).unwrap();
    assert!(w.requires_grad());
    assert_normal(&w.to_vec().unwrap(), 0.0, 0.02, "Normal(0.02)");
    let b = init::bias(&gpu, 64, &[64, 32], Init::Normal(0.02), &mut r).unwrap();
    assert!(b.to_vec().unwrap().iter().all(|&v| v == 0.0));

    // DCGAN batch norm: weight N(1, 0.02), bias 0.
    let bn = BatchNorm::new_normal(&gpu, 100_000, NormConfig::pytorch(), 0.02, &mut r).unwrap();
    assert_normal(
        &bn.weight.to_vec().unwrap(),
        1.0,
        0.02,
        "BatchNorm::new_normal weight",
    );
    assert!(bn.bias.to_vec().unwrap().iter().all(|&v| v == 0.0));
    assert!(bn.weight.requires_grad() && bn.bias.requires_grad());

    // Embeddings: PyTorch N(0, 1), Keras U(±0.05).
    let e = Embedding::new(&gpu, 1000, 100, &mut r).unwrap();
    assert_normal(&e.weight.to_vec().unwrap(), 0.0, 1.0, "Embedding");
    let e = Embedding::new_keras(&gpu, 1000, 100, &mut r).unwrap();
    assert_uniform(&e.weight.to_vec().unwrap(), 0.05, "Embedding (Keras)");

    // Independent draws differ; the same seed repeats.
    let a = draw(&[64, 64], Init::PyTorch, &mut Generator::new(5));
    let a2 = draw(&[64, 64], Init::PyTorch, &mut Generator::new(5));
    let mut g = Generator::new(5);
    draw(&[64, 64], Init::PyTorch, &mut g);
    let c = draw(&[64, 64], Init::PyTorch, &mut g);
    assert_eq!(a, a2);
    assert_ne!(a, c);
}

#[test]
fn module_summary_names() {
    let mut r = rng();
    let lin = Linear::new(&gpu(), 784, 128, false, Init::PyTorch, &mut r).unwrap();
    assert_eq!(lin.describe(), "Linear(784 → 128, no bias)");
    assert_eq!(nn::parameter_count(&lin), 784 * 128);
}
