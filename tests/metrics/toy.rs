//! Mode counts, high-quality fraction and KL of the 2-D toy metrics on constructed samples.

use super::*;

use tapegan::metrics::toy::{kl_to_uniform, toy_metrics, STRICT_COUNT};

/// The 25 centres of the WGAN-GP toy (grid / 2.828) and its σ.
pub(crate) fn grid() -> (Vec<[f32; 2]>, f64) {
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
