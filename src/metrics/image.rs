//! Image metrics judged by the MNIST [`Classifier`](super::Classifier): which digits appear,
//! how evenly, how confidently, how far the feature distribution is from real digits
//! (Fréchet distance on the classifier's penultimate features — an MNIST-sized FID), and for
//! conditional models whether asking for digit k gives digit k.
//!
//! Generated images are brought to the classifier's input first: RGB is converted to gray
//! (BT.601 luma, which for the MNIST-as-RGB stand-in of `dcgan-celeba` recovers the digit
//! exactly) and other sizes are area-averaged to 28×28 (64×64 presets). The real reference
//! is passed through the same conversion, so resampling does not count against a generator.

use super::classifier::{Judgement, CLASSES, FEATURES, SIDE};
use super::frechet::{frechet_distance, Gaussian};
use super::toy::kl_to_uniform;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The image metrics of one set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageMetrics {
    pub samples: usize,
    /// The digits the run trains on (all ten unless the preset keeps only some).
    pub targets: Vec<u32>,
    /// Target digits predicted for at least one sample.
    pub classes_covered: usize,
    /// KL(q‖uniform over the targets) of the predicted classes of the samples predicted as a
    /// target digit, in nats (same convention as the toy metric: empty classes add 0); None
    /// when no sample is predicted as a target digit.
    pub class_kl: Option<f64>,
    /// Percentage of samples predicted as a digit the run does not train on.
    pub off_target_pct: f64,
    /// Mean of the largest softmax probability, in percent.
    pub confidence_pct: f64,
    /// Fréchet distance between the features of the samples and of the real reference.
    pub frechet: f64,
    /// Conditional models: percentage of samples classified as the digit asked for.
    pub conditional_accuracy_pct: Option<f64>,
    /// Predicted class counts, digits 0–9.
    pub class_counts: Vec<usize>,
}

/// Computes the metrics of `judged` samples. `targets`: the digits the run trains on;
/// `asked`: for conditional models, the digit each sample was generated for; `real`: the
/// Gaussian of the real reference's features.
pub fn image_metrics(
    judged: &Judgement,
    targets: &[u32],
    asked: Option<&[u32]>,
    real: &Gaussian,
) -> Result<ImageMetrics> {
    let n = judged.len();
    if n == 0 {
        return Err(Error::Config(
            "image metrics need at least one sample".into(),
        ));
    }
    let pred = judged.predictions();
    let mut class_counts = vec![0usize; CLASSES];
    for &p in &pred {
        class_counts[p] += 1;
    }
    let on_target: Vec<usize> = targets
        .iter()
        .map(|&t| class_counts.get(t as usize).copied().unwrap_or(0))
        .collect();
    let off_target = n - on_target.iter().sum::<usize>();
    let confidence = judged
        .probs
        .chunks(CLASSES)
        .map(|p| p.iter().copied().fold(0.0f32, f32::max) as f64)
        .sum::<f64>()
        / n as f64;
    let conditional_accuracy_pct = match asked {
        Some(a) if a.len() != n => {
            return Err(Error::shape(
                "image metrics",
                format!("{} requested labels for {n} samples", a.len()),
            ))
        }
        Some(a) => {
            let right = pred
                .iter()
                .zip(a)
                .filter(|(p, l)| **p == **l as usize)
                .count();
            Some(100.0 * right as f64 / n as f64)
        }
        None => None,
    };
    let fake = Gaussian::fit(&judged.features, FEATURES);
    Ok(ImageMetrics {
        samples: n,
        targets: targets.to_vec(),
        classes_covered: on_target.iter().filter(|&&c| c > 0).count(),
        class_kl: kl_to_uniform(&on_target),
        off_target_pct: 100.0 * off_target as f64 / n as f64,
        confidence_pct: 100.0 * confidence,
        frechet: frechet_distance(&fake, real),
        conditional_accuracy_pct,
        class_counts,
    })
}

/// Brings images `[N, C, H, W]` in [−1, 1] to the classifier's `[N, 1, 28, 28]`: gray as it
/// is, RGB by BT.601 luma, other sizes by area averaging. 28×28 gray images stay on the GPU.
pub fn to_classifier_input(x: &Tensor) -> Result<Tensor> {
    let &[n, c, h, w] = x.shape() else {
        return Err(Error::shape(
            "classifier input",
            format!("expected an image batch [N, C, H, W], got {:?}", x.shape()),
        ));
    };
    if c == 1 && h == SIDE && w == SIDE {
        return Ok(x.clone());
    }
    if c != 1 && c != 3 {
        return Err(Error::shape(
            "classifier input",
            format!("images with {c} channels are neither gray nor RGB"),
        ));
    }
    let data = x.to_vec()?;
    let (rows, cols) = (area_weights(h, SIDE), area_weights(w, SIDE));
    let mut out = Vec::with_capacity(n * SIDE * SIDE);
    let mut gray = vec![0.0f32; h * w];
    for img in data.chunks(c * h * w) {
        if c == 3 {
            let (r, rest) = img.split_at(h * w);
            let (g, b) = rest.split_at(h * w);
            for (i, v) in gray.iter_mut().enumerate() {
                *v = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
            }
        } else {
            gray.copy_from_slice(img);
        }
        out.extend(resample(&gray, w, &rows, &cols));
    }
    Tensor::from_slice(x.gpu(), &out, &[n, 1, SIDE, SIDE])
}

/// For each of `to` output cells, the (input index, weight) pairs of area averaging from
/// `from` cells: output cell i covers [i·from/to, (i+1)·from/to) of the input, and each input
/// cell contributes its overlap with that interval, normalised to sum to 1.
fn area_weights(from: usize, to: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = from as f64 / to as f64;
    (0..to)
        .map(|i| {
            let (a, b) = (i as f64 * scale, (i + 1) as f64 * scale);
            (a.floor() as usize..(b.ceil() as usize).min(from))
                .map(|j| {
                    let overlap = (b.min(j as f64 + 1.0) - a.max(j as f64)).max(0.0);
                    (j, (overlap / scale) as f32)
                })
                .filter(|&(_, wt)| wt > 0.0)
                .collect()
        })
        .collect()
}

/// Separable resampling of one `[h, w]` plane with row and column weights.
fn resample(
    src: &[f32],
    w: usize,
    rows: &[Vec<(usize, f32)>],
    cols: &[Vec<(usize, f32)>],
) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * cols.len());
    for r in rows {
        for c in cols {
            let mut acc = 0.0f32;
            for &(y, wy) in r {
                let line = &src[y * w..(y + 1) * w];
                acc += wy * c.iter().map(|&(x, wx)| wx * line[x]).sum::<f32>();
            }
            out.push(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_weights_sum_to_one_and_cover_the_input() {
        for (from, to) in [(64, 28), (28, 28), (56, 28), (14, 28)] {
            let w = area_weights(from, to);
            assert_eq!(w.len(), to);
            let mut per_input = vec![0.0f64; from];
            for cell in &w {
                let s: f32 = cell.iter().map(|p| p.1).sum();
                assert!((s - 1.0).abs() < 1e-5, "{from}→{to}: weights sum to {s}");
                for &(j, wt) in cell {
                    per_input[j] += wt as f64;
                }
            }
            // Every input cell is used with total weight to/from (area is conserved).
            for v in per_input {
                assert!(
                    (v - to as f64 / from as f64).abs() < 1e-5,
                    "{from}→{to}: {v}"
                );
            }
        }
    }

    #[test]
    fn halving_averages_two_by_two_blocks() {
        let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let (r, c) = (area_weights(4, 2), area_weights(4, 2));
        assert_eq!(resample(&src, 4, &r, &c), vec![2.5, 4.5, 10.5, 12.5]);
    }
}
