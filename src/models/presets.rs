//! The named presets of SPEC.md: each one's default hyper-parameters and its networks.

use std::sync::OnceLock;

use super::dcgan::{self, Norm28, Opts64};
use super::net::Net;
use super::{mlp, toy};
use crate::error::{Error, Result};
use crate::gan::config::{GpEpsilon, LossKind, Noise, TrainConfig};
use crate::gpu::Gpu;
use crate::ops::Generator;

/// A named training set-up.
pub struct Preset {
    pub name: &'static str,
    pub summary: &'static str,
    pub config: TrainConfig,
}

/// Defaults shared by all presets; each preset overrides what SPEC states for it.
fn base(name: &str) -> TrainConfig {
    TrainConfig {
        preset: name.to_string(),
        data: "mnist".into(),
        seed: 0,
        batch: 64,
        steps: 0,
        epochs: 100,
        z_dim: 100,
        noise: Noise::Normal,
        lr_g: 2e-4,
        lr_d: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        adam_eps: 1e-8,
        keras_adam: false,
        decay: 0.0,
        loss: LossKind::Bce,
        shared_forward: false,
        n_critic: 1,
        same_real_batch: true,
        gp_lambda: 10.0,
        gp_epsilon: GpEpsilon::PerSample,
        clip: 0.0,
        label_noise: false,
        critic_sigmoid: false,
        image_size: 0,
        channels: 1,
        digits: Vec::new(),
        limit: 0,
        toy_std: 0.05,
        toy_scale: 1.0,
        hidden: 128,
        sample_every: 500,
        log_every: 10,
        checkpoint_every: 1000,
        eval_every: 0,
        samples: 64,
    }
}

/// Keras' Adam with the given settings.
fn keras(mut c: TrainConfig) -> TrainConfig {
    c.keras_adam = true;
    c.adam_eps = 1e-7;
    c
}

fn all() -> Vec<Preset> {
    let mut v = Vec::new();
    let mut p = |name: &'static str, summary: &'static str, f: &dyn Fn(&mut TrainConfig)| {
        let mut c = base(name);
        f(&mut c);
        v.push(Preset {
            name,
            summary,
            config: c,
        });
    };
    p(
        "mlp-gan",
        "basic GAN, MLPs on MNIST, 2-way softmax D, one shared forward per update (Keras)",
        &|c| {
            *c = keras(c.clone());
            c.batch = 300;
            c.noise = Noise::Uniform;
            c.lr_g = 1e-4;
            c.lr_d = 4e-5;
            c.beta1 = 0.9;
            c.loss = LossKind::SoftmaxCe;
            c.shared_forward = true;
            c.epochs = 500;
        },
    );
    p(
        "mlp-gan-small",
        "textbook vanilla GAN, 20-d noise, one hidden layer each, BCE (PyTorch book)",
        &|c| {
            c.z_dim = 20;
            c.noise = Noise::Uniform;
            c.lr_g = 1e-3;
            c.lr_d = 1e-3;
            c.beta1 = 0.9;
        },
    );
    p(
        "mlp-wgan-gp",
        "WGAN-GP with MLPs on MNIST, per-element epsilon as in the tutorial (Keras)",
        &|c| {
            *c = keras(c.clone());
            c.batch = 300;
            c.noise = Noise::Uniform;
            c.lr_g = 1e-4;
            c.lr_d = 1e-4;
            c.beta1 = 0.0;
            c.beta2 = 0.9;
            c.loss = LossKind::WganGp;
            c.n_critic = 5;
            c.gp_epsilon = GpEpsilon::PerElement;
            c.epochs = 300;
        },
    );
    p(
        "mlp-cwgan-gp",
        "conditional WGAN-GP: label embeddings in G and critic; sample by digit (Keras)",
        &|c| {
            *c = keras(c.clone());
            c.batch = 300;
            c.noise = Noise::Uniform;
            c.lr_g = 1e-4;
            c.lr_d = 1e-4;
            c.beta1 = 0.0;
            c.beta2 = 0.9;
            c.loss = LossKind::WganGp;
            c.n_critic = 5;
            c.gp_epsilon = GpEpsilon::PerElement;
            c.epochs = 300;
            c.samples = 100;
        },
    );
    p(
        "dcgan-64",
        "DCGAN at 64x64, digits 7 and 8 upscaled from 28x28, BCE, DCGAN-paper Adam",
        &|c| {
            c.z_dim = 20;
            c.image_size = 64;
            c.digits = vec![7, 8];
            c.epochs = 200;
        },
    );
    p(
        "dcgan-celeba",
        "TensorFlow DCGAN for 64x64 RGB faces with label noise; MNIST as RGB stands in by default",
        &|c| {
            *c = keras(c.clone());
            c.batch = 128;
            c.image_size = 64;
            c.channels = 3;
            c.label_noise = true;
            c.shared_forward = true;
            c.epochs = 50;
        },
    );
    p(
        "dcgan-28",
        "DCGAN for 28x28 MNIST (PyTorch book), BCE, Adam(2e-4, 0.5)",
        &|_c| {},
    );
    p(
        "wgan-gp-28",
        "convolutional WGAN-GP with InstanceNorm (PyTorch book), lambda 10, n_critic 5",
        &|c| {
            c.loss = LossKind::WganGp;
            c.lr_g = 1e-4;
            c.lr_d = 1e-4;
            c.beta1 = 0.0;
            c.beta2 = 0.9;
            c.n_critic = 5;
        },
    );
    p(
        "sagan-64",
        "SAGAN: DCGAN-64 with spectral norm, self-attention and hinge loss",
        &|c| {
            c.z_dim = 20;
            c.image_size = 64;
            c.digits = vec![7, 8];
            c.loss = LossKind::Hinge;
            c.lr_g = 1e-4;
            c.lr_d = 4e-4;
            c.beta1 = 0.0;
            c.beta2 = 0.9;
            c.epochs = 300;
        },
    );
    p(
        "toy-wgan-clip",
        "WGAN with weight clipping on 25 Gaussians, ELU MLPs, Keras Adam with time decay",
        &|c| {
            *c = keras(c.clone());
            c.data = "grid25".into();
            c.batch = 512;
            c.z_dim = 4;
            c.noise = Noise::Uniform;
            c.lr_g = 1e-4;
            c.lr_d = 1e-4;
            c.beta1 = 0.5;
            c.decay = 1e-5;
            c.loss = LossKind::Wgan;
            c.clip = 0.1;
            c.epochs = 1000;
            c.hidden = 128;
            c.samples = 2500;
            c.sample_every = 2000;
        },
    );
    p(
        "toy-wgan-gp",
        "WGAN-GP toy of the paper (gan_toy.py): ReLU MLPs of 512, lambda 0.1, grid / 2.828",
        &|c| {
            c.data = "grid25".into();
            c.batch = 256;
            c.z_dim = 2;
            c.lr_g = 1e-4;
            c.lr_d = 1e-4;
            c.beta1 = 0.5;
            c.beta2 = 0.9;
            c.loss = LossKind::WganGp;
            c.gp_lambda = 0.1;
            c.n_critic = 5;
            c.same_real_batch = false;
            c.steps = 100_000;
            c.hidden = 512;
            c.toy_scale = 2.828;
            c.samples = 2500;
            c.sample_every = 2000;
        },
    );
    v
}

/// Every preset, in SPEC order.
pub fn presets() -> &'static [Preset] {
    static ALL: OnceLock<Vec<Preset>> = OnceLock::new();
    ALL.get_or_init(all)
}

/// The preset named `name`, or an error listing the valid names.
pub fn find(name: &str) -> Result<&'static Preset> {
    presets().iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = presets().iter().map(|p| p.name).collect();
        Error::Config(format!(
            "unknown preset '{name}'; valid presets: {}",
            names.join(", ")
        ))
    })
}

/// Builds the generator and discriminator of `cfg.preset`.
pub fn build(gpu: &Gpu, cfg: &TrainConfig, rng: &mut Generator) -> Result<(Net, Net)> {
    let z = cfg.z_dim;
    match cfg.preset.as_str() {
        "mlp-gan" => mlp::mlp_gan(gpu, z, rng),
        "mlp-gan-small" => mlp::mlp_gan_small(gpu, z, rng),
        "mlp-wgan-gp" => mlp::mlp_wgan_gp(gpu, z, false, rng),
        "mlp-cwgan-gp" => mlp::mlp_wgan_gp(gpu, z, true, rng),
        "dcgan-64" => dcgan::dcgan64(
            gpu,
            &Opts64 {
                z,
                channels: cfg.channels,
                sagan: false,
            },
            rng,
        ),
        "sagan-64" => dcgan::dcgan64(
            gpu,
            &Opts64 {
                z,
                channels: cfg.channels,
                sagan: true,
            },
            rng,
        ),
        "dcgan-celeba" => dcgan::dcgan_celeba(gpu, z, cfg.channels, rng),
        "dcgan-28" => dcgan::dcgan28(gpu, z, Norm28::Batch, false, rng),
        "wgan-gp-28" => dcgan::dcgan28(gpu, z, Norm28::Instance, cfg.critic_sigmoid, rng),
        "toy-wgan-clip" => toy::toy_elu(gpu, z, cfg.hidden, rng),
        "toy-wgan-gp" => toy::toy_relu(gpu, z, cfg.hidden, rng),
        other => Err(find(other)
            .err()
            .unwrap_or_else(|| Error::Config(format!("preset '{other}' has no builder")))),
    }
}

/// Image side length a preset's networks expect (None for 2-D toys).
pub fn image_side(preset: &str) -> Option<usize> {
    match preset {
        "toy-wgan-clip" | "toy-wgan-gp" => None,
        "dcgan-64" | "sagan-64" | "dcgan-celeba" => Some(64),
        _ => Some(28),
    }
}
