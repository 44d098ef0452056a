//! Kernel launches of the convolution ops (unrecorded): the gather kernel that computes
//! `conv2d` and `conv_transpose2d` (`shaders/conv2d.wgsl`), and the hand-off to the other
//! paths `conv_family.rs` picks. The weight gradient is launched by `conv_wgrad.rs`;
//! `conv.rs` records both.
//!
//! Block sizes are chosen per call from the channel counts; the register blocks are unrolled
//! in the WGSL text itself (`//#unroll v N` … `//#end`, expanded here before compilation)
//! because drivers do not reliably unroll loops over local arrays — lavapipe left them as
//! loops, which both spills the accumulators and spends its per-invocation loop budget.
//!
//! NOTE: lavapipe (Mesa's gallivm) ends an invocation after 65535 loop iterations in total,
//! silently. On CPU adapters every dispatch here is sized so that no invocation comes near
//! that: the gather kernel splits long channel reductions into accumulating dispatches, the
//! weight-gradient kernel (`conv_wgrad.rs`) splits its reduction into more chunks.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::bytes_of;
use super::conv_channels_last::{ChannelsLast, SourceCopy};
use super::conv_family::{blocks, dense_as_matmul, gemm_mode, through_columns, Blocks};
use super::conv_geom::ConvDims;
use super::conv_sg::{adapter_threads, GatherPlan};
use super::conv_sg_tiles::{vec4_pays, vec4_tile_no_smaller};
use super::linear_act::FusedAct;
use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::gpu::Bind;
use crate::gpu::Kernel;
use crate::tensor::{fmt_shape, DType, Tensor};

/// The gather kernel: the shared parameters and geometry, then the register-blocked kernel.
const CONV_SRC: &str = concat!(
    include_str!("../../shaders/conv2d_geom.wgsl"),
    include_str!("../../shaders/conv2d.wgsl")
);

/// Loop iterations one invocation may spend on a CPU adapter (lavapipe stops at 65535).
pub(super) const LOOP_BUDGET: usize = 30_000;
/// Largest workgroup count per grid dimension wgpu guarantees.
const MAX_GROUPS: usize = 65535;

/// Expands `//#unroll v N` … `//#end` blocks (nestable): the body is repeated N times with
/// every `{v}` replaced by 0, 1, …, N−1. N is a literal or a key of `counts`.
fn unroll(src: &str, counts: &[(&str, usize)]) -> String {
    fn block<'a>(
        lines: &mut impl Iterator<Item = &'a str>,
        counts: &[(&str, usize)],
        out: &mut Vec<String>,
    ) {
        while let Some(line) = lines.next() {
            let t = line.trim();
            if t == "//#end" {
                return;
            }
            let Some(spec) = t.strip_prefix("//#unroll ") else {
                out.push(line.to_string());
                continue;
            };
            let mut it = spec.split_whitespace();
            let (var, n) = (it.next().unwrap_or(""), it.next().unwrap_or("0"));
            let n = counts
                .iter()
                .find(|(k, _)| *k == n)
                .map_or_else(|| n.parse().unwrap_or(0), |c| c.1);
            let mut body = Vec::new();
            block(lines, counts, &mut body);
            let pat = format!("{{{var}}}");
            for i in 0..n {
                out.extend(body.iter().map(|l| l.replace(&pat, &i.to_string())));
            }
        }
    }
    let mut out = Vec::new();
    block(&mut src.lines(), counts, &mut out);
    out.join("\n")
}

/// The kernel `name` with its blocks unrolled for `counts`; expanded once per variant.
pub(super) fn unrolled(name: &'static str, src: &'static str, counts: &[(&str, usize)]) -> Kernel {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let key = format!("{name}{counts:?}");
    let mut map = CACHE.get_or_init(Mutex::default).lock().unwrap();
    let source = *map
        .entry(key)
        .or_insert_with(|| Box::leak(unroll(src, counts).into_boxed_str()));
    Kernel { name, source }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GatherParams {
    dims: [u32; 18],
    ci0: u32,
    ci1: u32,
    flags: u32,
    bias_div: u32,
    chunks: u32,
    alpha: f32,
}

/// Flags of the gather kernel (`p.flags` in conv2d.wgsl).
const TRANSPOSED: u32 = 1;
const BIAS: u32 = 2;
const ACCUM: u32 = 4;

/// `[N, C, H, W]` of an f32 operand, or a shape error naming `what`.
pub(crate) fn nchw(op: &'static str, what: &str, t: &Tensor) -> Result<[usize; 4]> {
    t.expect_dtype(op, DType::F32)?;
    match *t.shape() {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(Error::shape(
            op,
            format!(
                "{what} must have rank 4 (NCHW), got shape {}",
                fmt_shape(t.shape())
            ),
        )),
    }
}

pub(super) fn u32s<const N: usize>(op: &'static str, v: [usize; N]) -> Result<[u32; N]> {
    let mut out = [0u32; N];
    for (o, &x) in out.iter_mut().zip(&v) {
        *o = u32::try_from(x).map_err(|_| Error::shape(op, "dimension exceeds u32"))?;
    }
    Ok(out)
}

pub(super) fn check_groups(
    op: &'static str,
    groups: [usize; 3],
    shape: &[usize],
) -> Result<[u32; 3]> {
    if groups.iter().any(|&g| g > MAX_GROUPS) {
        return Err(Error::shape(
            op,
            format!("output of shape {shape:?} is too large for one dispatch"),
        ));
    }
    Ok(groups.map(|g| g as u32))
}

/// Register block (output channels CB × pixels PB) and workgroup size of the gather kernel.
///
/// On a CPU adapter each per-invocation load is a gather of eight scalar loads, measured at
/// ~35 FMAs' worth on lavapipe, so large blocks pay even though their accumulators spill:
/// per CPU-second, 8×8 gave 1.2 GFLOP, 16×16 2.2, 32×16 2.8 and 32×32 4.0 — but compiling
/// took ~1.5, 2, 5 and 15 s, so CPUs use 32×16 (32×8 when there are few pixels; more pixels
/// when there are few channels). GPUs keep a register-sized 8×8 block and 64-wide workgroups.
fn gather_block(cpu: bool, cd: usize, npix: usize) -> (usize, usize, usize) {
    let cb = cd.next_power_of_two().min(if cpu { 32 } else { 8 });
    let pb = if !cpu {
        if cb >= 8 {
            8
        } else {
            16
        }
    } else if cb >= 32 {
        if npix <= 64 {
            8
        } else {
            16
        }
    } else {
        (512 / cb).min(32)
    };
    (cb, pb, if cpu { 8 } else { 64 })
}

/// The gather kernel: conv (`src` big → small) or transposed conv (`src` small → big), plus
/// bias, then `act` (in the kernel's store where the route has one, else as a pass). Checks
/// every operand against `d`. `src_copy` offers and receives the source's channels-last copy.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather_raw(
    op: &'static str,
    src: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    transposed: bool,
    src_copy: &mut SourceCopy,
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let (out, activated) = gather_route(op, src, w, bias, d, transposed, src_copy, act)?;
    match act {
        Some(a) if !activated => a.apply_raw(&out),
        _ => Ok(out),
    }
}

/// [`gather_raw`] by the route that suits the call, and whether that route applied `act`
/// in its store.
#[allow(clippy::too_many_arguments)]
fn gather_route(
    op: &'static str,
    src: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    transposed: bool,
    src_copy: &mut SourceCopy,
    act: Option<FusedAct>,
) -> Result<(Tensor, bool)> {
    let unfused = |t: Tensor| (t, false);
    let [n, cs, sh, sw] = nchw(op, "input", src)?;
    let ws = nchw(op, "weight", w)?;
    let (cd, wcs) = if transposed {
        (ws[1], ws[0])
    } else {
        (ws[0], ws[1])
    };
    let (s_hw, d_hw) = if transposed {
        (d.small, d.big)
    } else {
        (d.big, d.small)
    };
    if wcs != cs || [sh, sw] != s_hw || [ws[2], ws[3]] != d.kernel {
        return Err(Error::shape(
            op,
            format!(
                "input {} does not fit weight {} (layout {})",
                fmt_shape(src.shape()),
                fmt_shape(w.shape()),
                if transposed {
                    "[Cin, Cout, KH, KW]"
                } else {
                    "[Cout, Cin, KH, KW]"
                }
            ),
        ));
    }
    src.same_device(op, w)?;
    if let Some(b) = bias {
        b.expect_dtype(op, DType::F32)?;
        src.same_device(op, b)?;
        if b.shape() != [cd] {
            return Err(Error::shape(
                op,
                format!("bias must have shape [{cd}], got {}", fmt_shape(b.shape())),
            ));
        }
    }
    let shape = [n, cd, d_hw[0], d_hw[1]];
    let taps = d.taps();
    if shape.contains(&0) {
        return Tensor::empty(src.gpu(), &shape, DType::F32, op).map(unfused);
    }
    if cs == 0 {
        let z = Tensor::zeros(src.gpu(), &shape)?;
        return match bias {
            Some(b) => no_grad(|| z.add(&b.reshape(&[1, cd, 1, 1])?)),
            None => Ok(z),
        }
        .map(unfused);
    }
    if super::conv_winograd::applies(src.gpu(), n, cs, cd, d, transposed) {
        let y = super::conv_winograd::run(op, src, w, bias, d, transposed, [n, cs, cd], act)?;
        return Ok((y, true));
    }
    // A window that covers the whole input (one output, or for a transposed conv one input,
    // pixel): a matrix product, handled below.
    let dense = d.small == [1, 1] && d.pad == [0, 0] && d.big == d.kernel;
    if let Some(always) = gemm_mode(src.gpu()) {
        if transposed && !dense && super::conv_gemm::transposed_fits(n, cs, cd, d, always) {
            return super::conv_gemm::conv_transpose2d(src, w, bias, d, n, cs, cd).map(unfused);
        }
        if !transposed && super::conv_gemm::fits(n, cs, cd, d, always) {
            return super::conv_gemm::conv2d(src, w, bias, d, n, cs, cd).map(unfused);
        }
    }
    if transposed && !dense && through_columns(src.gpu(), [n, sh * sw, cd, taps]) {
        return super::conv_col2im::conv_transpose2d(op, src, w, bias, d, [n, cs, cd]).map(unfused);
    }
    if dense && !transposed && dense_as_matmul(src.gpu(), cd) {
        // The window covers the whole input: y[n, co] = Σ_(ci, k) x[n, (ci, k)]·w[co, (ci, k)],
        // a matrix product with one long reduction per output. The gather kernel gives each
        // output one invocation looping over all of it: dcgan-64's last layer (Co = 1) took
        // 2.5 ms on an H100 and 16.7 ms on lavapipe, as a matmul 0.1 and 3.0 ms. On CPU
        // adapters the gather kernel keeps the layers with a full channel block (the input
        // gradient of dcgan-28's first layer, Co = 100: 5 ms gathered, 13 ms as a matmul).
        let x2 = src.alias(&[n, cs * taps]);
        let w2 = w.alias(&[cd, cs * taps]);
        let y = super::matmul::matmul_bias_act_raw(&x2, &w2, false, true, bias, act)?;
        return Ok((y.alias(&shape), true));
    }
    if dense && transposed {
        // A 1×1 input is a matrix product, y[n, (co, k)] = Σ_ci x[n, ci]·w[ci, (co, k)]: run
        // it as a 1×1 conv to Co·KH·KW channels reading the weight transposed in place.
        // (As a transposed conv every pixel would try every tap to find the one that fits.)
        let one = ConvDims {
            big: [1, 1],
            small: [1, 1],
            kernel: [1, 1],
            stride: [1, 1],
            pad: [0, 0],
        };
        let (cd, w_ci) = (cd * taps, cd * taps);
        let g = Gather {
            n,
            cs,
            cd,
            d: one,
            transposed: false,
            w_co: 1,
            w_ci,
            bias_div: taps,
        };
        let (y, activated) = gather_launch(op, src, w, bias, &g, None, src_copy, act)?;
        return Ok((y.alias(&shape), activated));
    }
    if !transposed && !dense && super::conv_im2col::applies(src.gpu(), n, cs, cd, d) {
        return super::conv_im2col::conv2d(op, src, w, bias, d, [n, cs, cd], act);
    }
    let (w_co, w_ci) = if transposed {
        (taps, cd * taps)
    } else {
        (cs * taps, taps)
    };
    let g = Gather {
        n,
        cs,
        cd,
        d: *d,
        transposed,
        w_co,
        w_ci,
        bias_div: 1,
    };
    gather_launch(op, src, w, bias, &g, None, src_copy, act)
}

/// One launch of the gather kernel: `n` images, `cs` → `cd` channels, weight element
/// (co, ci, k) at co·w_co + ci·w_ci + k, output channel co adding bias[co / bias_div].
pub(super) struct Gather {
    pub n: usize,
    pub cs: usize,
    pub cd: usize,
    pub d: ConvDims,
    pub transposed: bool,
    pub w_co: usize,
    pub w_ci: usize,
    pub bias_div: usize,
}

/// Records the gather kernel for `g`; `prepared` gives channels-last operands made by the
/// caller (the vec4 variant then runs on them, and `src` is their source). Otherwise the
/// vec4 variant takes its channels-last source from `src_copy`, or makes it there. The
/// subgroup-sharing kernels apply `act` in their last store (the `bool` says whether it was
/// applied; the register-blocked kernel leaves it to the caller).
#[allow(clippy::too_many_arguments)]
pub(super) fn gather_launch(
    op: &'static str,
    src: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &Gather,
    prepared: Option<ChannelsLast>,
    src_copy: &mut SourceCopy,
    act: Option<FusedAct>,
) -> Result<(Tensor, bool)> {
    let Gather {
        n,
        cs,
        cd,
        d,
        transposed,
        w_co,
        w_ci,
        ..
    } = *g;
    let (s_hw, d_hw) = if transposed {
        (d.small, d.big)
    } else {
        (d.big, d.small)
    };
    let shape = [n, cd, d_hw[0], d_hw[1]];
    let out = Tensor::empty(src.gpu(), &shape, DType::F32, op)?;
    let (phases, jy, jx) = if transposed {
        let s = d.stride;
        (
            s[0] * s[1],
            d.big[0].div_ceil(s[0]),
            d.big[1].div_ceil(s[1]),
        )
    } else {
        (1, d.small[0], d.small[1])
    };
    let npix = n * jy * jx;
    let taps = d.taps();
    let gpu = src.gpu();
    let cpu = gpu.is_cpu();
    let mode = blocks(gpu);
    // Four input channels per load where that pays (conv_sg.rs).
    let fmas = n * cd * d_hw[0] * d_hw[1] * cs * taps / phases;
    let plan = match mode {
        Blocks::Shared(sg) => {
            let narrow = vec4_tile_no_smaller(sg, cd, npix, 1);
            let vec4 = prepared.is_some() || vec4_pays(fmas, &[cs], narrow);
            GatherPlan::new(sg, cd, npix, phases, cs, vec4)
        }
        _ => None,
    };
    if prepared.is_some() && !plan.is_some_and(|p| p.vec4_operands()) {
        // `conv_im2col::applies` checks this plan exists; reaching here is a bug.
        return Err(Error::shape(
            op,
            "channels-last operands need the vec4 gather kernel",
        ));
    }
    let cl = match &plan {
        Some(_) if prepared.is_some() => prepared,
        Some(plan) if plan.vec4_operands() => Some(ChannelsLast::new(
            op,
            src,
            w,
            [n, cs, s_hw[0] * s_hw[1], cd, taps],
            [w_co, w_ci],
            src_copy,
        )?),
        _ => None,
    };
    let (cb, pb, wg) = gather_block(mode != Blocks::Gpu, cd, npix);
    // Input channels per dispatch: all of them, unless an invocation would loop too long.
    let chunk = match &plan {
        Some(plan) => plan.channel_chunk(taps),
        None if cpu => (LOOP_BUDGET / taps.max(1)).saturating_sub(1).max(1),
        None => cs,
    };
    let dims = u32s(
        op,
        [
            n,
            cs,
            s_hw[0],
            s_hw[1],
            cd,
            d_hw[0],
            d_hw[1],
            npix,
            d.kernel[0],
            d.kernel[1],
            d.stride[0],
            d.stride[1],
            d.pad[0],
            d.pad[1],
            jy,
            jx,
            w_co,
            w_ci,
        ],
    )?;
    let (tp, tc) = plan.map_or((wg * pb, cb), |p| p.tile_dims());
    // The subgroup-sharing kernel loops over the phases itself (conv_sg.wgsl).
    let phase_groups = if plan.is_some() { 1 } else { phases };
    // Workgroups dealt into runs, one per adapter thread, where phases differ in size
    // (conv_sg.wgsl); the grid's x is rounded up to whole runs.
    let uneven = transposed && (d_hw[0] % d.stride[0] != 0 || d_hw[1] % d.stride[1] != 0);
    let chunks = match &plan {
        Some(_) if uneven => adapter_threads(),
        _ => 1,
    };
    let groups = check_groups(
        op,
        [
            npix.div_ceil(tp).div_ceil(chunks) * chunks,
            cd.div_ceil(tc),
            phase_groups,
        ],
        &shape,
    )?;
    let kernel = unrolled("conv2d", CONV_SRC, &[("CB", cb), ("PB", pb)]);
    let (cb_s, pb_s, wg_s) = (cb.to_string(), pb.to_string(), wg.to_string());
    let defs = [
        ("CB", cb_s.as_str()),
        ("PB", pb_s.as_str()),
        ("WG", wg_s.as_str()),
    ];
    // Without a bias any buffer fills binding 4 (the kernel does not read it).
    let bufs = [
        src.storage(),
        w.storage(),
        out.storage(),
        bias.unwrap_or(w).storage(),
    ];
    let (cl_binds, plain_binds) = (
        cl.as_ref().map(|cl| cl.binds(out.storage(), bufs[3])),
        bufs.map(Bind::Buffer),
    );
    let binds: &[Bind] = match &cl_binds {
        Some(b) => b,
        None => &plain_binds,
    };
    for ci0 in (0..cs).step_by(chunk) {
        // The activation goes into the store of the dispatch that completes the sums.
        let last = ci0 + chunk >= cs;
        let act_here = act.filter(|_| last);
        let mut flags = if transposed { TRANSPOSED } else { 0 };
        if ci0 == 0 && bias.is_some() {
            flags |= BIAS;
        }
        if ci0 > 0 {
            flags |= ACCUM;
        }
        let p = GatherParams {
            dims,
            ci0: ci0 as u32,
            ci1: (ci0 + chunk).min(cs) as u32,
            flags,
            bias_div: g.bias_div as u32,
            chunks: chunks as u32,
            alpha: act_here.map_or(0.0, FusedAct::alpha),
        };
        // Nominal FLOPs: every tap that lands on the output, this dispatch's input channels.
        let per_out = (ci0..(ci0 + chunk).min(cs)).len() * taps / phases;
        gpu.note_flops(2.0 * (n * cd * d_hw[0] * d_hw[1] * per_out) as f64);
        match &plan {
            Some(plan) => plan.launch(gpu, bytes_of(&p), binds, groups, ci0 > 0, act_here)?,
            None => gpu.launch(&kernel, &defs, bytes_of(&p), &bufs, groups)?,
        }
    }
    Ok((out, plan.is_some()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unroll_repeats_nested_blocks() {
        let src =
            "a\n//#unroll c 2\n  x{c}\n  //#unroll j N\n  y{c}_{j} {{K}}\n  //#end\n//#end\nb";
        let got = super::unroll(src, &[("N", 3)]);
        assert_eq!(
            got,
            "a\n  x0\n  y0_0 {{K}}\n  y0_1 {{K}}\n  y0_2 {{K}}\n  x1\n  y1_0 {{K}}\n  y1_1 {{K}}\n  y1_2 {{K}}\nb"
        );
    }
}
