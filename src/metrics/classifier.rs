//! The MNIST classifier that judges generated digits: a small conv net built from tapegan's
//! own layers and trained by tapegan itself (`tapegan train-classifier`).
//!
//! Architecture (state-dict keys of a `torch.nn.Sequential`, so PyTorch loads the file):
//!
//! ```text
//!   (x + 1)/2 standardised with MNIST's mean 0.1307 and std 0.3081 (a fixed affine map)
//! 0 Conv2d(1 → 16, k3, s2, p1)   28×28 → 14×14
//! 1 ReLU
//! 2 Conv2d(16 → 32, k3, s2, p1)  14×14 → 7×7
//! 3 ReLU
//! 4 Flatten                       1568
//! 5 Linear(1568 → 128)
//! 6 ReLU                          ← the 128-d features of the Fréchet distance
//! 7 Linear(128 → 10)              logits
//! ```
//!
//! It is deliberately small (207k parameters, 0.9 MFLOP per digit): strided convolutions
//! instead of pooling, two conv layers. On a CPU adapter (lavapipe) an epoch over the 9,000
//! shipped digits takes about 20 s and judging 1,000 images well under a second, so the
//! metrics can run inside training. Inputs are images in [−1, 1] (the generators' tanh range
//! and what the data loader serves), shape `[N, 1, 28, 28]`; the standardisation is part of
//! the model, not of the file (PyTorch users apply it before the `Sequential`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::autograd::{grad, no_grad};
use crate::data::{self, DataOptions, DataSpec, HostData, Samples};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{read_state, write_state};
use crate::losses::softmax_cross_entropy;
use crate::nn::{
    load_state_dict, named_parameters, state_dict, Act, Activation, Conv2d, ConvSpec, Ctx, Init,
    Linear, Module, Reshape, Sequential,
};
use crate::ops::Generator;
use crate::optim::{Algorithm, OptimConfig, Optimizer};
use crate::tensor::Tensor;

/// Side of the images the classifier takes.
pub const SIDE: usize = 28;
/// Number of classes (digits).
pub const CLASSES: usize = 10;
/// Width of the penultimate features.
pub const FEATURES: usize = 128;
/// Layers `0..FEATURE_LAYERS` compute the features; the rest maps them to logits.
const FEATURE_LAYERS: usize = 7;
/// Images per forward pass when judging many (bounds activation memory).
const CHUNK: usize = 500;

/// Where the shipped classifier lives (see [`crate::io::shipped_asset`]).
pub fn default_path() -> PathBuf {
    crate::io::shipped_asset("assets/classifier/mnist_classifier.safetensors")
}

/// The classifier network.
pub struct Classifier {
    net: Sequential,
}

/// What the classifier says about a batch of images.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// Softmax probabilities, `[N, CLASSES]` row-major.
    pub probs: Vec<f32>,
    /// Penultimate features, `[N, FEATURES]` row-major.
    pub features: Vec<f32>,
}

impl Judgement {
    pub fn len(&self) -> usize {
        self.probs.len() / CLASSES
    }

    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }

    /// Appends the images of `other`.
    pub fn append(&mut self, other: Judgement) {
        self.probs.extend(other.probs);
        self.features.extend(other.features);
    }

    /// The most probable class of each image.
    pub fn predictions(&self) -> Vec<usize> {
        self.probs
            .chunks(CLASSES)
            .map(|p| {
                (0..CLASSES)
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                    .unwrap_or(0)
            })
            .collect()
    }
}

impl Classifier {
    /// A freshly initialised classifier (PyTorch's default initialisation).
    pub fn new(gpu: &Gpu, rng: &mut Generator) -> Result<Classifier> {
        let conv = |cin, cout, rng: &mut Generator| {
            Conv2d::new(gpu, ConvSpec::new(cin, cout, 3, 2, 1), Init::PyTorch, rng)
        };
        let net = Sequential::new()
            .layer(conv(1, 16, rng)?)
            .layer(Act(Activation::Relu))
            .layer(conv(16, 32, rng)?)
            .layer(Act(Activation::Relu))
            .layer(Reshape::flatten())
            .layer(Linear::new(
                gpu,
                32 * 7 * 7,
                FEATURES,
                true,
                Init::PyTorch,
                rng,
            )?)
            .layer(Act(Activation::Relu))
            .layer(Linear::new(
                gpu,
                FEATURES,
                CLASSES,
                true,
                Init::PyTorch,
                rng,
            )?);
        Ok(Classifier { net })
    }

    /// Loads a classifier saved by [`Classifier::save`]; the error says how to rebuild a
    /// missing one.
    pub fn load(gpu: &Gpu, path: &Path) -> Result<Classifier> {
        if !path.is_file() {
            return Err(Error::Data(format!(
                "{}: MNIST classifier not found; rebuild it with `tapegan train-classifier --out {}`",
                path.display(),
                path.display()
            )));
        }
        let c = Classifier::new(gpu, &mut Generator::new(0))?;
        let (values, _) = read_state(path)?;
        load_state_dict(&c.net, &values)?;
        Ok(c)
    }

    /// Writes the weights as safetensors (PyTorch `nn.Sequential` keys) with `metadata`.
    pub fn save(&self, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
        write_state(path, &state_dict(&self.net)?, metadata)
    }

    /// One line per layer, for the README and logs.
    pub fn describe(&self) -> String {
        self.net.describe()
    }

    /// The penultimate features `[N, 128]` of images `[N, 1, 28, 28]` in [−1, 1].
    pub fn features(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.net
            .forward_range(&standardize(x)?, ctx, 0, FEATURE_LAYERS)
    }

    /// Logits `[N, 10]` of images `[N, 1, 28, 28]` in [−1, 1] (recorded on the tape when
    /// training).
    pub fn logits(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let f = self.features(x, ctx)?;
        self.head(&f, ctx)
    }

    /// Logits from penultimate features.
    fn head(&self, features: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.net
            .forward_range(features, ctx, FEATURE_LAYERS, self.net.len())
    }

    /// Class probabilities and penultimate features of images `[N, 1, 28, 28]` in [−1, 1],
    /// in evaluation mode, read back to the host.
    pub fn judge(&self, x: &Tensor) -> Result<Judgement> {
        check_input(x)?;
        let n = x.shape()[0];
        let mut rng = Generator::new(0);
        let mut out = Judgement {
            probs: Vec::with_capacity(n * CLASSES),
            features: Vec::with_capacity(n * FEATURES),
        };
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let chunk = x.narrow(0, start, len)?;
            let mut ctx = Ctx::eval(&mut rng);
            let (probs, feats) = no_grad(|| {
                let f = self.features(&chunk, &mut ctx)?;
                Ok((self.head(&f, &mut ctx)?.softmax(-1)?, f))
            })?;
            let mut host = Tensor::read_all(&[&probs, &feats])?.into_iter();
            out.probs.extend(host.next().expect("probs read back"));
            out.features
                .extend(host.next().expect("features read back"));
            start += len;
        }
        Ok(out)
    }

    /// Fraction of `images` whose predicted class is `labels`.
    pub fn accuracy(&self, images: &Tensor, labels: &[u32]) -> Result<f64> {
        let pred = self.judge(images)?.predictions();
        if pred.len() != labels.len() {
            return Err(Error::shape(
                "classifier accuracy",
                format!("{} images but {} labels", pred.len(), labels.len()),
            ));
        }
        let right = pred
            .iter()
            .zip(labels)
            .filter(|(p, l)| **p == **l as usize)
            .count();
        Ok(right as f64 / labels.len().max(1) as f64)
    }
}

/// The classifier as a layer (logits), so the generic state-dict and parameter helpers apply.
impl Module for Classifier {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.logits(x, ctx)
    }

    fn collect(&self, prefix: &str, out: &mut Vec<crate::nn::Named>) {
        self.net.collect(prefix, out)
    }

    fn describe(&self) -> String {
        self.net.describe()
    }
}

/// MNIST's pixel mean and standard deviation on the [0, 1] scale.
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

/// Maps images in [−1, 1] to zero mean and unit variance over MNIST: with a background of
/// −1 the first layer would otherwise see a large constant offset, which slows plain SGD/Adam
/// training of a net without normalisation layers.
fn standardize(x: &Tensor) -> Result<Tensor> {
    // ((x + 1)/2 − mean)/std as one affine map.
    x.affine(0.5 / PIXEL_STD, (0.5 - PIXEL_MEAN) / PIXEL_STD)
}

fn check_input(x: &Tensor) -> Result<()> {
    match x.shape() {
        [_, 1, SIDE, SIDE] => Ok(()),
        s => Err(Error::shape(
            "classifier",
            format!("expects images [N, 1, 28, 28], got {s:?}"),
        )),
    }
}

/// A labelled MNIST split uploaded as floats in [−1, 1], `[N, 1, 28, 28]`.
pub struct Digits {
    pub images: Tensor,
    pub labels: Vec<u32>,
}

/// The shipped held-out split (`t10k`, 1,000 digits), optionally only some digits.
pub fn held_out(gpu: &Gpu, digits: Option<&[u32]>) -> Result<Digits> {
    let spec = DataSpec::Mnist {
        dir: data::default_mnist_dir(),
        test_split: true,
    };
    let opts = DataOptions {
        digits: digits.map(<[u32]>::to_vec),
        ..DataOptions::default()
    };
    upload(gpu, &data::load(&spec, &opts)?)
}

fn upload(gpu: &Gpu, d: &HostData) -> Result<Digits> {
    let Samples::Bytes(bytes) = &d.samples else {
        return Err(Error::Data("MNIST data should be image bytes".into()));
    };
    if d.sample_shape != [1, SIDE, SIDE] {
        return Err(Error::Data(format!(
            "the classifier needs 28×28 grayscale digits, got samples of shape {:?}",
            d.sample_shape
        )));
    }
    let floats: Vec<f32> = bytes.iter().map(|&b| b as f32 / 127.5 - 1.0).collect();
    Ok(Digits {
        images: Tensor::from_slice(gpu, &floats, &[d.count, 1, SIDE, SIDE])?,
        labels: d.labels.clone().unwrap_or_default(),
    })
}

/// Settings of `tapegan train-classifier`.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch: usize,
    /// Adam's learning rate in the first epoch.
    pub lr: f32,
    /// Factor applied to the learning rate after each epoch.
    pub lr_decay: f32,
    /// Random translation of each training digit by up to this many pixels per axis.
    pub shift: usize,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 6,
            batch: 32,
            lr: 1e-3,
            lr_decay: 0.75,
            shift: 1,
            seed: 0,
        }
    }
}

/// Per-epoch progress of [`train`].
pub struct EpochReport {
    pub epoch: usize,
    pub loss: f64,
    pub held_out_accuracy: f64,
    pub seconds: f64,
}

/// Trains a classifier on the shipped training split (9,000 digits) with Adam and softmax
/// cross-entropy, reporting held-out accuracy after each epoch through `progress`.
///
/// Batches are assembled on the host because each digit is shifted by a random offset of up
/// to `shift` pixels: with only 9,000 training digits the net otherwise memorises them
/// (training loss near 0 while held-out accuracy stalls), and translation is the one
/// augmentation that never changes a digit's class.
pub fn train(
    gpu: &Gpu,
    opts: &TrainOptions,
    mut progress: impl FnMut(&EpochReport),
) -> Result<(Classifier, EpochReport)> {
    if opts.epochs == 0 || opts.batch == 0 {
        return Err(Error::Config("epochs and batch must be at least 1".into()));
    }
    let started = Instant::now();
    let spec = DataSpec::Mnist {
        dir: data::default_mnist_dir(),
        test_split: false,
    };
    let train_data = data::load(&spec, &DataOptions::default())?;
    let Samples::Bytes(pixels) = &train_data.samples else {
        return Err(Error::Data("MNIST data should be image bytes".into()));
    };
    let labels = train_data.labels.clone().unwrap_or_default();
    let test = held_out(gpu, None)?;
    let mut rng = Generator::new(opts.seed);
    let clf = Classifier::new(gpu, &mut rng.fork(1))?;
    let mut opt = Optimizer::new(
        named_parameters(&clf.net),
        OptimConfig::new(Algorithm::adam(0.9, 0.999), opts.lr),
    )?;
    let params = opt.params();
    let refs: Vec<&Tensor> = params.iter().collect();
    let mut host_rng = StdRng::seed_from_u64(opts.seed);
    let mut order: Vec<usize> = (0..train_data.count).collect();
    let mut last = None;
    for epoch in 1..=opts.epochs {
        opt.config.lr = opts.lr * opts.lr_decay.powi(epoch as i32 - 1);
        order.shuffle(&mut host_rng);
        // Losses stay on the GPU (detached, so no graph is kept) until the epoch ends.
        let mut losses = Vec::with_capacity(order.len() / opts.batch);
        for idx in order.chunks_exact(opts.batch) {
            let x = shifted_batch(pixels, idx, opts.shift, &mut host_rng);
            let x = Tensor::from_slice(gpu, &x, &[idx.len(), 1, SIDE, SIDE])?;
            let y: Vec<u32> = idx.iter().map(|&i| labels[i]).collect();
            let y = Tensor::from_u32(gpu, &y, &[idx.len()])?;
            let mut ctx = Ctx::train(&mut rng);
            let loss = softmax_cross_entropy(&clf.logits(&x, &mut ctx)?, &y)?;
            let grads = grad(&[&loss], &refs, false)?;
            opt.step(&grads)?;
            losses.push(loss.detach());
        }
        let host = Tensor::read_all(&losses.iter().collect::<Vec<_>>())?;
        let loss = host.iter().map(|v| v[0] as f64).sum::<f64>() / host.len().max(1) as f64;
        if !loss.is_finite() {
            return Err(Error::NonFinite(format!(
                "classifier training diverged in epoch {epoch} (loss {loss}); lower the learning rate"
            )));
        }
        let report = EpochReport {
            epoch,
            loss,
            held_out_accuracy: clf.accuracy(&test.images, &test.labels)?,
            seconds: started.elapsed().as_secs_f64(),
        };
        progress(&report);
        last = Some(report);
    }
    Ok((clf, last.expect("at least one epoch")))
}

/// Digits `idx` of `pixels` as floats in [−1, 1], each translated by a random (dx, dy) in
/// [−shift, shift]²; pixels shifted in from outside are background.
fn shifted_batch(pixels: &[u8], idx: &[usize], shift: usize, rng: &mut StdRng) -> Vec<f32> {
    let plane = SIDE * SIDE;
    let s = shift as isize;
    let mut out = vec![-1.0f32; idx.len() * plane];
    for (dst, &i) in out.chunks_mut(plane).zip(idx) {
        let src = &pixels[i * plane..(i + 1) * plane];
        let (dx, dy) = if s > 0 {
            (
                rng.random_range(-s as i64..=s as i64) as isize,
                rng.random_range(-s as i64..=s as i64) as isize,
            )
        } else {
            (0, 0)
        };
        for y in 0..SIDE as isize {
            let sy = y - dy;
            if !(0..SIDE as isize).contains(&sy) {
                continue;
            }
            for x in 0..SIDE as isize {
                let sx = x - dx;
                if (0..SIDE as isize).contains(&sx) {
                    dst[(y * SIDE as isize + x) as usize] =
                        src[(sy * SIDE as isize + sx) as usize] as f32 / 127.5 - 1.0;
                }
            }
        }
    }
    out
}
