//! Random tensors generated on the GPU from a seed.
//!
//! A [`Generator`] is a (seed, offset) pair: each draw consumes Philox counters starting at
//! `offset` and advances it, so a sequence of draws is reproducible on the same adapter, and
//! saving the pair in a checkpoint resumes the exact stream.

use super::bytes_of;
use crate::error::{Error, Result};
use crate::gpu::{grid, Gpu, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const RANDOM: Kernel = kernel!("random", "philox.wgsl", "random.wgsl");

/// The head of every random kernel's parameter block: the element count and the Philox key
/// and starting counter, as `philox_block` in philox.wgsl reads them.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Draw {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    off_lo: u32,
    off_hi: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RandomParams {
    draw: Draw,
    pad: u32,
    a: f32,
    b: f32,
}

/// A reproducible stream of random numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generator {
    pub seed: u64,
    /// Philox counters consumed so far.
    pub offset: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator { seed, offset: 0 }
    }

    /// A generator for an independent stream derived from this one's seed and `stream`.
    pub fn fork(&self, stream: u64) -> Generator {
        // SplitMix64 of (seed, stream): well-separated keys for separate uses.
        let mut z = self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Generator::new(z ^ (z >> 31))
    }

    /// Reserves the Philox blocks of a draw of `n` elements (one block per four elements) and
    /// advances the generator past them: the parameter head and the number of blocks. Every
    /// kernel that draws goes through here, so draws of one generator never overlap.
    pub(crate) fn reserve(&mut self, op: &'static str, n: usize) -> Result<(Draw, u64)> {
        // A kernel's first index, 4·(n/4 rounded up), must fit a u32.
        if n as u64 > u32::MAX as u64 - 3 {
            return Err(Error::shape(op, "too many elements for one draw"));
        }
        let draw = Draw {
            n: n as u32,
            seed_lo: self.seed as u32,
            seed_hi: (self.seed >> 32) as u32,
            off_lo: self.offset as u32,
            off_hi: (self.offset >> 32) as u32,
        };
        let blocks = (n as u64).div_ceil(4);
        self.offset += blocks;
        Ok((draw, blocks))
    }

    fn draw(&mut self, gpu: &Gpu, shape: &[usize], dist: &str, a: f32, b: f32) -> Result<Tensor> {
        let t = Tensor::empty(gpu, shape, DType::F32, "random")?;
        let (draw, blocks) = self.reserve("random", t.numel())?;
        let p = RandomParams { draw, pad: 0, a, b };
        gpu.launch(
            &RANDOM,
            &[("DIST", dist)],
            bytes_of(&p),
            &[t.storage()],
            grid(blocks, 256),
        )?;
        Ok(t)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, gpu: &Gpu, shape: &[usize], lo: f32, hi: f32) -> Result<Tensor> {
        self.draw(gpu, shape, "0", lo, hi)
    }

    /// Normal with the given mean and standard deviation.
    pub fn normal(&mut self, gpu: &Gpu, shape: &[usize], mean: f32, std: f32) -> Result<Tensor> {
        self.draw(gpu, shape, "1", mean, std)
    }

    /// 1.0 with probability `p`, else 0.0.
    pub fn bernoulli(&mut self, gpu: &Gpu, shape: &[usize], p: f32) -> Result<Tensor> {
        self.bernoulli_value(gpu, shape, p, 1.0)
    }

    /// `value` with probability `p`, else 0.0: an inverted-dropout mask in one dispatch.
    pub fn bernoulli_value(
        &mut self,
        gpu: &Gpu,
        shape: &[usize],
        p: f32,
        value: f32,
    ) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Config(format!(
                "bernoulli probability {p} is outside [0, 1]"
            )));
        }
        self.draw(gpu, shape, "2", p, value)
    }
}
