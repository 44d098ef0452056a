//! Quality metrics: each metric on constructed inputs with a known answer, the shipped MNIST
//! classifier's held-out accuracy, and `tapegan eval` / `eval_every` on tiny trained runs.
mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Command, Output};

use tapegan::metrics::classifier::{self, Classifier, Judgement, CLASSES, FEATURES};
use tapegan::metrics::frechet::{frechet_distance, sqrt_psd, sym_eigen, Gaussian};
use tapegan::metrics::image::{image_metrics, to_classifier_input};
use tapegan::metrics::toy::{kl_to_uniform, toy_metrics, STRICT_COUNT};
use tapegan::metrics::{record, Evaluator, Kind, Report};
use tapegan::Tensor;

/// The 25 centres of the WGAN-GP toy (grid / 2.828) and its σ.
fn grid() -> (Vec<[f32; 2]>, f64) {
    let s = 2.828f32;
    let c = (0..25)
        .map(|i| {
            [
                ((i / 5) as f32 * 2.0 - 4.0) / s,
                ((i % 5) as f32 * 2.0 - 4.0) / s,
            ]
        })
        .collect();
    (c, 0.05 / 2.828)
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (±{tol})"
    );
}

#[test]
fn toy_all_samples_on_one_centre_is_one_mode() {
    let (c, sigma) = grid();
    let pts = vec![c[7]; 2500];
    let m = toy_metrics(&pts, &c, sigma);
    assert_eq!(
        (m.modes, m.modes_captured, m.modes_captured_strict),
        (25, 1, 1)
    );
    close(m.high_quality_pct, 100.0, 1e-9, "% HQ");
    // Everything on one of 25 modes: KL(q‖uniform) = ln 25.
    close(m.reverse_kl.unwrap(), 25f64.ln(), 1e-12, "reverse KL");
    assert_eq!(m.hq_per_mode[7], 2500);
}

#[test]
fn toy_every_centre_equally_is_all_modes_and_zero_kl() {
    let (c, sigma) = grid();
    let pts: Vec<[f32; 2]> = (0..2500).map(|i| c[i % 25]).collect();
    let m = toy_metrics(&pts, &c, sigma);
    assert_eq!((m.modes_captured, m.modes_captured_strict), (25, 25));
    close(m.high_quality_pct, 100.0, 1e-9, "% HQ");
    close(m.reverse_kl.unwrap(), 0.0, 1e-12, "reverse KL");
}

#[test]
fn toy_samples_far_from_every_centre_are_not_high_quality() {
    let (c, sigma) = grid();
    let mut pts = vec![[10.0f32, -10.0]; 2499];
    pts.push([f32::NAN, 0.0]);
    let m = toy_metrics(&pts, &c, sigma);
    assert_eq!((m.modes_captured, m.modes_captured_strict), (0, 0));
    close(m.high_quality_pct, 0.0, 0.0, "% HQ");
    assert_eq!(m.reverse_kl, None, "no HQ samples: KL undefined");
}

#[test]
fn toy_radius_strict_count_and_partial_coverage() {
    let (c, sigma) = grid();
    let r = 3.0 * sigma as f32;
    let mut pts = Vec::new();
    // Mode 0: 20 samples just inside 3σ (strictly captured); mode 1: 19 inside (captured,
    // not strictly); mode 2: 30 just outside 3σ (not HQ at all).
    pts.extend(std::iter::repeat_n(
        [c[0][0] + 0.98 * r, c[0][1]],
        STRICT_COUNT,
    ));
    pts.extend(std::iter::repeat_n(
        [c[1][0], c[1][1] - 0.98 * r],
        STRICT_COUNT - 1,
    ));
    pts.extend(std::iter::repeat_n([c[2][0] + 1.02 * r, c[2][1]], 30));
    let m = toy_metrics(&pts, &c, sigma);
    assert_eq!((m.modes_captured, m.modes_captured_strict), (2, 1));
    close(m.high_quality_pct, 100.0 * 39.0 / 69.0, 1e-9, "% HQ");
    // q = (20/39, 19/39) over 25 modes: KL = Σ q ln(25 q).
    let want: f64 = [20.0, 19.0]
        .iter()
        .map(|n: &f64| (n / 39.0) * (25.0 * n / 39.0).ln())
        .sum();
    close(m.reverse_kl.unwrap(), want, 1e-12, "reverse KL");
}

#[test]
fn toy_real_mixture_samples_score_like_the_data() {
    // Data drawn from the mixture itself: every mode, and P(‖x − c‖ ≤ 3σ) for a 2-D Gaussian
    // is 1 − e^{−9/2} = 98.89 %.
    let (c, sigma) = grid();
    let flat = tapegan::data::mixtures::sample(tapegan::data::Mixture::Grid25, 400, 0.05, 2.828, 7);
    let pts: Vec<[f32; 2]> = flat.chunks(2).map(|p| [p[0], p[1]]).collect();
    let m = toy_metrics(&pts, &c, sigma);
    assert_eq!(
        (m.samples, m.modes_captured, m.modes_captured_strict),
        (10_000, 25, 25)
    );
    close(
        m.high_quality_pct,
        100.0 * (1.0 - (-4.5f64).exp()),
        0.4,
        "% HQ of real data",
    );
    assert!(m.reverse_kl.unwrap() < 0.01, "KL {:?}", m.reverse_kl);
}

#[test]
fn kl_to_uniform_of_histograms() {
    close(kl_to_uniform(&[5, 5, 5, 5]).unwrap(), 0.0, 1e-15, "uniform");
    close(
        kl_to_uniform(&[7, 0, 0, 0]).unwrap(),
        4f64.ln(),
        1e-15,
        "one bin",
    );
    close(
        kl_to_uniform(&[1, 1, 0, 0]).unwrap(),
        2f64.ln(),
        1e-15,
        "half the bins",
    );
    assert_eq!(kl_to_uniform(&[0, 0]), None);
}

/// A symmetric matrix M from a random B: BBᵀ + shift·I (positive definite for shift > 0).
fn spd(n: usize, seed: u64, shift: f64) -> Vec<f64> {
    let b: Vec<f64> = rand_vec(n * n, seed, -1.0, 1.0)
        .iter()
        .map(|&v| v as f64)
        .collect();
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>();
        }
        m[i * n + i] += shift;
    }
    m
}

#[test]
fn jacobi_eigendecomposition_reconstructs_the_matrix() {
    let n = 40;
    let m = spd(n, 3, 0.0);
    let (w, v) = sym_eigen(&m, n);
    for i in 0..n {
        for j in 0..n {
            let r: f64 = (0..n).map(|k| v[i * n + k] * w[k] * v[j * n + k]).sum();
            close(r, m[i * n + j], 1e-9, "V diag(λ) Vᵀ");
            let o: f64 = (0..n).map(|k| v[k * n + i] * v[k * n + j]).sum();
            close(o, (i == j) as u8 as f64, 1e-12, "VᵀV = I");
        }
    }
    // The square root squares back.
    let r = sqrt_psd(&m, n);
    for i in 0..n {
        for j in 0..n {
            let s: f64 = (0..n).map(|k| r[i * n + k] * r[k * n + j]).sum();
            close(s, m[i * n + j], 1e-8, "sqrt²");
        }
    }
}

#[test]
fn frechet_of_identical_sets_is_zero() {
    let d = 16;
    let x = rand_vec(500 * d, 9, -2.0, 3.0);
    let g = Gaussian::fit(&x, d);
    close(frechet_distance(&g, &g.clone()), 0.0, 1e-9, "FD(x, x)");
}

#[test]
fn frechet_matches_the_closed_forms() {
    // Any 2×2 pair: tr √(Σ₁Σ₂) = √(tr(Σ₁Σ₂) + 2√det(Σ₁Σ₂)), even for non-commuting Σ's.
    let a = Gaussian {
        dim: 2,
        mean: vec![1.0, -2.0],
        cov: vec![2.0, 0.7, 0.7, 1.0],
    };
    let b = Gaussian {
        dim: 2,
        mean: vec![0.5, 1.0],
        cov: vec![0.5, -0.3, -0.3, 3.0],
    };
    let p: [f64; 4] = [
        2.0 * 0.5 + 0.7 * -0.3,
        2.0 * -0.3 + 0.7 * 3.0,
        0.7 * 0.5 + 1.0 * -0.3,
        0.7 * -0.3 + 1.0 * 3.0,
    ];
    let tr_sqrt = ((p[0] + p[3]) + 2.0 * (p[0] * p[3] - p[1] * p[2]).sqrt()).sqrt();
    let want = 0.5f64.powi(2) + 3.0f64.powi(2) + (2.0 + 1.0) + (0.5 + 3.0) - 2.0 * tr_sqrt;
    close(frechet_distance(&a, &b), want, 1e-10, "2×2 closed form");
    close(frechet_distance(&b, &a), want, 1e-10, "symmetry");

    // Diagonal covariances in 64-d: FD = ‖μ₁ − μ₂‖² + Σ (σ₁ᵢ − σ₂ᵢ)².
    let d = 64;
    let s1 = rand_vec(d, 1, 0.1, 2.0);
    let s2 = rand_vec(d, 2, 0.0, 2.0);
    let diag = |s: &[f32]| {
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            c[i * d + i] = (s[i] as f64).powi(2);
        }
        c
    };
    let (m1, m2) = (rand_vec(d, 3, -1.0, 1.0), rand_vec(d, 4, -1.0, 1.0));
    let a = Gaussian {
        dim: d,
        mean: m1.iter().map(|&v| v as f64).collect(),
        cov: diag(&s1),
    };
    let b = Gaussian {
        dim: d,
        mean: m2.iter().map(|&v| v as f64).collect(),
        cov: diag(&s2),
    };
    let want: f64 = (0..d)
        .map(|i| (m1[i] as f64 - m2[i] as f64).powi(2) + (s1[i] as f64 - s2[i] as f64).powi(2))
        .sum();
    close(frechet_distance(&a, &b), want, 1e-9, "diagonal closed form");

    // Σ₁ = cI: tr √(cΣ₂) = √c Σ √λ(Σ₂), for a full (non-diagonal) Σ₂ of rank 30 in 48-d.
    let n = 48;
    let low: Vec<f64> = {
        let b: Vec<f64> = rand_vec(n * 30, 5, -1.0, 1.0)
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = (0..30).map(|k| b[i * 30 + k] * b[j * 30 + k]).sum::<f64>();
            }
        }
        m
    };
    let c = 2.5;
    let mut ci = vec![0.0; n * n];
    (0..n).for_each(|i| ci[i * n + i] = c);
    let (lam, _) = sym_eigen(&low, n);
    let tr2: f64 = (0..n).map(|i| low[i * n + i]).sum();
    let want =
        c * n as f64 + tr2 - 2.0 * c.sqrt() * lam.iter().map(|l| l.max(0.0).sqrt()).sum::<f64>();
    let a = Gaussian {
        dim: n,
        mean: vec![0.0; n],
        cov: ci,
    };
    let b = Gaussian {
        dim: n,
        mean: vec![0.0; n],
        cov: low,
    };
    // √ of an eigenvalue that is 0 up to rounding (ε ~ 1e−14) contributes √ε: a relative 1e−6.
    close(
        frechet_distance(&a, &b),
        want,
        1e-6 * want,
        "scaled identity vs singular",
    );
}

#[test]
fn frechet_of_samples_approaches_the_gaussians_distance() {
    // x ~ N(0, I₃), y ~ N(μ, diag(4, 1, 0.25)) from uniform sums (CLT is not needed: the
    // fitted moments are what the distance uses). Closed form: ‖μ‖² + Σ (1 − σᵢ)².
    let n = 20_000;
    let gauss = |seed: u64| -> Vec<f32> {
        let u = rand_vec(2 * n * 3, seed, 1e-7, 1.0);
        u.chunks(2)
            .map(|p| {
                ((-2.0 * (p[0] as f64).ln()).sqrt() * (std::f64::consts::TAU * p[1] as f64).cos())
                    as f32
            })
            .collect()
    };
    let x = gauss(11);
    let (mu, sd) = ([1.0f32, -0.5, 2.0], [2.0f32, 1.0, 0.5]);
    let y: Vec<f32> = gauss(12)
        .chunks(3)
        .flat_map(|r| (0..3).map(move |i| mu[i] + sd[i] * r[i]))
        .collect();
    let fd = frechet_distance(&Gaussian::fit(&x, 3), &Gaussian::fit(&y, 3));
    let want = 1.0 + 0.25 + 4.0 + 1.0 + 0.0 + 0.25;
    close(fd, want, 0.15, "FD of samples");
}

/// Classifier outputs with the given predictions at confidence `conf` (features: the class
/// one-hot, so equal predictions give equal features).
fn judged(pred: &[usize], conf: f32) -> Judgement {
    let rest = (1.0 - conf) / (CLASSES - 1) as f32;
    let mut probs = Vec::new();
    let mut features = Vec::new();
    for &p in pred {
        probs.extend((0..CLASSES).map(|k| if k == p { conf } else { rest }));
        features.extend((0..FEATURES).map(|k| (k == p) as u8 as f32));
    }
    Judgement { probs, features }
}

#[test]
fn class_coverage_kl_confidence_and_conditional_accuracy() {
    let all: Vec<u32> = (0..10).collect();
    let balanced: Vec<usize> = (0..1000).map(|i| i % 10).collect();
    let real = Gaussian::fit(&judged(&balanced, 0.9).features, FEATURES);
    let m = image_metrics(&judged(&balanced, 0.9), &all, None, &real).unwrap();
    assert_eq!(m.classes_covered, 10);
    close(m.class_kl.unwrap(), 0.0, 1e-12, "balanced KL");
    close(m.confidence_pct, 90.0, 1e-4, "confidence");
    close(m.frechet, 0.0, 1e-9, "same features");
    assert_eq!(m.conditional_accuracy_pct, None);

    // Collapse onto 3 and 8 in proportions 3:1.
    let collapsed: Vec<usize> = (0..1000).map(|i| if i % 4 == 0 { 8 } else { 3 }).collect();
    let m = image_metrics(&judged(&collapsed, 0.6), &all, None, &real).unwrap();
    assert_eq!(m.classes_covered, 2);
    let want = 0.75 * (10.0f64 * 0.75).ln() + 0.25 * (10.0f64 * 0.25).ln();
    close(m.class_kl.unwrap(), want, 1e-12, "collapsed KL");
    close(m.confidence_pct, 60.0, 1e-4, "confidence");
    assert!(m.frechet > 0.1, "collapsed features are far: {}", m.frechet);
    assert_eq!(m.class_counts[3] + m.class_counts[8], 1000);

    // Conditional: asked for i % 10, got it except for every 5th sample (predicted +1).
    let asked: Vec<u32> = (0..1000).map(|i| (i % 10) as u32).collect();
    let got: Vec<usize> = (0..1000)
        .map(|i| if i % 5 == 0 { (i + 1) % 10 } else { i % 10 })
        .collect();
    let m = image_metrics(&judged(&got, 0.9), &all, Some(&asked), &real).unwrap();
    close(
        m.conditional_accuracy_pct.unwrap(),
        80.0,
        1e-9,
        "asked k, got k",
    );

    // A run on digits 7 and 8: coverage and KL over those two, others reported apart.
    let mixed: Vec<usize> = (0..100).map(|i| [7, 7, 8, 1][i % 4]).collect();
    let m = image_metrics(&judged(&mixed, 0.9), &[7, 8], None, &real).unwrap();
    assert_eq!(m.classes_covered, 2);
    close(m.off_target_pct, 25.0, 1e-9, "off-target");
    let want = (2.0f64 / 3.0) * (2.0 * 2.0f64 / 3.0).ln() + (1.0 / 3.0) * (2.0f64 / 3.0).ln();
    close(m.class_kl.unwrap(), want, 1e-12, "KL over the targets");
}

#[test]
fn samples_are_brought_to_28x28_gray() {
    let gpu = gpu();
    // 64×64 RGB: left half one colour, right half another; the luma of each survives the
    // area average (columns 0–13 come only from the left half, 15–27 only from the right).
    let (n, s) = (2, 64);
    let mut data = vec![0.0f32; n * 3 * s * s];
    for img in data.chunks_mut(3 * s * s) {
        for (ch, plane) in img.chunks_mut(s * s).enumerate() {
            for (i, v) in plane.iter_mut().enumerate() {
                *v = if i % s < s / 2 {
                    [0.5, -0.5, 1.0][ch]
                } else {
                    -1.0
                };
            }
        }
    }
    let x = Tensor::from_slice(&gpu, &data, &[n, 3, s, s]).unwrap();
    let y = to_classifier_input(&x).unwrap();
    assert_eq!(y.shape(), &[n, 1, 28, 28]);
    let v = y.to_vec().unwrap();
    let luma = 0.299 * 0.5 + 0.587 * -0.5 + 0.114 * 1.0;
    for row in v.chunks(28) {
        assert_close(&row[..14], &[luma; 14], 1e-5, 1e-6, "left half");
        assert_close(&row[15..], &[-1.0; 13], 1e-5, 1e-6, "right half");
    }
    // 28×28 gray passes through untouched (no host round trip).
    let same = to_classifier_input(&y).unwrap();
    assert!(same.shares_storage(&y));
}

#[test]
fn shipped_classifier_is_at_least_97_percent_accurate_on_held_out_digits() {
    let gpu = gpu();
    let clf = Classifier::load(&gpu, &classifier::default_path()).unwrap();
    let test = classifier::held_out(&gpu, None).unwrap();
    assert_eq!(test.labels.len(), 1000);
    let acc = clf.accuracy(&test.images, &test.labels).unwrap();
    assert!(acc >= 0.97, "held-out accuracy {acc}");
}

#[test]
fn conditional_models_are_asked_for_each_digit() {
    let gpu = gpu();
    let mut cfg = tapegan::models::find("mlp-cwgan-gp")
        .unwrap()
        .config
        .clone();
    cfg.batch = 64;
    let (g, _) = tapegan::models::build(&gpu, &cfg, &mut tapegan::Generator::new(1)).unwrap();
    let ev = Evaluator::new(&gpu, &cfg).unwrap();
    let r = ev.evaluate(&gpu, &cfg, &g, 0, Some(150), 0).unwrap();
    assert_eq!((r.kind, r.samples), (Kind::Image, 150));
    let keys: Vec<&str> = r.metrics.iter().map(|m| m.key).collect();
    assert!(keys.contains(&"conditional_accuracy_pct"), "{keys:?}");
    let counts = &r.histogram.as_ref().unwrap().counts;
    assert_eq!(counts.iter().sum::<usize>(), 150);
}

#[test]
fn photographs_are_not_judged_by_the_digit_classifier() {
    let gpu = gpu();
    let mut cfg = tapegan::models::find("dcgan-celeba")
        .unwrap()
        .config
        .clone();
    cfg.data = "images:/data/img_align_celeba".into();
    let (g, _) = tapegan::models::build(&gpu, &cfg, &mut tapegan::Generator::new(1)).unwrap();
    let ev = Evaluator::new(&gpu, &cfg).unwrap();
    let r = ev.evaluate(&gpu, &cfg, &g, 5, None, 0).unwrap();
    assert_eq!(r.kind, Kind::NotApplicable);
    assert!(r.metrics.is_empty());
    assert!(
        r.note.as_deref().unwrap().contains("do not apply"),
        "{:?}",
        r.note
    );
    assert!(r.table().contains("do not apply"));
    assert_eq!(r.to_json()["kind"], "none");
}

#[test]
fn real_digits_score_as_real_and_noise_does_not() {
    let gpu = gpu();
    let clf = Classifier::load(&gpu, &classifier::default_path()).unwrap();
    let held_out = classifier::held_out(&gpu, None).unwrap();
    let real = Gaussian::fit(&clf.judge(&held_out.images).unwrap().features, FEATURES);
    let all: Vec<u32> = (0..10).collect();
    // 1,000 training digits against the held-out reference.
    let spec = tapegan::data::DataSpec::Mnist {
        dir: tapegan::data::default_mnist_dir(),
        test_split: false,
    };
    let opts = tapegan::data::DataOptions {
        limit: Some(1000),
        ..Default::default()
    };
    let d = tapegan::data::load(&spec, &opts).unwrap();
    let tapegan::data::Samples::Bytes(b) = &d.samples else {
        panic!("bytes")
    };
    let x: Vec<f32> = b.iter().map(|&v| v as f32 / 127.5 - 1.0).collect();
    let x = Tensor::from_slice(&gpu, &x, &[1000, 1, 28, 28]).unwrap();
    let train = image_metrics(&clf.judge(&x).unwrap(), &all, None, &real).unwrap();
    assert_eq!(train.classes_covered, 10);
    assert!(train.class_kl.unwrap() < 0.05, "{train:?}");
    assert!(train.confidence_pct > 90.0, "{train:?}");
    // Uniform noise images: far from the digits in feature space.
    let noise =
        Tensor::from_slice(&gpu, &rand_vec(500 * 784, 5, -1.0, 1.0), &[500, 1, 28, 28]).unwrap();
    let fake = image_metrics(&clf.judge(&noise).unwrap(), &all, None, &real).unwrap();
    assert!(
        fake.frechet > 10.0 * train.frechet,
        "noise FD {} vs real FD {}",
        fake.frechet,
        train.frechet
    );
    eprintln!(
        "FD train vs held-out {:.3}, noise {:.3}",
        train.frechet, fake.frechet
    );
}

#[test]
fn digits_served_at_64x64_rgb_are_recognised_after_downscaling() {
    // dcgan-64 / dcgan-celeba see the digits upscaled (bilinear) to 64×64, as RGB for the
    // latter; their samples are area-averaged back to 28×28 gray before judging. Real digits
    // through that round trip must still be recognised.
    let gpu = gpu();
    let clf = Classifier::load(&gpu, &classifier::default_path()).unwrap();
    let spec = tapegan::data::DataSpec::Mnist {
        dir: tapegan::data::default_mnist_dir(),
        test_split: true,
    };
    let opts = tapegan::data::DataOptions {
        image_size: 64,
        channels: 3,
        ..Default::default()
    };
    let d = tapegan::data::load(&spec, &opts).unwrap();
    let tapegan::data::Samples::Bytes(b) = &d.samples else {
        panic!("bytes")
    };
    let x: Vec<f32> = b.iter().map(|&v| v as f32 / 127.5 - 1.0).collect();
    let x = Tensor::from_slice(&gpu, &x, &[d.count, 3, 64, 64]).unwrap();
    let acc = clf
        .accuracy(
            &to_classifier_input(&x).unwrap(),
            d.labels.as_ref().unwrap(),
        )
        .unwrap();
    assert!(acc >= 0.96, "accuracy after 28 → 64 → 28: {acc}");
    eprintln!("round-trip accuracy {acc}");
}

#[test]
fn metrics_csv_keeps_one_row_per_step_across_a_resume() {
    let (c, sigma) = grid();
    let dir = tmp("record");
    let report = |step: u64, on: usize| {
        let pts: Vec<[f32; 2]> = (0..2500).map(|i| c[i % on]).collect();
        let m = toy_metrics(&pts, &c, sigma);
        Report {
            preset: "toy-wgan-gp".into(),
            step,
            seed: 0,
            samples: 2500,
            kind: Kind::Toy,
            metrics: tapegan::metrics::report::toy_rows(&m),
            histogram: None,
            note: None,
        }
    };
    record(&dir, &report(10, 1)).unwrap();
    record(&dir, &report(20, 5)).unwrap();
    // A run resumed from its step-15 checkpoint evaluates step 20 again: the old row goes.
    record(&dir, &report(15, 25)).unwrap();
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let steps: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["10", "15"], "{csv}");
    assert!(
        csv.lines().nth(2).unwrap().starts_with("15,25,25,100,0"),
        "{csv}"
    );
    let v = read_json(&dir.join("metrics.json"));
    assert_eq!(v["step"], 15);
    assert_eq!(v["metrics"]["modes_captured"], 25);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tapegan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapegan"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-metrics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn has_keys(v: &serde_json::Value, keys: &[&str]) {
    for k in keys {
        assert!(
            v["metrics"].get(k).is_some(),
            "metrics.{k} missing from {v}"
        );
    }
}

#[test]
fn eval_cli_and_eval_every_on_tiny_runs() {
    // Toy: evaluated during training (eval_every 1 → steps 1 and 2), then by `tapegan eval`.
    let toy = tmp("toy");
    let t = toy.to_str().unwrap();
    ok(&tapegan(&[
        "train",
        "--preset",
        "toy-wgan-gp",
        "--steps",
        "2",
        "--out",
        t,
        "-q",
        "--set",
        "batch=32",
        "--set",
        "limit=256",
        "--set",
        "hidden=16",
        "--set",
        "sample_every=0",
        "--set",
        "eval_every=1",
    ]));
    let csv = std::fs::read_to_string(toy.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header and steps 1, 2: {csv}");
    assert!(lines[0].starts_with("step,modes_captured,"), "{csv}");
    assert!(toy.join("metrics.png").is_file() && toy.join("metrics_kl.png").is_file());
    let table = ok(&tapegan(&["eval", "--run", t, "--seed", "3"]));
    assert!(table.contains("modes captured"), "{table}");
    let v = read_json(&toy.join("metrics.json"));
    assert_eq!(
        (
            v["kind"].as_str(),
            v["step"].as_u64(),
            v["samples"].as_u64()
        ),
        (Some("toy"), Some(2), Some(2500))
    );
    has_keys(
        &v,
        &[
            "modes_captured",
            "modes_captured_strict",
            "high_quality_pct",
            "reverse_kl",
        ],
    );
    assert_eq!(v["hq_per_mode"].as_array().map(Vec::len), Some(25));

    // Digits: `tapegan eval` with the classifier.
    let dc = tmp("dcgan28");
    let d = dc.to_str().unwrap();
    ok(&tapegan(&[
        "train",
        "--preset",
        "dcgan-28",
        "--steps",
        "2",
        "--out",
        d,
        "-q",
        "--set",
        "batch=8",
        "--set",
        "limit=16",
        "--set",
        "sample_every=0",
    ]));
    let table = ok(&tapegan(&["eval", "--run", d, "--n", "200"]));
    assert!(table.contains("Fréchet distance"), "{table}");
    let v = read_json(&dc.join("metrics.json"));
    assert_eq!(v["kind"].as_str(), Some("image"));
    has_keys(
        &v,
        &[
            "classes_covered",
            "class_kl",
            "confidence_pct",
            "frechet_distance",
        ],
    );
    assert!(v["metrics"].get("conditional_accuracy_pct").is_none());
    assert_eq!(v["predicted_digits"].as_array().map(Vec::len), Some(10));
    let _ = std::fs::remove_dir_all(&toy);
    let _ = std::fs::remove_dir_all(&dc);
}
