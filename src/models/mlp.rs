//! Fully connected GANs on flattened 28×28 digits (SPEC §1–4).

use super::net::Net;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::nn::{
    Act, Activation, BatchNorm, Dropout, Embedding, Init, Linear, NormConfig, Sequential,
};
use crate::ops::Generator;

const IMAGE: [usize; 3] = [1, 28, 28];
const PIXELS: usize = 784;

/// `mlp-gan` (Keras): G Dense(256) → LReLU(0.3) → BN ×2 → Dense(784) → tanh;
/// D (Dense(128) → LReLU(0.3) → Dropout(0.5)) ×3 → Dense(2) (softmax in the loss).
pub fn mlp_gan(gpu: &Gpu, z: usize, rng: &mut Generator) -> Result<(Net, Net)> {
    let k = Init::Keras;
    let bn = NormConfig::keras();
    let g = Sequential::new()
        .layer(Linear::new(gpu, z, 256, true, k, rng)?)
        .layer(Act(Activation::LeakyRelu(0.3)))
        .layer(BatchNorm::new(gpu, 256, bn)?)
        .layer(Linear::new(gpu, 256, 256, true, k, rng)?)
        .layer(Act(Activation::LeakyRelu(0.3)))
        .layer(BatchNorm::new(gpu, 256, bn)?)
        .layer(Linear::new(gpu, 256, PIXELS, true, k, rng)?)
        .layer(Act(Activation::Tanh));
    let d = critic_mlp(gpu, &[PIXELS, 128, 128, 128], 2, 0.3, k, rng)?;
    Ok((Net::new(g, &[z], &IMAGE), Net::new(d, &[PIXELS], &[2])))
}

/// (Dense → LReLU → Dropout(0.5)) per hidden width, then Dense(out).
fn critic_mlp(
    gpu: &Gpu,
    widths: &[usize],
    out: usize,
    slope: f32,
    init: Init,
    rng: &mut Generator,
) -> Result<Sequential> {
    let mut d = Sequential::new();
    for w in widths.windows(2) {
        d.push(Linear::new(gpu, w[0], w[1], true, init, rng)?);
        d.push(Act(Activation::LeakyRelu(slope)));
        d.push(Dropout::new(0.5)?);
    }
    d.push(Linear::new(
        gpu,
        *widths.last().expect("widths"),
        out,
        true,
        init,
        rng,
    )?);
    Ok(d)
}

/// `mlp-gan-small` (PyTorch book): G Dense(z→100) → LReLU(0.01) → Dense(784) → tanh;
/// D Dense(784→100, no bias) → LReLU(0.01) → Dropout(0.5) → Dense(1) (sigmoid in the loss).
pub fn mlp_gan_small(gpu: &Gpu, z: usize, rng: &mut Generator) -> Result<(Net, Net)> {
    let p = Init::PyTorch;
    let g = Sequential::new()
        .layer(Linear::new(gpu, z, 100, true, p, rng)?)
        .layer(Act(Activation::LeakyRelu(0.01)))
        .layer(Linear::new(gpu, 100, PIXELS, true, p, rng)?)
        .layer(Act(Activation::Tanh));
    let d = Sequential::new()
        .layer(Linear::new(gpu, PIXELS, 100, false, p, rng)?)
        .layer(Act(Activation::LeakyRelu(0.01)))
        .layer(Dropout::new(0.5)?)
        .layer(Linear::new(gpu, 100, 1, true, p, rng)?);
    Ok((Net::new(g, &[z], &IMAGE), Net::new(d, &[PIXELS], &[1])))
}

/// `mlp-wgan-gp` (Keras) and, with `conditional`, `mlp-cwgan-gp`:
/// G (Dense(128) → LReLU(0.3) → BN) ×3 → Dense(784) → tanh;
/// critic (Dense(128) → LReLU(0.3) → Dropout(0.5)) ×3 → Dense(1).
/// Conditional: after the first Dense, Embedding(10 → 64) of the label is concatenated (192 features).
pub fn mlp_wgan_gp(
    gpu: &Gpu,
    z: usize,
    conditional: bool,
    rng: &mut Generator,
) -> Result<(Net, Net)> {
    let k = Init::Keras;
    let bn = NormConfig::keras();
    let extra = if conditional { 64 } else { 0 };
    let mut g = Sequential::new();
    let mut width = z;
    for i in 0..3 {
        g.push(Linear::new(gpu, width, 128, true, k, rng)?);
        let feat = if i == 0 { 128 + extra } else { 128 };
        g.push(Act(Activation::LeakyRelu(0.3)));
        g.push(BatchNorm::new(gpu, feat, bn)?);
        width = feat;
    }
    g.push(Linear::new(gpu, width, PIXELS, true, k, rng)?);
    g.push(Act(Activation::Tanh));

    let mut d = Sequential::new();
    let mut width = PIXELS;
    for i in 0..3 {
        d.push(Linear::new(gpu, width, 128, true, k, rng)?);
        let feat = if i == 0 { 128 + extra } else { 128 };
        d.push(Act(Activation::LeakyRelu(0.3)));
        d.push(Dropout::new(0.5)?);
        width = feat;
    }
    d.push(Linear::new(gpu, width, 1, true, k, rng)?);

    let mut g = Net::new(g, &[z], &IMAGE);
    let mut d = Net::new(d, &[PIXELS], &[1]);
    if conditional {
        g = g.conditioned(1, Embedding::new_keras(gpu, 10, 64, rng)?);
        d = d.conditioned(1, Embedding::new_keras(gpu, 10, 64, rng)?);
    }
    Ok((g, d))
}
