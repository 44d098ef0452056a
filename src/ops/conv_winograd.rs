//! Convolutions and transposed convolutions with a 4 × 4 kernel at stride 2, padding 1 (every
//! large layer of the DCGAN family) as Winograd F(2×2, 2×2) products on CPU adapters: an
//! input transform (`shaders/conv_winograd_input.wgsl`), a kernel transform
//! (`conv_winograd_weight.wgsl`), one batched matrix product per transformed position, and an
//! output transform with the bias and activation (`conv_winograd_output.wgsl`).
//!
//! Why: such a layer is a sum of 2 × 2 stride-1 correlations (one per tap parity; the input
//! shader's header derives it), and F(2×2, 2×2) computes a 2 × 2 output tile of one of them
//! in 9 products instead of 16. The products become 9 (conv: parities as extra reduction
//! channels, K = 4·Cin) or 36 (transposed conv: one set per output phase, K = Cin) matrix
//! products of [tiles, K] × [K, Cout], which the subgroup-sharing matmul runs at about the
//! rate the direct gather kernel reaches — so the layer does 9/16 of the multiply-adds, at the
//! cost of three passes whose traffic grows with the activations, not with the channels.
//! The transforms add and subtract only (entries 0 and ±1), so rounding stays that of the
//! direct sum to within a few units in the last place. Unlike the direct sum, an infinite
//! input makes the outputs of its tile NaN (∞ − ∞ in the transform), as in cuDNN's and
//! oneDNN's Winograd kernels; finite inputs are unaffected.
//!
//! The backward rules are unchanged (`conv.rs`): the input gradient of one of these layers
//! is again a 4 × 4 stride-2 layer of the other kind, and comes here too.

use super::bytes_of;
use super::conv_family::{blocks, forced_winograd, Blocks};
use super::conv_geom::ConvDims;
use super::conv_launch::u32s;
use super::linear_act::FusedAct;
use super::matmul::matmul_bias_raw;
use crate::error::Result;
use crate::gpu::{grid, Kernel, Storage};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const INPUT: Kernel = kernel!(
    "conv_winograd_input",
    "conv_winograd_common.wgsl",
    "conv_winograd_patches.wgsl",
    "conv_winograd_input.wgsl"
);
/// The input transform of a conv whose source width is a multiple of four: three vec4 loads
/// per patch row.
const INPUT_ROWS: Kernel = kernel!(
    "conv_winograd_input_rows",
    "conv_winograd_common.wgsl",
    "conv_winograd_patches.wgsl",
    "conv_winograd_input_rows.wgsl"
);
const WEIGHT: Kernel = kernel!(
    "conv_winograd_weight",
    "conv_winograd_common.wgsl",
    "conv_winograd_weight.wgsl"
);
const OUTPUT: Kernel = kernel!(
    "conv_winograd_output",
    "conv_winograd_common.wgsl",
    "conv_winograd_products.wgsl",
    "conv_winograd_output.wgsl"
);
/// The output transform of a transposed conv whose phase grid has even sides: whole rows of
/// four, one vec4 store each.
const OUTPUT_ROWS: Kernel = kernel!(
    "conv_winograd_output_rows",
    "conv_winograd_common.wgsl",
    "conv_winograd_products.wgsl",
    "conv_winograd_output_rows.wgsl"
);

/// The input transform for a source of width `width`: whole vec4s where a conv's rows allow.
fn input_kernel(transposed: bool, width: usize) -> &'static Kernel {
    if !transposed && width.is_multiple_of(4) {
        &INPUT_ROWS
    } else {
        &INPUT
    }
}

/// Multiply-adds of the direct form from which a call runs here by default.
const MIN_FMAS: usize = 1 << 26;

/// Fewest multiply-adds per value the transforms move, K·Cout / (K + Cout) for products of
/// [tiles, K] × [K, Cout], from which a layer runs here by default. The transforms' traffic
/// grows with K + Cout per tile, the products' work with K·Cout. Measured on lavapipe (batch
/// 64, GPU ms of the transforms and the products): ConvT(128→64) 16→32, at 42.7, took 38 + 37
/// against 60–65 for the direct kernel; Conv(64→128) 32→16, at 85, 18 + 33 against 65–67.
const MIN_INTENSITY: usize = 64;

/// Whether `d` is the 4 × 4 kernel at stride 2 and padding 1 with the big side twice the
/// small one, or (`one_more`) one row or column more. Output row o reads source rows
/// 2o − 1 … 2o + 2, so a conv's source (and a weight gradient's big side) may have a row its
/// last window does not reach; a transposed conv's output must be exactly its four phases.
pub(super) fn geometry_fits(d: &ConvDims, one_more: bool) -> bool {
    let big_fits = |axis: usize| {
        let s = d.small[axis];
        d.big[axis] == 2 * s || (one_more && d.big[axis] == 2 * s + 1)
    };
    d.kernel == [4, 4] && d.stride == [2, 2] && d.pad == [1, 1] && big_fits(0) && big_fits(1)
}

/// Whether a call whose direct form does `fmas` multiply-adds, run as products
/// [tiles, k] × [k, width], takes the Winograd route: wherever `TAPEGAN_CONV_BLOCKS=winograd`
/// forces it, never when that variable forces anything else (so the tests reach it), and by
/// default on CPU adapters whose kernels share loads, from [`MIN_FMAS`] and
/// [`MIN_INTENSITY`].
pub(super) fn chosen(gpu: &crate::gpu::Gpu, fmas: usize, k: usize, width: usize) -> bool {
    match forced_winograd() {
        Some(forced) => forced,
        None => {
            matches!(blocks(gpu), Blocks::Shared(_))
                && fmas >= MIN_FMAS
                && k * width >= MIN_INTENSITY * (k + width)
        }
    }
}

/// Whether the layer `d` (`transposed` or not, `n` images, `cs` → `cd` channels) runs as
/// Winograd products: its geometry fits ([`geometry_fits`]), the transforms can move four
/// values per access (four output channels, and four input channels of a transposed conv;
/// a conv's four parities need no multiple), and the route is [`chosen`].
pub(super) fn applies(
    gpu: &crate::gpu::Gpu,
    n: usize,
    cs: usize,
    cd: usize,
    d: &ConvDims,
    transposed: bool,
) -> bool {
    let fours = cd.is_multiple_of(4) && (!transposed || cs.is_multiple_of(4));
    let (_, k) = products_shape(transposed, cs);
    let fmas = n * cs * cd * d.small[0] * d.small[1] * 16;
    geometry_fits(d, !transposed) && fours && chosen(gpu, fmas, k, cd)
}

/// The transform shaders' parameter block: invocations, tiles of this chunk, its first image,
/// the output's bias and activation flags and slope or α.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct TransformParams {
    pub total: u32,
    pub tiles: u32,
    pub first: u32,
    pub flags: u32,
    pub alpha: f32,
    pub pad: [u32; 3],
}

/// Defines of the transform shaders: `TRANSPOSED` and the geometry.
pub(super) fn defines(
    pairs: &[(&'static str, usize)],
    transposed: bool,
) -> Vec<(&'static str, String)> {
    let mut defs = vec![("TRANSPOSED", transposed.to_string())];
    defs.extend(pairs.iter().map(|&(k, v)| (k, v.to_string())));
    defs
}

fn as_refs<'a>(defs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    defs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// One pass of a transform shader: `params.total` invocations, 64 per workgroup.
pub(super) fn transform_pass(
    gpu: &crate::gpu::Gpu,
    kernel: &Kernel,
    defs: &[(&'static str, String)],
    params: TransformParams,
    buffers: &[&Storage],
) -> Result<()> {
    gpu.launch(
        kernel,
        &as_refs(defs),
        bytes_of(&params),
        buffers,
        grid(params.total as u64, 64),
    )
}

/// The batch of products and their reduction length K for a source of `c` channels: a
/// conv's nine transformed positions with the four tap parities as reduction channels
/// (9, 4·c), or a transposed conv's four phases of nine positions each (36, c).
pub(super) fn products_shape(transposed: bool, c: usize) -> (usize, usize) {
    if transposed {
        (36, c)
    } else {
        (9, 4 * c)
    }
}

/// The input transform V `[batch, tiles, K]` (see [`products_shape`]) of images
/// `n0 … n0 + images` of `src` `[n, c, h, w]`, whose 2 × 2 tiles cover the small side
/// `small`: the products' left operand, for the layer (`run`) and for the weight gradient.
pub(super) fn input_transform(
    op: &'static str,
    src: &Tensor,
    transposed: bool,
    [c, h, w]: [usize; 3],
    small: [usize; 2],
    [n0, images]: [usize; 2],
) -> Result<Tensor> {
    let (ty, tx) = (small[0].div_ceil(2), small[1].div_ceil(2));
    let (batch, k) = products_shape(transposed, c);
    // Groups of four reduction values per tile, one per invocation.
    let groups = k / 4;
    let defs = defines(
        &[
            ("C", c),
            ("G", groups),
            ("H", h),
            ("W", w),
            ("TT", ty * tx),
            ("TX", tx),
            ("S", if transposed { 4 } else { 6 }),
        ],
        transposed,
    );
    let tiles = images * ty * tx;
    let v = Tensor::empty(src.gpu(), &[batch, tiles, k], DType::F32, op)?;
    let params = TransformParams {
        total: u32s(op, [tiles * groups])?[0],
        tiles: tiles as u32,
        first: n0 as u32,
        ..Default::default()
    };
    transform_pass(
        src.gpu(),
        input_kernel(transposed, w),
        &defs,
        params,
        &[src.storage(), v.storage()],
    )?;
    Ok(v)
}

/// Most bytes of a chunk's transformed input or products.
const CHUNK_BYTES: u64 = 32 << 20;

/// Images per chunk of a call: each chunk's transformed input and products (the larger of
/// `per_image` floats per image) must fit one storage binding and [`CHUNK_BYTES`].
pub(super) fn images_per_chunk(gpu: &crate::gpu::Gpu, n: usize, per_image: usize) -> usize {
    let budget = gpu.max_binding_bytes().min(CHUNK_BYTES);
    let fit = budget / (4 * per_image.max(1) as u64);
    (fit as usize).clamp(1, n.max(1))
}

/// `act(conv2d(src, w) + bias)`, or the transposed conv when `transposed`, for a layer where
/// [`applies`] holds (operands checked by the caller): `src` `[n, cs, …]`, `w` `[cd, cs, 4, 4]`
/// (transposed: `[cs, cd, 4, 4]`). The images run in chunks whose transformed input and
/// products fit a storage binding, the kernel transform once for all.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    op: &'static str,
    src: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    transposed: bool,
    [n, cs, cd]: [usize; 3],
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let gpu = src.gpu();
    let [sy, sx] = d.small;
    let (ty, tx) = (sy.div_ceil(2), sx.div_ceil(2));
    let (batch, k) = products_shape(transposed, cs);
    let (src_hw, out_hw) = if transposed {
        (d.small, d.big)
    } else {
        (d.big, d.small)
    };
    let per_image = batch * ty * tx * k.max(cd);
    let chunk = images_per_chunk(gpu, n, per_image);
    // Every index the shaders compute must fit a u32: V's and M's (per chunk), x's and y's.
    u32s(
        op,
        [
            chunk * per_image,
            n * cs * src_hw[0] * src_hw[1],
            n * cd * out_hw[0] * out_hw[1],
        ],
    )?;

    let u = Tensor::empty(gpu, &[batch, k, cd], DType::F32, op)?;
    let weight = defines(&[("C", cs), ("D", cd)], transposed);
    let wtotal = u32s(op, [4 * cs * cd])?[0];
    let wparams = TransformParams {
        total: wtotal,
        ..Default::default()
    };
    transform_pass(gpu, &WEIGHT, &weight, wparams, &[w.storage(), u.storage()])?;

    let output = defines(
        &[
            ("D", cd),
            ("SY", sy),
            ("SX", sx),
            ("TT", ty * tx),
            ("TX", tx),
            ("OH", out_hw[0]),
            ("OW", out_hw[1]),
        ],
        transposed,
    );
    let output_kernel = if transposed && sy % 2 == 0 && sx % 2 == 0 {
        &OUTPUT_ROWS
    } else {
        &OUTPUT
    };
    let y = Tensor::empty(gpu, &[n, cd, out_hw[0], out_hw[1]], DType::F32, op)?;
    let flags = if bias.is_some() { 2 } else { 0 } | act.map_or(0, FusedAct::flags);
    for n0 in (0..n).step_by(chunk) {
        let images = chunk.min(n - n0);
        let tiles = images * ty * tx;
        let src_chw = [cs, src_hw[0], src_hw[1]];
        let v = input_transform(op, src, transposed, src_chw, d.small, [n0, images])?;
        let m = matmul_bias_raw(&v, &u, false, false, None)?;
        drop(v);
        let params = TransformParams {
            total: (tiles * cd / 4) as u32,
            tiles: tiles as u32,
            first: n0 as u32,
            flags,
            alpha: act.map_or(0.0, FusedAct::alpha),
            ..Default::default()
        };
        let bias_buf = bias.map_or(m.storage(), Tensor::storage);
        transform_pass(
            gpu,
            output_kernel,
            &output,
            params,
            &[m.storage(), bias_buf, y.storage()],
        )?;
    }
    Ok(y)
}
