//! Tensors made on the device: constant fills.

use crate::error::Result;
use crate::gpu::{grid, Gpu};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const FILL: crate::gpu::Kernel = kernel!("fill", "fill.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FillParams {
    n: u32,
    bits: u32,
    pad: [u32; 2],
}

fn fill(gpu: &Gpu, shape: &[usize], dtype: DType, bits: u32) -> Result<Tensor> {
    let t = Tensor::empty(gpu, shape, dtype, "fill")?;
    let n = t.numel() as u32;
    let p = FillParams { n, bits, pad: [0; 2] };
    gpu.launch(&FILL, &[], bytemuck::bytes_of(&p), &[t.storage()], grid(n as u64, 256))?;
    Ok(t)
}

impl Tensor {
    /// An f32 tensor with every element `value`.
    pub fn full(gpu: &Gpu, shape: &[usize], value: f32) -> Result<Tensor> {
        fill(gpu, shape, DType::F32, value.to_bits())
    }

    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(gpu, shape, 0.0)
    }

    pub fn ones(gpu: &Gpu, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(gpu, shape, 1.0)
    }

    /// A u32 tensor with every element `value`.
    pub fn full_u32(gpu: &Gpu, shape: &[usize], value: u32) -> Result<Tensor> {
        fill(gpu, shape, DType::U32, value)
    }

    /// Zeros of this tensor's shape and device.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.gpu(), self.shape())
    }

    /// Ones of this tensor's shape and device.
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::ones(self.gpu(), self.shape())
    }
}
