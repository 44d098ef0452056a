//! Measuring what a GAN has learned, beyond its losses.
//!
//! - [`toy`]: the 2-D mixtures — modes captured, % high-quality samples and the reverse KL of
//!   the samples over the modes (the VEEGAN/PacGAN protocol on the 25-Gaussian grid).
//! - [`classifier`]: a small MNIST conv net, trained by tapegan itself and shipped in
//!   `assets/classifier/`, whose predictions and penultimate features judge digits.
//! - [`image`]: digit coverage, KL of the predicted digits to uniform, classifier confidence,
//!   Fréchet distance to held-out digits ([`frechet`]) and, for conditional models, whether
//!   the digit asked for is the digit drawn.
//! - [`report`]: the table, `metrics.json`, and during training `metrics.csv` with charts.
//!
//! [`Evaluator`] picks what applies to a run from its data set: toy metrics for `grid25` and
//! `ring8`, image metrics for MNIST (also as 64×64 or RGB), and nothing — said in the report
//! — for photographs (`images:DIR`), which a digit classifier cannot judge.
//!
//! During training the metrics are computed every `eval_every` generator steps and after
//! the last step; `eval_every = 0` (every preset's default) never computes them during
//! training, and `tapegan eval --run DIR` measures any checkpoint afterwards.

pub mod classifier;
pub mod frechet;
pub mod image;
pub mod report;
pub mod toy;

use std::path::{Path, PathBuf};

pub use classifier::Classifier;
pub use report::{record, Histogram, Kind, Report};

use crate::data::{self, DataOptions, DataSpec, Samples};
use crate::error::{Error, Result};
use crate::gan::checkpoint::{checkpoint_dir, GENERATOR};
use crate::gan::outputs::{generate, noise};
use crate::gan::TrainConfig;
use crate::gpu::Gpu;
use crate::models::Net;
use crate::ops::Generator;
use crate::tensor::Tensor;
use frechet::Gaussian;

/// Samples the VEEGAN/PacGAN toy protocol draws.
pub const TOY_SAMPLES: usize = 2500;
/// Generated digits judged by default.
pub const IMAGE_SAMPLES: usize = 1000;
/// Most samples one evaluation judges (the toy metrics keep every point on the host).
pub const MAX_EVAL_SAMPLES: usize = 100_000;
/// Random stream of evaluation noise (independent of training and of sample grids).
const EVAL_STREAM: u64 = 0x4556_414C;
/// Real digits at most in the Fréchet reference (all of a full MNIST test split).
const REAL_LIMIT: usize = 10_000;

/// What is needed to evaluate one run's generator, prepared once.
pub enum Evaluator {
    Toy {
        centres: Vec<[f32; 2]>,
        sigma: f64,
    },
    Digits {
        classifier: Classifier,
        /// Features of the real reference: the held-out split, prepared like the training
        /// data (size, channels, digits) and then like the samples.
        real: Gaussian,
        real_count: usize,
        targets: Vec<u32>,
    },
    NotApplicable(String),
}

impl Evaluator {
    /// Prepares the evaluation of runs configured as `cfg` (loads the classifier and judges
    /// the real digits once, for image presets).
    pub fn new(gpu: &Gpu, cfg: &TrainConfig) -> Result<Evaluator> {
        let spec: DataSpec = cfg.data.parse()?;
        match spec {
            DataSpec::Mixture(m) => {
                let s = cfg.toy_scale as f64;
                Ok(Evaluator::Toy {
                    centres: m
                        .centres()
                        .iter()
                        .map(|c| [(c[0] as f64 / s) as f32, (c[1] as f64 / s) as f32])
                        .collect(),
                    sigma: cfg.toy_std as f64 / s,
                })
            }
            DataSpec::Images { dir } => Ok(Evaluator::NotApplicable(format!(
                "image metrics do not apply: this run trains on photographs ({}), and the metrics \
                 judge samples with an MNIST digit classifier",
                dir.display()
            ))),
            DataSpec::Mnist { dir, .. } => {
                let classifier = Classifier::load(gpu, &classifier::default_path())?;
                let (real, real_count) = held_out_features(gpu, &classifier, cfg, dir)?;
                Ok(Evaluator::Digits {
                    classifier,
                    real,
                    real_count,
                    targets: if cfg.digits.is_empty() {
                        (0..10).collect()
                    } else {
                        cfg.digits.clone()
                    },
                })
            }
        }
    }

    /// Samples judged when none are asked for.
    pub fn default_samples(&self) -> usize {
        match self {
            Evaluator::Toy { .. } => TOY_SAMPLES,
            _ => IMAGE_SAMPLES,
        }
    }

    /// Evaluates `n` samples (default [`Evaluator::default_samples`]) of generator `g` drawn
    /// with noise from `seed`; conditional models are asked for the target digits in turn.
    pub fn evaluate(
        &self,
        gpu: &Gpu,
        cfg: &TrainConfig,
        g: &Net,
        step: u64,
        n: Option<usize>,
        seed: u64,
    ) -> Result<Report> {
        let n = n.unwrap_or_else(|| self.default_samples());
        // The digit metrics' Fréchet distance compares covariances: two samples at least.
        let (min, why) = match self {
            Evaluator::Digits { .. } => (2, "; the Fréchet distance compares covariances"),
            _ => (1, ""),
        };
        if n < min || n > MAX_EVAL_SAMPLES {
            let why = if n < min { why } else { "" };
            return Err(Error::Config(format!(
                "--n must be between {min} and {MAX_EVAL_SAMPLES}, got {n}{why}"
            )));
        }
        let mut report = Report {
            preset: cfg.preset.clone(),
            step,
            seed,
            samples: n,
            kind: Kind::NotApplicable,
            metrics: Vec::new(),
            histogram: None,
            note: None,
        };
        if let Evaluator::NotApplicable(why) = self {
            report.samples = 0;
            report.note = Some(why.clone());
            return Ok(report);
        }
        let mut rng = Generator::new(seed).fork(EVAL_STREAM);
        // Generator batches of the training batch size: a size the run is known to fit.
        let chunk = cfg.batch.clamp(1, 1024);
        let mut asked: Vec<u32> = Vec::new();
        let mut points: Vec<f32> = Vec::new();
        let mut judged = classifier::Judgement::default();
        let mut total: Option<Tensor> = None;
        for start in (0..n).step_by(chunk) {
            let len = chunk.min(n - start);
            let z = noise(gpu, cfg, &mut rng, len)?;
            let labels = match (self, g.classes()) {
                (Evaluator::Digits { targets, .. }, c) if c > 0 => {
                    let l: Vec<u32> = (start..start + len)
                        .map(|i| targets[i % targets.len()])
                        .collect();
                    asked.extend(&l);
                    Some(Tensor::from_u32(gpu, &l, &[len])?)
                }
                _ => None,
            };
            let (x, _) = generate(g, &z, labels.as_ref(), false)?;
            // Scores of NaN samples would look like real numbers (the classifier still picks
            // a digit), so a diverged generator is an error. A running sum on the device
            // tells, read once after the loop (an overflow to infinity needs samples far
            // beyond any real output, and is refused too).
            let s = x.sum_all()?;
            total = Some(match total {
                Some(t) => t.add(&s)?,
                None => s,
            });
            match self {
                Evaluator::Digits { classifier, .. } => {
                    judged.append(classifier.judge(&image::to_classifier_input(&x)?)?)
                }
                _ => points.extend(x.to_vec()?),
            }
        }
        if let Some(t) = total {
            if !t.item()?.is_finite() {
                return Err(crate::gan::sample::non_finite_samples());
            }
        }
        match self {
            Evaluator::Toy { centres, sigma } => {
                let pts: Vec<[f32; 2]> = points.chunks(2).map(|c| [c[0], c[1]]).collect();
                let m = toy::toy_metrics(&pts, centres, *sigma);
                report.kind = Kind::Toy;
                report.metrics = report::toy_rows(&m);
                report.histogram = Some(Histogram {
                    key: "hq_per_mode",
                    label: "high-quality samples per mode",
                    counts: m.hq_per_mode,
                });
                if n < TOY_SAMPLES {
                    report.note = Some(format!(
                        "fewer than the protocol's {TOY_SAMPLES} samples: counts are not comparable"
                    ));
                }
            }
            Evaluator::Digits {
                real,
                real_count,
                targets,
                ..
            } => {
                let asked = (!asked.is_empty()).then_some(asked.as_slice());
                let m = image::image_metrics(&judged, targets, asked, real)?;
                report.kind = Kind::Image;
                report.metrics = report::image_rows(&m);
                report.histogram = Some(Histogram {
                    key: "predicted_digits",
                    label: "samples per predicted digit 0–9",
                    counts: m.class_counts,
                });
                report.note = Some(format!(
                    "Fréchet reference: {real_count} held-out digits, on the classifier's 128-d \
                     penultimate features"
                ));
            }
            Evaluator::NotApplicable(_) => unreachable!("returned above"),
        }
        Ok(report)
    }
}

/// The Gaussian of the classifier features of the held-out split in `dir` (at most
/// [`REAL_LIMIT`] digits), loaded like the run's training data — the same digits, resized to
/// the preset's side and channels — and then brought back to 28×28 gray exactly as the
/// samples are, so that resampling does not count against the generator. Also the count.
fn held_out_features(
    gpu: &Gpu,
    classifier: &Classifier,
    cfg: &TrainConfig,
    dir: PathBuf,
) -> Result<(Gaussian, usize)> {
    let opts = DataOptions {
        image_size: crate::models::presets::image_side(&cfg.preset).unwrap_or(0),
        channels: cfg.channels,
        digits: (!cfg.digits.is_empty()).then(|| cfg.digits.clone()),
        limit: Some(REAL_LIMIT),
        ..DataOptions::default()
    };
    let spec = DataSpec::Mnist {
        dir,
        test_split: true,
    };
    let d = data::load(&spec, &opts)?;
    let Samples::Bytes(bytes) = &d.samples else {
        return Err(Error::Data("MNIST data should be image bytes".into()));
    };
    let per = d.sample_len();
    let mut features = Vec::with_capacity(d.count * classifier::FEATURES);
    // 500 digits at a time bounds the float copy (64×64 RGB digits are 48 KiB each).
    for chunk in bytes.chunks(per * 500) {
        let floats: Vec<f32> = chunk.iter().map(|&b| b as f32 / 127.5 - 1.0).collect();
        let mut shape = vec![chunk.len() / per];
        shape.extend_from_slice(&d.sample_shape);
        let x = Tensor::from_slice(gpu, &floats, &shape)?;
        features.extend(classifier.judge(&image::to_classifier_input(&x)?)?.features);
    }
    Ok((Gaussian::fit(&features, classifier::FEATURES), d.count))
}

/// `tapegan eval`: evaluates the checkpointed generator of the run in `run_dir`.
pub fn evaluate_run(gpu: &Gpu, run_dir: &Path, n: Option<usize>, seed: u64) -> Result<Report> {
    let (cfg, g) = crate::gan::sample::load_generator(gpu, run_dir)?;
    let path = checkpoint_dir(run_dir)?.join(GENERATOR);
    let (_, meta) = crate::io::read_state(&path)?;
    let step = meta.get("step").and_then(|s| s.parse().ok()).unwrap_or(0);
    Evaluator::new(gpu, &cfg)?.evaluate(gpu, &cfg, &g, step, n, seed)
}
