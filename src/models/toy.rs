//! MLPs on 2-D points for the 25-Gaussian experiments (SPEC §10–11).

use super::net::Net;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::nn::{Act, Activation, Init, Linear, Sequential};
use crate::ops::Generator;

/// in → (Dense(hidden) → act) ×3 → Dense(out).
fn mlp(
    gpu: &Gpu,
    input: usize,
    hidden: usize,
    out: usize,
    act: Activation,
    init: Init,
    rng: &mut Generator,
) -> Result<Sequential> {
    let mut s = Sequential::new();
    let mut w = input;
    for _ in 0..3 {
        s.push(Linear::new(gpu, w, hidden, true, init, rng)?);
        s.push(Act(act));
        w = hidden;
    }
    s.push(Linear::new(gpu, w, out, true, init, rng)?);
    Ok(s)
}

/// `toy-wgan-clip` (Keras): ELU MLPs with 3 hidden layers (SPEC: 128 units; the blog's sizes
/// are not published), glorot-uniform initialisation.
pub fn toy_elu(gpu: &Gpu, z: usize, hidden: usize, rng: &mut Generator) -> Result<(Net, Net)> {
    let g = mlp(gpu, z, hidden, 2, Activation::Elu(1.0), Init::Keras, rng)?;
    let d = mlp(gpu, 2, hidden, 1, Activation::Elu(1.0), Init::Keras, rng)?;
    Ok((Net::new(g, &[z], &[2]), Net::new(d, &[2], &[1])))
}

/// `toy-wgan-gp` (the WGAN-GP paper's gan_toy.py): ReLU MLPs with 3 hidden layers of 512,
/// linear outputs, PyTorch's default initialisation.
pub fn toy_relu(gpu: &Gpu, z: usize, hidden: usize, rng: &mut Generator) -> Result<(Net, Net)> {
    let g = mlp(gpu, z, hidden, 2, Activation::Relu, Init::PyTorch, rng)?;
    let d = mlp(gpu, 2, hidden, 1, Activation::Relu, Init::PyTorch, rng)?;
    Ok((Net::new(g, &[z], &[2]), Net::new(d, &[2], &[1])))
}
