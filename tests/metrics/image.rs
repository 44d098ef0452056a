//! The MNIST classifier and the image metrics built on it: class coverage, confidence,
//! conditional accuracy, resizing, and which data sets they judge.

use super::common::*;
use super::*;

use tapegan::metrics::classifier::{self, Classifier, Judgement, CLASSES, FEATURES};
use tapegan::metrics::frechet::Gaussian;
use tapegan::metrics::image::{image_metrics, to_classifier_input};
use tapegan::metrics::{Evaluator, Kind};
use tapegan::Tensor;

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
