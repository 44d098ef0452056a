//! Transposed convolutions with few output channels on CPU adapters, as a matrix product and
//! a gather (`shaders/conv_col2im.wgsl`).
//!
//! With one or three output channels the gather kernel has no channel block to reuse its
//! loads over: every source element it loads feeds one FMA per tap, and on lavapipe, where
//! each storage load is a loop over the SIMD lanes, dcgan-28's last layer ran at 0.5 GFLOP/s.
//! Here the channel reduction runs first, for every (output channel, tap) at once, as one
//! product cols = wᵀ·x on the subgroup-sharing matmul (the fastest kernel on that adapter);
//! a second kernel then adds up, for each output pixel, the few columns whose taps reach it.
//! The only FMAs wasted are those of taps that land in the padding (about 7 % for k4 s2 p1
//! on 14 → 28), at the price of an intermediate of Co·KH·KW values per input pixel.

use super::bytes_of;
use super::conv_geom::ConvDims;
use super::conv_launch::u32s;
use super::matmul::matmul_bias_raw;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const COL2IM: Kernel = kernel!("conv_col2im", "conv_col2im.wgsl");

/// total, co, h, w, oh, ow, kh, kw, sy, sx, py, px (the order of conv_col2im.wgsl's Params).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Col2imParams {
    dims: [u32; 12],
    has_bias: u32,
    /// Taps per phase along y and x: ⌈KH / sy⌉, ⌈KW / sx⌉.
    taps_per_phase: [u32; 2],
    pad: u32,
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
    let ([kh, kw], [sy, sx], [py, px]) = (d.kernel, d.stride, d.pad);
    let p = Col2imParams {
        dims: u32s(op, [total, co, h, wd, oh, ow, kh, kw, sy, sx, py, px])?,
        has_bias: bias.is_some() as u32,
        taps_per_phase: u32s(op, [kh.div_ceil(sy), kw.div_ceil(sx)])?,
        pad: 0,
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
