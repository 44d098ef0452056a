//! Transposed convolutions with few output channels on CPU adapters, as a matrix product and
//! a gather (`shaders/conv_col2im.wgsl`).
//!
//! With one or three output channels the gather kernel has no channel block to reuse its
//! loads over: every source element it loads feeds one FMA per tap, and on lavapipe, where
//! each storage load is a loop over the SIMD lanes, dcgan-28's last layer ran at 0.5 GFLOP/s.
//! Here the channel reduction runs first, for every (output channel, tap) at once, as one
//! product cols = wᵀ·x on the subgroup-sharing matmul (the fastest kernel on that adapter);
//! a second kernel then adds up, for each output pixel, the few columns whose taps reach it.
//! No FMA is wasted (each input pixel and tap lands on one output pixel or in the padding),
//! at the price of an intermediate of Co·KH·KW values per input pixel.

use super::bytes_of;
use super::conv_geom::ConvDims;
use super::matmul::matmul_bias_raw;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const COL2IM: Kernel = kernel!("conv_col2im", "conv_col2im.wgsl");

/// Output channels below which a transposed convolution on a CPU adapter goes through
/// columns: the gather kernel's channel block is 8 wide there.
pub(crate) const FEW_CHANNELS: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Col2imParams {
    total: u32,
    co: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sy: u32,
    sx: u32,
    py: u32,
    px: u32,
    has_bias: u32,
    pad: [u32; 3],
}

/// `conv_transpose2d(x, w) + bias` for `x` `[n, ci, h, w]`, `w` `[ci, co, KH, KW]`:
/// `[n, co, H, W]`. The caller has checked the shapes against `d`.
pub(crate) fn conv_transpose2d(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    [n, ci, co]: [usize; 3],
) -> Result<Tensor> {
    let ([h, wd], [oh, ow]) = (d.small, d.big);
    let taps = d.taps();
    // cols[n, (co, ky, kx), pixel] = Σ_ci w[ci, (co, ky, kx)] · x[n, ci, pixel]
    let cols = matmul_bias_raw(
        &w.alias(&[ci, co * taps]),
        &x.alias(&[n, ci, h * wd]),
        true,
        false,
        None,
    )?;
    let shape = [n, co, oh, ow];
    let out = Tensor::empty(x.gpu(), &shape, DType::F32, op)?;
    let total = n * co * oh * ow;
    let p = Col2imParams {
        total: u32::try_from(total)
            .map_err(|_| crate::error::Error::shape(op, "output has more than 2³² elements"))?,
        co: co as u32,
        h: h as u32,
        w: wd as u32,
        oh: oh as u32,
        ow: ow as u32,
        kh: d.kernel[0] as u32,
        kw: d.kernel[1] as u32,
        sy: d.stride[0] as u32,
        sx: d.stride[1] as u32,
        py: d.pad[0] as u32,
        px: d.pad[1] as u32,
        has_bias: bias.is_some() as u32,
        pad: [0; 3],
    };
    x.gpu().launch(
        &COL2IM,
        &[],
        bytes_of(&p),
        &[
            cols.storage(),
            out.storage(),
            bias.unwrap_or(&cols).storage(),
        ],
        grid(total as u64, 256),
    )?;
    Ok(out)
}
