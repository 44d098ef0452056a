//! Convolutions with one to three input channels on CPU adapters with subgroups, run as a 1×1
//! convolution over a channels-last im2col copy of the source (`shaders/conv_im2col.wgsl`):
//! the gather kernel's vec4 variant (`conv_sg.rs`) then reads four taps per load.
//!
//! Why: the gather kernel reduces over input channels inside each tap, so with one channel
//! every tap cost its geometry, a subgroup vote and one scalar load per tile row for a single
//! FMA step; the vec4 variant needs channels in fours. The copy is small (K = Cin·KH·KW
//! floats per output pixel, 16 for a 4×4 kernel on a grey image) and is written once per call.
//! This serves the first layer of every image critic and the input gradient of every
//! generator's last layer.
//!
//! Measured on lavapipe (`cargo bench --bench conv`, old and new alternated, best of three, ms
//! per call): celeba's ConvT(128→3) input gradient 68.4 → 58.5, its Conv(3→64) 33.9 → 32.7,
//! dcgan-64's ConvT(64→1) input gradient 8.6 → 8.0; dcgan-28's Conv(1→32) is unchanged at
//! 0.93, where the 1×1 product (0.7) is bound by its 401K stores and the copy takes 0.25.

use super::bytes_of;
use super::conv_channels_last::{ChannelsLast, SourceCopy};
use super::conv_family::{blocks, Blocks};
use super::conv_geom::ConvDims;
use super::conv_launch::{gather_launch, u32s, Gather};
use super::conv_sg::GatherPlan;
use super::linear_act::FusedAct;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const IM2COL: Kernel = kernel!("conv_im2col", "conv_im2col.wgsl");

/// Most input channels taken this way: from four on the gather kernel reads channels in
/// fours itself.
const MOST_CHANNELS: usize = 3;

/// Whether a conv2d (not transposed) of `n` images, `cs` → `cd` channels, runs here: on a CPU
/// adapter whose gather kernel shares loads, with few input channels, a reduction of whole
/// vec4s (the weight is read in place as `[cd, K]`), and a tile the vec4 variant can fill.
pub(super) fn applies(gpu: &crate::gpu::Gpu, n: usize, cs: usize, cd: usize, d: &ConvDims) -> bool {
    let k = cs * d.taps();
    let npix = n * d.small[0] * d.small[1];
    match blocks(gpu) {
        Blocks::Shared(sg) => {
            cs <= MOST_CHANNELS
                && d.taps() > 1
                && k.is_multiple_of(4)
                && GatherPlan::new(sg, cd, npix, 1, k, true).is_some()
        }
        _ => false,
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Im2colParams {
    total: u32,
    pad: [u32; 3],
}

/// `conv2d(src, w) + bias` for `src` `[n, cs, H, W]` and `w` `[cd, cs, KH, KW]` (checked by
/// the caller), where [`applies`] holds, with `act` applied in the product's store (the
/// `bool` says so, as [`gather_launch`]'s).
pub(super) fn conv2d(
    op: &'static str,
    src: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    [n, cs, cd]: [usize; 3],
    act: Option<FusedAct>,
) -> Result<(Tensor, bool)> {
    let k = cs * d.taps();
    let [oh, ow] = d.small;
    let cols = Tensor::empty(src.gpu(), &[n, oh, ow, k], DType::F32, op)?;
    let total = n * oh * ow * k / 4;
    let p = Im2colParams {
        total: u32s(op, [total])?[0],
        pad: [0; 3],
    };
    let geometry = [
        ("CS", cs),
        ("H", d.big[0]),
        ("W", d.big[1]),
        ("OH", oh),
        ("OW", ow),
        ("KH", d.kernel[0]),
        ("KW", d.kernel[1]),
        ("SH", d.stride[0]),
        ("SW", d.stride[1]),
        ("PH", d.pad[0]),
        ("PW", d.pad[1]),
        ("K", k),
        ("KP4", k / 4),
    ]
    .map(|(name, v)| (name, v.to_string()));
    let defs: Vec<(&str, &str)> = geometry.iter().map(|(n, v)| (*n, v.as_str())).collect();
    src.gpu().launch(
        &IM2COL,
        &defs,
        bytes_of(&p),
        &[src.storage(), cols.storage()],
        grid(total as u64, 64),
    )?;
    let one = ConvDims {
        big: d.small,
        small: d.small,
        kernel: [1, 1],
        stride: [1, 1],
        pad: [0, 0],
    };
    let g = Gather {
        n,
        cs: k,
        cd,
        d: one,
        transposed: false,
        w_co: k,
        w_ci: 1,
        bias_div: 1,
    };
    // The weight [cd, cs, KH, KW] is already the channels-last [cd, 1 tap, K] the kernel reads.
    let w_cl = w.alias(&[cd, 1, k]);
    let operands = ChannelsLast::prepared(cols.clone(), w_cl);
    gather_launch(
        op,
        &cols,
        w,
        bias,
        &g,
        Some(operands),
        &mut SourceCopy::default(),
        act,
    )
}
