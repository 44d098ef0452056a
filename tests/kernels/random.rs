//! The Philox generator against its reference, and the distributions built on it.

use super::common::*;
use super::reference;
use super::support::*;
use tapegan::Generator;

fn mean_var(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[test]
fn random_matches_philox_reference() {
    let g = gpu();
    // Bit-exact uniform [0, 1) against a CPU Philox4x32-10, including a 32-bit counter carry.
    for (seed, offset, n) in [
        (0u64, 0u64, 1usize),
        (42, 0, 7),
        (0xDEAD_BEEF_1234_5678, 5, 33),
        (7, u32::MAX as u64 - 2, 41),
        (9, 1 << 40, 300 * 784),
    ] {
        let mut gen = Generator { seed, offset };
        let u = gen.uniform(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();
        let words = reference::philox_words(seed, offset, n.div_ceil(4) * 4);
        let want: Vec<f32> = words[..n].iter().map(|&w| reference::unit(w)).collect();
        check_bits(
            &u,
            &want,
            &format!("uniform seed {seed:#x} offset {offset:#x} n {n}"),
        );
        assert_eq!(
            gen.offset,
            offset + n.div_ceil(4) as u64,
            "offset advances one counter per 4 numbers"
        );

        let mut gen = Generator { seed, offset };
        let z = gen.normal(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();
        check_normal(
            &z,
            &words,
            &format!("normal seed {seed:#x} offset {offset:#x} n {n}"),
        );
    }
}

/// Compares a standard-normal draw with the Box–Muller reference of its words. The device's
/// cos, sin and log are only accurate to an absolute error (WGSL bounds cos and sin by 2⁻¹¹,
/// log near 1 by 2⁻²¹), which the radius √(−2 ln u) amplifies by 1/r where r is small.
fn check_normal(z: &[f32], words: &[u32], what: &str) {
    let zr = reference::box_muller(words);
    let want: Vec<f64> = zr[..z.len()].iter().map(|p| p.0).collect();
    let tol: Vec<f64> = zr[..z.len()]
        .iter()
        .map(|p| 1e-4 + 1e-6 / p.1.max(1e-9))
        .collect();
    assert!(z.iter().all(|v| v.is_finite()), "{what}: not finite: {z:?}");
    check_tol(z, &want, &tol, what);
}

#[test]
fn normal_is_finite_at_extreme_uniforms() {
    // Find counters whose log-words give u within 16 steps of 1 (radius → 0, where an inexact
    // log could turn −2 ln u negative) or of 0 (the largest radius), then draw exactly there.
    let g = gpu();
    let seed = 2024u64;
    let (mut near_one, mut near_zero) = (None, None);
    for t in 0..(1u64 << 24) {
        let b = reference::philox([t as u32, (t >> 32) as u32, 0, 0], [seed as u32, 0]);
        for w in [b[0], b[2]] {
            if w >> 8 >= 0xFF_FFF0 && near_one.is_none() {
                near_one = Some(t);
            }
            if w >> 8 < 16 && near_zero.is_none() {
                near_zero = Some(t);
            }
        }
        if near_one.is_some() && near_zero.is_some() {
            break;
        }
    }
    for offset in [
        near_one.expect("a counter near 1"),
        near_zero.expect("a counter near 0"),
    ] {
        let mut gen = Generator { seed, offset };
        let z = gen.normal(&g, &[4], 0.0, 1.0).unwrap().to_vec().unwrap();
        let words = reference::philox_words(seed, offset, 4);
        check_normal(&z, &words, &format!("normal at counter {offset}"));
    }
}

#[test]
fn random_distributions() {
    let g = gpu();
    let n = 1 << 20;
    let mut gen = Generator::new(1234);

    let u = gen.uniform(&g, &[n], -2.0, 3.0).unwrap().to_vec().unwrap();
    assert!(
        u.iter().all(|&v| (-2.0..3.0).contains(&v)),
        "uniform stays in [lo, hi)"
    );
    let (m, v) = mean_var(&u);
    // Standard errors: 5/√12/√n ≈ 1.4e-3 for the mean, ≈ 1.9e-3 for the variance.
    assert!((m - 0.5).abs() < 7e-3, "uniform mean {m}");
    assert!((v - 25.0 / 12.0).abs() < 1e-2, "uniform variance {v}");
    let low = u.iter().filter(|&&x| x < -1.0).count() as f64 / n as f64;
    assert!((low - 0.2).abs() < 2.5e-3, "uniform P(x < −1) = {low}");

    let (mu, sd) = (1.5f32, 2.0f32);
    let z = gen.normal(&g, &[n], mu, sd).unwrap().to_vec().unwrap();
    assert!(z.iter().all(|v| v.is_finite()), "normal numbers are finite");
    let (m, v) = mean_var(&z);
    assert!(
        (m - 1.5).abs() < 5.0 * 2.0 / (n as f64).sqrt(),
        "normal mean {m}"
    );
    assert!(
        (v - 4.0).abs() < 5.0 * 4.0 * (2.0 / n as f64).sqrt(),
        "normal variance {v}"
    );
    let within = |k: f32| z.iter().filter(|&&x| (x - mu).abs() < k * sd).count() as f64 / n as f64;
    let (w1, w2, w3) = (within(1.0), within(2.0), within(3.0));
    assert!((w1 - 0.682_689).abs() < 3e-3, "P(|z| < 1σ) = {w1}");
    assert!((w2 - 0.954_500).abs() < 2e-3, "P(|z| < 2σ) = {w2}");
    assert!((w3 - 0.997_300).abs() < 6e-4, "P(|z| < 3σ) = {w3}");
    let skew = z
        .iter()
        .map(|&x| ((x - mu) / sd).powi(3) as f64)
        .sum::<f64>()
        / n as f64;
    assert!(skew.abs() < 0.015, "normal skewness {skew}");

    for p in [0.3f32, 0.01, 0.0, 1.0] {
        let b = gen.bernoulli(&g, &[n], p).unwrap().to_vec().unwrap();
        assert!(
            b.iter().all(|&x| x == 0.0 || x == 1.0),
            "bernoulli gives 0 or 1"
        );
        let f = b.iter().sum::<f32>() as f64 / n as f64;
        let se = (p as f64 * (1.0 - p as f64) / n as f64).sqrt();
        assert!(
            (f - p as f64).abs() <= 5.0 * se,
            "bernoulli({p}) frequency {f}"
        );
    }
    assert!(gen.bernoulli(&g, &[4], 1.5).is_err());
    assert!(gen.bernoulli(&g, &[4], -0.1).is_err());
    // An inverted-dropout mask: 1/keep with probability keep, drawn from the same stream as
    // the plain Bernoulli (same seed and offset: the same positions are kept).
    let keep = 0.7f32;
    let (mut g1, mut g2) = (Generator::new(11), Generator::new(11));
    let plain = g1.bernoulli(&g, &[n], keep).unwrap().to_vec().unwrap();
    let scaled = g2.bernoulli_value(&g, &[n], keep, 1.0 / keep);
    let scaled = scaled.unwrap().to_vec().unwrap();
    for (i, (&a, &b)) in plain.iter().zip(&scaled).enumerate() {
        assert_eq!(b, a * (1.0 / keep), "element {i}: mask {b} for draw {a}");
    }
}

#[test]
fn random_streams_are_deterministic_and_distinct() {
    let g = gpu();
    let draw =
        |gen: &mut Generator, n: usize| gen.normal(&g, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();

    // Same seed and offset → identical numbers.
    let (mut a, mut b) = (Generator::new(99), Generator::new(99));
    let (x1, y1) = (draw(&mut a, 1000), draw(&mut b, 1000));
    check_bits(&x1, &y1, "same seed");
    // Consecutive draws differ; both generators stay in step.
    let (x2, y2) = (draw(&mut a, 1000), draw(&mut b, 1000));
    check_bits(&x2, &y2, "same seed, second draw");
    assert!(
        x1.iter().zip(&x2).filter(|(p, q)| p == q).count() < 5,
        "consecutive draws differ"
    );
    // Resuming from a saved (seed, offset) reproduces the stream.
    let saved = Generator {
        seed: 99,
        offset: 250,
    };
    let mut r = saved;
    check_bits(&draw(&mut r, 1000), &x2, "resumed at offset 250");

    // Forked streams differ from each other and from the parent, and forking is deterministic.
    let root = Generator::new(5);
    let (mut f1, mut f2, mut p) = (root.fork(1), root.fork(2), root);
    assert_eq!(root.fork(1), root.fork(1));
    assert_ne!(f1.seed, f2.seed);
    let (a1, a2, ap) = (draw(&mut f1, 1000), draw(&mut f2, 1000), draw(&mut p, 1000));
    assert!(
        a1.iter().zip(&a2).filter(|(p, q)| p == q).count() < 5,
        "fork(1) vs fork(2)"
    );
    assert!(
        a1.iter().zip(&ap).filter(|(p, q)| p == q).count() < 5,
        "fork(1) vs parent"
    );
    let mut seeds: Vec<u64> = (0..100).map(|s| root.fork(s).seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 100, "fork seeds are distinct");

    // A draw's numbers do not depend on its size: the first k of n equal a draw of k.
    let start = Generator {
        seed: 77,
        offset: 3,
    };
    for dist in 0..3 {
        let mk = |n: usize| {
            let mut gen = start;
            let t = match dist {
                0 => gen.uniform(&g, &[n], -1.0, 1.0),
                1 => gen.normal(&g, &[n], 0.0, 1.0),
                _ => gen.bernoulli(&g, &[n], 0.5),
            };
            t.unwrap().to_vec().unwrap()
        };
        let long = mk(300 * 784 + 3);
        for k in [1, 2, 3, 4, 5, 7, 33, 1000] {
            check_bits(
                &mk(k),
                &long[..k],
                &format!("dist {dist}: first {k} numbers"),
            );
        }
    }
    // Shapes with the same element count give the same numbers.
    let mut a = Generator::new(3);
    let mut b = Generator::new(3);
    let x = a
        .uniform(&g, &[300, 784], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let y = b
        .uniform(&g, &[784 * 300], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    check_bits(&x, &y, "shape independence");
}
