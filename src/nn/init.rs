//! Parameter initialisation, drawn on the GPU from a seeded [`Generator`].
//!
//! Three families, matching the frameworks the presets come from:
//! - `Init::PyTorch`: Linear/Conv weights kaiming-uniform with a = √5, i.e. U(±1/√fan_in),
//!   biases U(±1/√fan_in) — PyTorch's defaults.
//! - `Init::Keras`: weights glorot-uniform U(±√(6/(fan_in+fan_out))), biases 0 — Keras' defaults.
//! - `Init::Normal(std)`: weights N(0, std), biases 0 — the DCGAN paper's N(0, 0.02).
//!
//! NOTE: fan_in follows PyTorch's `_calculate_fan_in_and_fan_out`, which uses tensor dim 1 as
//! the input dimension; for a ConvTranspose weight `[in, out, kh, kw]` that is `out·kh·kw`.

use crate::error::Result;
use crate::gpu::Gpu;
use crate::ops::Generator;
use crate::tensor::Tensor;

/// How to initialise a layer's weight and bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    PyTorch,
    Keras,
    Normal(f32),
}

/// (fan_in, fan_out) of a weight shape, PyTorch's convention (dim 1 is "in").
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => (shape[1] * receptive, shape[0] * receptive),
    }
}

/// A fresh weight tensor (requires grad) of `shape`.
pub fn weight(gpu: &Gpu, shape: &[usize], init: Init, rng: &mut Generator) -> Result<Tensor> {
    let (fan_in, fan_out) = fans(shape);
    let t = match init {
        Init::PyTorch => {
            let b = 1.0 / (fan_in.max(1) as f32).sqrt();
            rng.uniform(gpu, shape, -b, b)?
        }
        Init::Keras => {
            let b = (6.0 / (fan_in + fan_out).max(1) as f32).sqrt();
            rng.uniform(gpu, shape, -b, b)?
        }
        Init::Normal(std) => rng.normal(gpu, shape, 0.0, std)?,
    };
    t.with_grad()
}

/// A fresh bias tensor (requires grad) of `n` for a weight of `weight_shape`.
pub fn bias(
    gpu: &Gpu,
    n: usize,
    weight_shape: &[usize],
    init: Init,
    rng: &mut Generator,
) -> Result<Tensor> {
    let t = match init {
        Init::PyTorch => {
            let b = 1.0 / (fans(weight_shape).0.max(1) as f32).sqrt();
            rng.uniform(gpu, &[n], -b, b)?
        }
        Init::Keras | Init::Normal(_) => Tensor::zeros(gpu, &[n])?,
    };
    t.with_grad()
}

#[cfg(test)]
mod tests {
    use super::fans;

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[128, 784]), (784, 128));
        assert_eq!(fans(&[64, 1, 4, 4]), (16, 1024));
        // ConvTranspose weight [in=100, out=128, 4, 4]: PyTorch's fan_in is 128·16.
        assert_eq!(fans(&[100, 128, 4, 4]), (2048, 1600));
    }
}
