//! Convolutional GANs: DCGAN at 64×64 and 28×28, the TensorFlow CelebA DCGAN, the
//! instance-normalised WGAN-GP of the PyTorch book, and SAGAN (SPEC §5–9).

use super::net::Net;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::nn::{
    Act, Activation, BatchNorm, Conv2d, ConvSpec, ConvTranspose2d, Init, InstanceNorm, Linear,
    NormConfig, Reshape, SelfAttention, Sequential,
};
use crate::ops::Generator;

const DCGAN_INIT: Init = Init::Normal(0.02);

fn bn_dcgan(gpu: &Gpu, c: usize, rng: &mut Generator) -> Result<BatchNorm> {
    BatchNorm::new_normal(gpu, c, NormConfig::pytorch(), 0.02, rng)
}

/// Options of the 64×64 family.
pub struct Opts64 {
    pub z: usize,
    pub channels: usize,
    /// SAGAN: spectral norm and self-attention.
    pub sagan: bool,
}

/// `dcgan-64` and `sagan-64` (PyTorch tutorial): z (z,1,1) → 4 → 8 → 16 → 32 → 64.
pub fn dcgan64(gpu: &Gpu, o: &Opts64, rng: &mut Generator) -> Result<(Net, Net)> {
    let widths = [o.z, 512, 256, 128, 64];
    let mut g = Sequential::new();
    for (i, w) in widths.windows(2).enumerate() {
        let spec = if i == 0 {
            ConvSpec::new(w[0], w[1], 4, 1, 0)
        } else {
            ConvSpec::new(w[0], w[1], 4, 2, 1)
        };
        let mut layer = ConvTranspose2d::new(gpu, spec, DCGAN_INIT, rng)?;
        if o.sagan {
            layer = layer.spectral_norm(rng)?;
        }
        g.push(layer);
        g.push(bn_dcgan(gpu, w[1], rng)?);
        g.push(Act(Activation::Relu));
        // SAGAN: attention after layer 3 (128 ch, 16×16) and layer 4 (64 ch, 32×32).
        if o.sagan && i >= 2 {
            g.push(SelfAttention::new(gpu, w[1], DCGAN_INIT, rng)?);
        }
    }
    g.push(ConvTranspose2d::new(
        gpu,
        ConvSpec::new(64, o.channels, 4, 2, 1),
        DCGAN_INIT,
        rng,
    )?);
    g.push(Act(Activation::Tanh));

    let widths = [o.channels, 64, 128, 256, 512];
    let mut d = Sequential::new();
    for (i, w) in widths.windows(2).enumerate() {
        let mut layer = Conv2d::new(gpu, ConvSpec::new(w[0], w[1], 4, 2, 1), DCGAN_INIT, rng)?;
        if o.sagan {
            layer = layer.spectral_norm(rng)?;
        }
        d.push(layer);
        d.push(Act(Activation::LeakyRelu(0.1)));
        // SAGAN: attention after layer 3 (256 ch, 8×8) and layer 4 (512 ch, 4×4).
        if o.sagan && i >= 2 {
            d.push(SelfAttention::new(gpu, w[1], DCGAN_INIT, rng)?);
        }
    }
    d.push(Conv2d::new(
        gpu,
        ConvSpec::new(512, 1, 4, 1, 0),
        DCGAN_INIT,
        rng,
    )?);
    let image = [o.channels, 64, 64];
    Ok((Net::new(g, &[o.z, 1, 1], &image), Net::new(d, &image, &[1])))
}

/// `dcgan-celeba` (TensorFlow): Dense(4·4·1024) → (4, 4, 1024) → ConvT "same" k4 s2 ×4 with
/// BN + LReLU(0.2) → tanh; D Conv "same" k4 s2 ×4 (BN on the middle two) → Flatten → Dense(1).
/// Keras initialisation and batch-norm defaults.
pub fn dcgan_celeba(
    gpu: &Gpu,
    z: usize,
    channels: usize,
    rng: &mut Generator,
) -> Result<(Net, Net)> {
    let k = Init::Keras;
    let bn = NormConfig::keras();
    let mut g = Sequential::new()
        .layer(Linear::new(gpu, z, 4 * 4 * 1024, true, k, rng)?)
        .layer(Reshape(vec![1024, 4, 4]));
    for w in [[1024, 512], [512, 256], [256, 128]] {
        g.push(ConvTranspose2d::new(
            gpu,
            ConvSpec::same(w[0], w[1], 4, 2),
            k,
            rng,
        )?);
        g.push(BatchNorm::new(gpu, w[1], bn)?);
        g.push(Act(Activation::LeakyRelu(0.2)));
    }
    g.push(ConvTranspose2d::new(
        gpu,
        ConvSpec::same(128, channels, 4, 2),
        k,
        rng,
    )?);
    g.push(Act(Activation::Tanh));

    let mut d = Sequential::new()
        .layer(Conv2d::new(
            gpu,
            ConvSpec::same(channels, 64, 4, 2),
            k,
            rng,
        )?)
        .layer(Act(Activation::LeakyRelu(0.2)));
    for w in [[64, 128], [128, 256]] {
        d.push(Conv2d::new(gpu, ConvSpec::same(w[0], w[1], 4, 2), k, rng)?);
        d.push(BatchNorm::new(gpu, w[1], bn)?);
        d.push(Act(Activation::LeakyRelu(0.2)));
    }
    d.push(Conv2d::new(gpu, ConvSpec::same(256, 1, 4, 2), k, rng)?);
    d.push(Reshape::flatten());
    d.push(Linear::new(gpu, 16, 1, true, k, rng)?);
    let image = [channels, 64, 64];
    Ok((Net::new(g, &[z], &image), Net::new(d, &image, &[1])))
}

/// Normalisation of the 28×28 family.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Norm28 {
    Batch,
    Instance,
}

/// `dcgan-28` (BatchNorm) and `wgan-gp-28` (InstanceNorm, no affine) from the PyTorch book:
/// z (z,1,1) → 4 → 7 → 14 → 28, no biases, LReLU(0.2); D 28 → 14 → 7 → 4 → 1.
/// `critic_sigmoid` keeps the book's sigmoid on D's output (otherwise it lives in the loss or,
/// for WGAN, is absent).
pub fn dcgan28(
    gpu: &Gpu,
    z: usize,
    norm: Norm28,
    critic_sigmoid: bool,
    rng: &mut Generator,
) -> Result<(Net, Net)> {
    let p = Init::PyTorch;
    let norm_layer = |c: usize| -> Result<Box<dyn crate::nn::Module>> {
        Ok(match norm {
            Norm28::Batch => Box::new(BatchNorm::new(gpu, c, NormConfig::pytorch())?),
            Norm28::Instance => Box::new(InstanceNorm::new(c)),
        })
    };
    let gspecs = [
        ConvSpec::new(z, 128, 4, 1, 0).no_bias(),
        ConvSpec::new(128, 64, 3, 2, 1).no_bias(),
        ConvSpec::new(64, 32, 4, 2, 1).no_bias(),
    ];
    let mut g = Sequential::new();
    for s in gspecs {
        g.push(ConvTranspose2d::new(gpu, s, p, rng)?);
        g.push_boxed(norm_layer(s.cout)?);
        g.push(Act(Activation::LeakyRelu(0.2)));
    }
    g.push(ConvTranspose2d::new(
        gpu,
        ConvSpec::new(32, 1, 4, 2, 1).no_bias(),
        p,
        rng,
    )?);
    g.push(Act(Activation::Tanh));

    let mut d = Sequential::new()
        .layer(Conv2d::new(
            gpu,
            ConvSpec::new(1, 32, 4, 2, 1).no_bias(),
            p,
            rng,
        )?)
        .layer(Act(Activation::LeakyRelu(0.2)));
    for s in [
        ConvSpec::new(32, 64, 4, 2, 1).no_bias(),
        ConvSpec::new(64, 128, 3, 2, 1).no_bias(),
    ] {
        d.push(Conv2d::new(gpu, s, p, rng)?);
        d.push_boxed(norm_layer(s.cout)?);
        d.push(Act(Activation::LeakyRelu(0.2)));
    }
    d.push(Conv2d::new(
        gpu,
        ConvSpec::new(128, 1, 4, 1, 0).no_bias(),
        p,
        rng,
    )?);
    if critic_sigmoid {
        d.push(Act(Activation::Sigmoid));
    }
    let image = [1, 28, 28];
    Ok((Net::new(g, &[z, 1, 1], &image), Net::new(d, &image, &[1])))
}
