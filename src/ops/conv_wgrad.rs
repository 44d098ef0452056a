//! Kernel launch of the convolution weight gradient (unrecorded): the register-blocked
//! kernels `conv2d_weight_grad.wgsl` and, for inputs with few channels,
//! `conv2d_weight_grad_taps.wgsl`; subgroup sharing (`conv_sg_wgrad.rs`) on CPU adapters that
//! have it, implicit GEMM (`conv_gemm.rs`) on GPUs. `conv.rs` records it.
//!
//! The reduction over images × pixels is split into chunks summed afterwards, so that enough
//! workgroups run and no invocation nears lavapipe's loop limit (see `conv_launch.rs`).

use super::bytes_of;
use super::conv_channels_last::SourceCopy;
use super::conv_family::{blocks, gemm_mode, Blocks};
use super::conv_geom::ConvDims;
use super::conv_launch::{check_groups, nchw, u32s, unrolled, LOOP_BUDGET};
use super::conv_sg_tiles::vec4_pays;
use super::conv_sg_wgrad::WgradPlan;
use super::reduce::{even_chunks, MAX_LOOP};
use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::tensor::{fmt_shape, DType, Tensor};

const WGRAD_SRC: &str = include_str!("../../shaders/conv2d_weight_grad.wgsl");
const WGRAD_TAPS_SRC: &str = include_str!("../../shaders/conv2d_weight_grad_taps.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WgradParams {
    dims: [u32; 14],
    /// conv2d_weight_grad.wgsl: 1 when the small side is on the lanes;
    /// conv2d_weight_grad_taps.wgsl: the number of (channel, tap) entries.
    extra: u32,
    pad: u32,
}

/// Register block (uniform-side channels UB × lane-side channels LB) and workgroup size of the
/// weight-gradient kernel; the same trade-off as the gather kernel's block
/// (`conv_launch::gather_block`).
fn wgrad_block(cpu: bool, nu: usize, nl: usize) -> (usize, usize, usize) {
    let wg = if cpu { 8 } else { 64 };
    let ub = nu.min(if cpu { 32 } else { 8 });
    let lb = nl.div_ceil(wg).clamp(1, if cpu { 16 } else { 8 });
    (ub, lb, wg)
}

/// Bytes of operands one chunk of the reduction may read on a CPU adapter. Every workgroup
/// of a chunk (one per tile and tap) walks the same image rows, so a chunk that stays in the
/// last-level cache comes from memory once rather than once per workgroup. Measured on
/// lavapipe (32 MiB L3, `cargo bench --bench conv -- celeba`), dcgan-celeba's weight
/// gradients at batch 128, ms per call with chunks of all rows / ≈24 MiB / ≈12 MiB / ≈6 MiB:
/// ConvT(512→256) 885 / 774 / 503 / 496, ConvT(256→128) 1406 / 641 / 592 / 525.
const CHUNK_BYTES: usize = 8 << 20;

/// Small-image rows per chunk on a CPU adapter, for chunks whose rows read `row_bytes` of
/// the operands: within [`CHUNK_BYTES`], but no more chunks than partial weight gradients
/// of `weight_bytes` fit in one binding of `max_binding` bytes (they are summed afterwards).
fn cache_rows(
    row_bytes: usize,
    weight_bytes: usize,
    total_rows: usize,
    max_binding: usize,
) -> usize {
    let by_cache = (CHUNK_BYTES / row_bytes.max(1)).max(1);
    let max_chunks = (max_binding / weight_bytes.max(1)).max(1);
    by_cache.max(total_rows.div_ceil(max_chunks))
}

/// Which kernels compute a weight gradient, in the order [`wgrad_raw`] tries them.
enum Route {
    /// Winograd F(2×2, 2×2) (`conv_winograd_wgrad.rs`).
    Winograd,
    /// Implicit GEMM (`conv_gemm.rs`).
    Gemm,
    /// The subgroup-sharing kernels with this plan, else (`None`) the register-blocked ones.
    Direct(Option<WgradPlan>),
}

/// The route of the weight gradient of `d` for `n` images, `cb` big-side and `cs`
/// small-side channels.
fn route(gpu: &crate::gpu::Gpu, n: usize, cb: usize, cs: usize, d: &ConvDims) -> Route {
    if super::conv_winograd_wgrad::applies(gpu, n, cb, cs, d) {
        return Route::Winograd;
    }
    if gemm_mode(gpu).is_some_and(|always| super::conv_gemm::wgrad_fits(n, cb, cs, d, always)) {
        return Route::Gemm;
    }
    Route::Direct(match blocks(gpu) {
        Blocks::Shared(sg) => {
            let fmas = cs * cb * d.taps() * n * d.small[0] * d.small[1];
            WgradPlan::new(sg, cs, cb, d.taps(), vec4_pays(fmas, &[cs, cb], false))
        }
        _ => None,
    })
}

/// Whether the weight gradient of `d` (`n` images, `cb` big-side and `cs` small-side
/// channels) reads channels-last copies of its operands, so that a forward pass's copy of
/// its source is worth keeping for it.
pub(crate) fn reads_copies(
    gpu: &crate::gpu::Gpu,
    n: usize,
    cb: usize,
    cs: usize,
    d: &ConvDims,
) -> bool {
    matches!(route(gpu, n, cb, cs, d), Route::Direct(Some(p)) if p.vec4_operands())
}

/// The weight gradient `[Cs, Cb, KH, KW]` of the convolution `d` from the big-side tensor
/// (conv input) and the small-side tensor (conv output gradient). Lanes take the side with
/// more channels; the other side's channels form the register block, one tap per workgroup —
/// unless the big side has fewer than 8 channels, when its (channel, tap) pairs form the block
/// instead (conv2d_weight_grad_taps.wgsl: ~5× fewer loads per FMA for Conv(1→64)).
/// The vec4 kernel takes its channels-last copies of `big` and `small` from `copies`, or
/// makes them there.
pub(crate) fn wgrad_raw(
    op: &'static str,
    big: &Tensor,
    small: &Tensor,
    d: &ConvDims,
    copies: [&mut SourceCopy; 2],
) -> Result<Tensor> {
    let [n, cb, bh, bw] = nchw(op, "input", big)?;
    let [n2, cs, sh, sw] = nchw(op, "output gradient", small)?;
    big.same_device(op, small)?;
    if n != n2 || [bh, bw] != d.big || [sh, sw] != d.small {
        return Err(Error::shape(
            op,
            format!(
                "input {} and output gradient {} do not fit a convolution from {:?} to {:?}",
                fmt_shape(big.shape()),
                fmt_shape(small.shape()),
                d.big,
                d.small
            ),
        ));
    }
    let taps = d.taps();
    let shape = [cs, cb, d.kernel[0], d.kernel[1]];
    if n == 0 || cs * cb == 0 {
        return Tensor::zeros(big.gpu(), &shape);
    }
    let plan = match route(big.gpu(), n, cb, cs, d) {
        Route::Winograd => {
            return super::conv_winograd_wgrad::weight_grad(op, big, small, d, [n, cb, cs])
        }
        Route::Gemm => return super::conv_gemm::weight_grad(big, small, d, n, cb, cs),
        Route::Direct(plan) => plan,
    };
    let cpu = big.gpu().is_cpu();
    let mode = blocks(big.gpu());
    // Register-blocked: lanes take the side with more channels. When that is the small side
    // and the big side has only a few channels, the (channel, tap) pairs of the big side form
    // the other block.
    let swap = cs > cb;
    let by_taps = swap && cb < 8;
    let (kernel, ub, lb, wg, mut gx, mut gy, extra) = if by_taps {
        let entries = cb * taps;
        let (ub, lb, wg) = wgrad_block(mode != Blocks::Gpu, entries.min(16), cs);
        let kernel = unrolled(
            "conv2d_weight_grad_taps",
            WGRAD_TAPS_SRC,
            &[("UB", ub), ("LB", lb)],
        );
        (
            kernel,
            ub,
            lb,
            wg,
            cs.div_ceil(wg * lb),
            entries.div_ceil(ub),
            entries,
        )
    } else {
        let (nu, nl) = if swap { (cb, cs) } else { (cs, cb) };
        let (ub, lb, wg) = wgrad_block(mode != Blocks::Gpu, nu, nl);
        let kernel = unrolled("conv2d_weight_grad", WGRAD_SRC, &[("UB", ub), ("LB", lb)]);
        let (gx, gy) = (nl.div_ceil(wg * lb), nu.div_ceil(ub) * taps);
        (kernel, ub, lb, wg, gx, gy, swap as usize)
    };
    let mut extra = extra;
    if let Some(plan) = &plan {
        (gx, gy) = plan.groups(cs, cb, taps);
        extra = cb * taps; // the entries kernel's column count (unused per tap)
    }
    // Split the reduction (rows of the small image) until there are enough workgroups, with
    // at least ~64 reduction steps per chunk, and within the loop budget on CPU adapters.
    let total_rows = n * sh;
    let target: usize = if cpu { 64 } else { 1024 };
    let want = target.div_ceil(gx * gy).clamp(1, total_rows);
    let mut rows = total_rows
        .div_ceil(want)
        .max(64usize.div_ceil(sw))
        .min(total_rows);
    if plan.is_some() {
        rows = rows.min((MAX_LOOP / (sw + 1)).max(1));
    } else if cpu {
        rows = rows.min((LOOP_BUDGET / (sw + 1)).max(1));
    }
    if cpu {
        let row_bytes = 4 * (sw * cs + d.stride[0] * bw * cb);
        let weight_bytes = 4 * cs * cb * taps;
        let max_binding = usize::try_from(big.gpu().max_binding_bytes()).unwrap_or(usize::MAX);
        rows = rows.min(cache_rows(row_bytes, weight_bytes, total_rows, max_binding));
    }
    let (rows, nsplit) = even_chunks(total_rows, rows);
    let groups = check_groups(op, [gx, gy, nsplit], &shape)?;
    let dims = u32s(
        op,
        [
            n,
            cb,
            bh,
            bw,
            cs,
            sh,
            sw,
            d.kernel[1],
            d.stride[0],
            d.stride[1],
            d.pad[0],
            d.pad[1],
            taps,
            rows,
        ],
    )?;
    let p = WgradParams {
        dims,
        extra: extra as u32,
        pad: 0,
    };
    let out = Tensor::empty(
        big.gpu(),
        &[nsplit, cs, cb, d.kernel[0], d.kernel[1]],
        DType::F32,
        op,
    )?;
    let (ub_s, lb_s, wg_s) = (ub.to_string(), lb.to_string(), wg.to_string());
    let defs = [
        ("UB", ub_s.as_str()),
        ("LB", lb_s.as_str()),
        ("WG", wg_s.as_str()),
    ];
    // Channels-last copies ([N, H, W, C]) for a plan with vec4 reads (bindings 4 and 5).
    let [big_copy, small_copy] = copies;
    let cl = match &plan {
        Some(plan) if plan.vec4_operands() => Some((
            big_copy.of(op, big, [n, cb, bh * bw])?,
            small_copy.of(op, small, [n, cs, sh * sw])?,
        )),
        _ => None,
    };
    big.gpu()
        .note_flops(2.0 * (cs * cb * taps * n * sh * sw) as f64);
    if let Some(plan) = &plan {
        // The vec4 kernel binds the copies in place of the operands too (it reads only 4, 5).
        let (b, s) = cl.as_ref().map_or((big, small), |(b4, s4)| (b4, s4));
        let bufs = [
            b.storage(),
            s.storage(),
            out.storage(),
            b.storage(),
            s.storage(),
        ];
        let n_bufs = if cl.is_some() { 5 } else { 3 };
        plan.launch(big.gpu(), bytes_of(&p), &bufs[..n_bufs], groups)?;
    } else {
        // conv2d_weight_grad.wgsl binds (uniform side, lane side); the taps kernel (big, small).
        let (b1, b2) = if swap { (big, small) } else { (small, big) };
        big.gpu().launch(
            &kernel,
            &defs,
            bytes_of(&p),
            &[b1.storage(), b2.storage(), out.storage()],
            groups,
        )?;
    }
    if nsplit == 1 {
        return Ok(out.alias(&shape));
    }
    no_grad(|| out.sum(&[0], false))
}
