//! The weight gradient of a 4 × 4 stride-2 layer through Winograd F(2×2, 2×2), on CPU
//! adapters: `Wg(big, small)[cs, cb, k] = Σ small[n, cs, o]·big[n, cb, 2o − 1 + k]`
//! differentiated through the forward's transforms (`conv_winograd.rs`) instead of summed
//! directly. With V the big side's input transform, dM = A g Aᵀ the small side's tiles
//! taken back through the output transform (`shaders/conv_winograd_small.wgsl`), the kernel
//! transform's gradient is dU[pos] = V[pos]ᵀ·dM[pos] (nine products reducing over the tiles)
//! and the weight gradient dW = Gᵀ dU G (`shaders/conv_winograd_wgrad.wgsl`). A transposed
//! conv's weight gradient is the same sum with its output as the big side.
//!
//! Why: as in the forward direction, 9 products per tile and channel pair instead of 16,
//! with transforms whose traffic grows with K + Cs per tile, not K·Cs.

use super::conv_geom::ConvDims;
use super::conv_launch::u32s;
use super::conv_winograd::{
    chosen, defines, geometry_fits, images_per_chunk, input_transform, products_shape,
    transform_pass, TransformParams,
};
use super::elementwise::binary_raw;
use super::matmul::matmul_bias_raw;
use crate::error::Result;
use crate::gpu::Kernel;
use crate::kernel;
use crate::tensor::{DType, Tensor};

const SMALL: Kernel = kernel!(
    "conv_winograd_small",
    "conv_winograd_common.wgsl",
    "conv_winograd_small.wgsl"
);
const WGRAD: Kernel = kernel!(
    "conv_winograd_wgrad",
    "conv_winograd_common.wgsl",
    "conv_winograd_wgrad.wgsl"
);

/// Whether `Wg(big, small)` of `n` images, `cb` big-side and `cs` small-side channels, runs
/// here: the forward route's geometry (the big side may have one row more), `cs` a multiple
/// of 4 (the small side's transform moves four channels per access), and the route
/// [`chosen`] for products [4·cb, tiles] × [tiles, cs].
pub(super) fn applies(gpu: &crate::gpu::Gpu, n: usize, cb: usize, cs: usize, d: &ConvDims) -> bool {
    let fmas = n * cb * cs * d.small[0] * d.small[1] * 16;
    geometry_fits(d, true) && cs.is_multiple_of(4) && chosen(gpu, fmas, 4 * cb, cs)
}

/// `Wg(big, small)` `[cs, cb, 4, 4]` for `big` `[n, cb, …]` and `small` `[n, cs, …]` (checked by
/// the caller) where [`applies`] holds. The images run in chunks whose transforms fit a
/// storage binding; their kernel-transform gradients are summed.
pub(super) fn weight_grad(
    op: &'static str,
    big: &Tensor,
    small: &Tensor,
    d: &ConvDims,
    [n, cb, cs]: [usize; 3],
) -> Result<Tensor> {
    let gpu = big.gpu();
    let [sy, sx] = d.small;
    let (ty, tx) = (sy.div_ceil(2), sx.div_ceil(2));
    let (batch, k) = products_shape(false, cb);
    let per_image = batch * ty * tx * k.max(cs);
    let chunk = images_per_chunk(gpu, n, per_image);
    u32s(
        op,
        [
            chunk * per_image,
            n * cb * d.big[0] * d.big[1],
            n * cs * sy * sx,
            batch * k * cs,
        ],
    )?;
    let small_defs = defines(
        &[
            ("CS", cs),
            ("SY", sy),
            ("SX", sx),
            ("TT", ty * tx),
            ("TX", tx),
        ],
        false,
    );
    let mut du: Option<Tensor> = None;
    for n0 in (0..n).step_by(chunk) {
        let images = chunk.min(n - n0);
        let tiles = images * ty * tx;
        let big_chw = [cb, d.big[0], d.big[1]];
        let v = input_transform(op, big, false, big_chw, d.small, [n0, images])?;
        let dm = Tensor::empty(gpu, &[batch, tiles, cs], DType::F32, op)?;
        let params = TransformParams {
            total: (tiles * cs / 4) as u32,
            tiles: tiles as u32,
            first: n0 as u32,
            ..Default::default()
        };
        transform_pass(
            gpu,
            &SMALL,
            &small_defs,
            params,
            &[small.storage(), dm.storage()],
        )?;
        let part = matmul_bias_raw(&v, &dm, true, false, None)?;
        du = Some(match du {
            Some(sum) => binary_raw(&sum, &part, op, "x + y")?,
            None => part,
        });
    }
    let du = du.expect("at least one image");
    let dw = Tensor::empty(gpu, &[cs, cb, 4, 4], DType::F32, op)?;
    let params = TransformParams {
        total: (cs * cb * 4) as u32,
        ..Default::default()
    };
    let defs = [("CB", cb.to_string()), ("CS", cs.to_string())];
    transform_pass(gpu, &WGRAD, &defs, params, &[du.storage(), dw.storage()])?;
    Ok(dw)
}
