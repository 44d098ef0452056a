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
    let p = FillParams {
        n,
        bits,
        pad: [0; 2],
    };
    gpu.launch(
        &FILL,
        &[],
        bytemuck::bytes_of(&p),
        &[t.storage()],
        grid(n as u64, 256),
    )?;
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

const CAST: crate::gpu::Kernel = kernel!("cast", "cast.wgsl");

impl Tensor {
    /// f32 → u32 by truncation toward zero (negative values and NaN become 0); u32 → u32 copy.
    /// No gradient. Used to turn uniform draws into class labels on the device.
    pub fn to_u32(&self) -> Result<Tensor> {
        self.cast(DType::U32)
    }

    /// u32 → f32 (exact below 2²⁴); f32 → f32 copy. No gradient.
    pub fn to_f32(&self) -> Result<Tensor> {
        self.cast(DType::F32)
    }

    fn cast(&self, to: DType) -> Result<Tensor> {
        if self.dtype() == to {
            return Ok(self.detach());
        }
        let out = Tensor::empty(self.gpu(), self.shape(), to, "cast")?;
        let n = self.numel() as u32;
        let p = FillParams {
            n,
            bits: 0,
            pad: [0; 2],
        };
        let flag = if to == DType::U32 { "true" } else { "false" };
        self.gpu().launch(
            &CAST,
            &[("TO_U32", flag)],
            bytemuck::bytes_of(&p),
            &[self.storage(), out.storage()],
            grid(n as u64, 256),
        )?;
        Ok(out)
    }
}
