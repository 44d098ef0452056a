//! Mode-collapse metrics of the 2-D toy mixtures, as VEEGAN (Srivastava et al., 2017) and
//! PacGAN (Lin et al., 2018) measure them on the 25-Gaussian grid.
//!
//! Protocol: draw at least 2,500 samples from the generator. With σ the standard deviation
//! of every mixture component (after scaling: `toy_std / toy_scale`), a sample is *high
//! quality* (HQ) when it lies within 3σ (Euclidean distance) of its nearest mode centre.
//! A mode is *captured* when at least one HQ sample has it as its nearest centre; the
//! stricter count asks for at least [`STRICT_COUNT`] HQ samples (the threshold the
//! WGAN-GP toy comparison in SPEC.md §11 quotes).
//!
//! Reverse KL: with K modes, q_k = (HQ samples nearest to mode k) / (all HQ samples) is the
//! generator's empirical distribution over the modes and p_k = 1/K the true (uniform) one;
//! the metric is KL(q‖p) = Σ_k q_k ln(q_k / p_k) = ln K − H(q), in nats. Modes without HQ
//! samples have q_k = 0 and contribute 0 (the convention 0·ln 0 = 0), which is why this
//! direction is finite even under mode collapse: it is 0 when every mode receives the same
//! share and ln K (3.22 for 25 modes) when all HQ samples sit on one mode. Samples that are
//! not HQ do not enter q at all (the % HQ reports them). With no HQ sample at all q is
//! undefined and the KL is reported as missing (`None`).

/// HQ samples a mode needs for the strict count.
pub const STRICT_COUNT: usize = 20;

/// High-quality radius in units of the component standard deviation.
pub const HQ_SIGMAS: f64 = 3.0;

/// The toy metrics of one set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ToyMetrics {
    /// Samples judged.
    pub samples: usize,
    /// Modes of the mixture (K).
    pub modes: usize,
    /// Modes with at least one HQ sample.
    pub modes_captured: usize,
    /// Modes with at least [`STRICT_COUNT`] HQ samples.
    pub modes_captured_strict: usize,
    /// Percentage of samples within 3σ of their nearest centre.
    pub high_quality_pct: f64,
    /// KL(q‖uniform) of the HQ samples over the modes, in nats; None without HQ samples.
    pub reverse_kl: Option<f64>,
    /// HQ samples per mode, in the order of the centres.
    pub hq_per_mode: Vec<usize>,
}

/// Judges 2-D `points` against the mode `centres` of a mixture whose components have
/// standard deviation `sigma` (in the same, already scaled, units as the points).
///
/// Non-finite points (a diverged generator) count as samples that are not high quality.
pub fn toy_metrics(points: &[[f32; 2]], centres: &[[f32; 2]], sigma: f64) -> ToyMetrics {
    let radius = HQ_SIGMAS * sigma;
    let mut hq_per_mode = vec![0usize; centres.len()];
    for p in points {
        if let Some((k, d)) = nearest(p, centres) {
            if d <= radius {
                hq_per_mode[k] += 1;
            }
        }
    }
    let hq: usize = hq_per_mode.iter().sum();
    ToyMetrics {
        samples: points.len(),
        modes: centres.len(),
        modes_captured: hq_per_mode.iter().filter(|&&c| c >= 1).count(),
        modes_captured_strict: hq_per_mode.iter().filter(|&&c| c >= STRICT_COUNT).count(),
        high_quality_pct: 100.0 * hq as f64 / points.len().max(1) as f64,
        reverse_kl: kl_to_uniform(&hq_per_mode),
        hq_per_mode,
    }
}

/// Index of the centre nearest to `p` and its distance; None for a non-finite point or no
/// centres.
fn nearest(p: &[f32; 2], centres: &[[f32; 2]]) -> Option<(usize, f64)> {
    let (x, y) = (p[0] as f64, p[1] as f64);
    if !(x.is_finite() && y.is_finite()) {
        return None;
    }
    centres
        .iter()
        .enumerate()
        .map(|(k, c)| (k, (x - c[0] as f64).hypot(y - c[1] as f64)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// KL(q‖uniform) in nats of the histogram `counts` over `counts.len()` bins, with
/// q = counts / Σcounts and empty bins contributing 0; None when every count is 0.
///
/// Shared with the image metrics (histogram of predicted classes).
pub fn kl_to_uniform(counts: &[usize]) -> Option<f64> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let k = counts.len() as f64;
    let kl = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let q = c as f64 / total as f64;
            q * (q * k).ln()
        })
        .sum::<f64>();
    // Rounding can leave −1e−17 for an exactly uniform histogram.
    Some(kl.max(0.0))
}
