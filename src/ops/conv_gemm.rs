//! Convolution as an implicit GEMM on the tiled matmul (`matmul_tiled.wgsl`), for GPUs.
//!
//! y[n, co, oy, ox] = Σ_(ci, ky, kx) x[n, ci, oy·s − p + ky, ox·s − p + kx] · w[co, ci, ky, kx]
//! is the product C = A·Wᵀ with rows m = (n, oy, ox), columns co and k = (ci, ky, kx): A is
//! the im2col matrix, read in place by a generated `load_a` (zero in the padding), and C is
//! written straight into NCHW by a generated `c_at`. The weight is B, read transposed in place.
//! Nothing is materialised, and the tiled kernel's shared-memory staging, register blocks and
//! split K apply unchanged. The weight gradient is the same kind of product with the im2col
//! matrix as B and K = images × output pixels (split into slices).
//!
//! A transposed convolution is one GEMM per stride phase (output pixels with the same
//! ((y + p) mod s, (x + p) mod s)): within a phase every output pixel meets the same taps
//! k = k0 + s·t and reads input pixel q + c − t, so rows m = (image, phase pixel), columns
//! co and k = (ci, t). The plain im2col of the zero-stuffed input would multiply zeros at
//! (s² − 1)/s² of its taps; here only phases with fewer taps than the most (a kernel that is
//! not a multiple of the stride) pad their k with zero weights. The phases are the batch of
//! one dispatch.

use super::conv_geom::ConvDims;
use super::matmul_sg::Problem;
use super::matmul_tiled::{fits_grid, pays_off, run_addressed, Addressing};
use super::reduce::MAX_LOOP;
use crate::error::Result;
use crate::tensor::Tensor;

/// WGSL statements returning element (`pos`, `ct`) of the im2col matrix of `buf`
/// (`[n, c, H, W]`, the big side of `d`): `pos` = (image, small-side pixel), `ct` =
/// (channel, tap); zero where the tap falls on padding.
fn im2col(buf: &str, pos: &str, ct: &str, c: usize, d: &ConvDims) -> String {
    let ([h, w], [_, ow]) = (d.big, d.small);
    let ([sh, sw], [ph, pw]) = (d.stride, d.pad);
    let (kw, taps, ohw) = (d.kernel[1], d.taps(), d.small[0] * d.small[1]);
    format!(
        "    let img = {pos} / {ohw}u;
    let pix = {pos} % {ohw}u;
    let ch = {ct} / {taps}u;
    let tap = {ct} % {taps}u;
    let iy = i32((pix / {ow}u) * {sh}u + tap / {kw}u) - {ph};
    let ix = i32((pix % {ow}u) * {sw}u + tap % {kw}u) - {pw};
    if (iy < 0 || ix < 0 || iy >= {h} || ix >= {w}) {{ return 0.0; }}
    return {buf}[((img * {c}u + ch) * {h}u + u32(iy)) * {w}u + u32(ix)];"
    )
}

/// The geometry part of a pipeline key: big → small sizes, kernel, stride, padding.
fn geometry_key(d: &ConvDims) -> String {
    format!(
        "{:?}→{:?} k{:?} s{:?} p{:?}",
        d.big, d.small, d.kernel, d.stride, d.pad
    )
}

/// The product a convolution of `n` images, `ci` → `co` channels, is.
fn problem(n: usize, ci: usize, co: usize, d: &ConvDims) -> Problem {
    let k = ci * d.taps();
    Problem {
        m: n * d.small[0] * d.small[1],
        n: co,
        k,
        batch: 1,
        sam: 0, // A is addressed by load_a
        sak: 0,
        sbk: 1,
        sbn: k,
        a_bs: 0,
        b_bs: 0,
    }
}

/// Whether the implicit GEMM should run this convolution: K within one slice (a longer one
/// is left to the gather kernel, which splits its channel loop), the grid within the
/// dispatch limits, and a product large enough for the tiled kernel to pay (or `always`,
/// for tests).
pub(crate) fn fits(n: usize, ci: usize, co: usize, d: &ConvDims, always: bool) -> bool {
    let pr = problem(n, ci, co, d);
    pr.k <= MAX_LOOP && runs(&pr, always || pays_off(&pr))
}

/// Whether the tiled kernel runs product `pr` that the caller finds `worth` it: not empty
/// and within one dispatch grid.
fn runs(pr: &Problem, worth: bool) -> bool {
    worth && pr.m * pr.n * pr.k > 0 && fits_grid(pr)
}

/// `conv2d(x, w) + bias` for `x` `[n, ci, H, W]`, `w` `[co, ci, KH, KW]`: `[n, co, OH, OW]`.
/// The caller has checked the shapes against `d` and [`fits`].
pub(crate) fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    n: usize,
    ci: usize,
    co: usize,
) -> Result<Tensor> {
    let ohw = d.small[0] * d.small[1];
    let bodies = || {
        [
            im2col("a", "row", "k", ci, d),
            "    return b[k + col * p.sbn];".to_string(),
            format!(
                "    return z * p.c_bs + (row / {ohw}u * {co}u + col) * {ohw}u + row % {ohw}u;"
            ),
        ]
    };
    let addr = Addressing {
        // Neighbouring rows are neighbouring output pixels: the copy walks them across lanes.
        a_kfast: false,
        b_nfast: false,
        key: format!("|conv {ci}→{co} {}", geometry_key(d)),
        bodies: &bodies,
        flops: None,
    };
    let bias = bias.map(|b| b.storage());
    let shape = [n, co, d.small[0], d.small[1]];
    let (a, b) = (x.storage(), w.storage());
    run_addressed(
        x.gpu(),
        &problem(n, ci, co, d),
        &addr,
        a,
        b,
        bias,
        &shape,
        None,
    )
}

/// The product the weight gradient `Wg(big, small)` is: rows = small-side channels, columns
/// = (big-side channel, tap), k = (image, small-side pixel).
fn wgrad_problem(n: usize, cb: usize, cs: usize, d: &ConvDims) -> Problem {
    Problem {
        m: cs,
        n: cb * d.taps(),
        k: n * d.small[0] * d.small[1],
        batch: 1,
        sam: 0, // both operands are addressed by load_a / load_b
        sak: 0,
        sbk: 0,
        sbn: 0,
        a_bs: 0,
        b_bs: 0,
    }
}

/// Whether the implicit GEMM should run this weight gradient (see [`fits`]).
pub(crate) fn wgrad_fits(n: usize, cb: usize, cs: usize, d: &ConvDims, always: bool) -> bool {
    let pr = wgrad_problem(n, cb, cs, d);
    runs(&pr, always || pays_off(&pr))
}

/// `Wg(big, small)[cs, cb, ky, kx] = Σ_(n, o) small[n, cs, o] · big[n, cb, o·s − p + k]` for
/// `big` `[n, cb, H, W]` and `small` `[n, cs, OH, OW]` (the weight gradient of a convolution
/// from big to small, or of a transposed one from small to big): C = A·B with A the small
/// side read as [cs, (n, o)] and B the im2col matrix of the big side, K split into slices.
pub(crate) fn weight_grad(
    big: &Tensor,
    small: &Tensor,
    d: &ConvDims,
    n: usize,
    cb: usize,
    cs: usize,
) -> Result<Tensor> {
    let ohw = d.small[0] * d.small[1];
    let bodies = || {
        [
            format!("    return a[(k / {ohw}u * {cs}u + row) * {ohw}u + k % {ohw}u];"),
            im2col("b", "k", "col", cb, d),
            "    return z * p.c_bs + row * p.scm + col * p.scn;".to_string(),
        ]
    };
    let addr = Addressing {
        // Along k both operands walk pixels: contiguous for A, stride s for B.
        a_kfast: true,
        b_nfast: false,
        key: format!("|wgrad {cb}→{cs} {}", geometry_key(d)),
        bodies: &bodies,
        flops: None,
    };
    let shape = [cs, cb, d.kernel[0], d.kernel[1]];
    let (a, b) = (small.storage(), big.storage());
    run_addressed(
        big.gpu(),
        &wgrad_problem(n, cb, cs, d),
        &addr,
        a,
        b,
        None,
        &shape,
        None,
    )
}

/// Taps per phase of a transposed convolution along each axis (the most any phase has; a
/// phase with fewer reads zero weights for the rest), and phase pixels along each axis.
fn phase_grid(d: &ConvDims) -> ([usize; 2], [usize; 2]) {
    let [sy, sx] = d.stride;
    (
        [d.kernel[0].div_ceil(sy), d.kernel[1].div_ceil(sx)],
        [d.big[0].div_ceil(sy), d.big[1].div_ceil(sx)],
    )
}

/// The product a transposed convolution of `n` images, `ci` → `co` channels, is: one batch
/// entry per phase, `base` of `load_a`/`load_b` being the phase (batch stride 1).
fn transposed_problem(n: usize, ci: usize, co: usize, d: &ConvDims) -> Problem {
    let ([ty, tx], [jy, jx]) = phase_grid(d);
    Problem {
        m: n * jy * jx,
        n: co,
        k: ci * ty * tx,
        batch: d.stride[0] * d.stride[1],
        sam: 0, // both operands and C are addressed by the generated functions
        sak: 0,
        sbk: 0,
        sbn: 0,
        a_bs: 1,
        b_bs: 1,
    }
}

/// Output channels from which a transposed convolution runs as GEMMs by default: the
/// narrowest tile is 32 columns wide and the size-based choice may pick 128, so a generator's
/// last layer (3 channels) would waste nearly all of its FMAs; the gather kernel keeps it.
const MIN_TRANSPOSED_COLUMNS: usize = 64;

/// Whether the implicit GEMM should run this transposed convolution (see [`fits`]).
pub(crate) fn transposed_fits(n: usize, ci: usize, co: usize, d: &ConvDims, always: bool) -> bool {
    let pr = transposed_problem(n, ci, co, d);
    let wide = co >= MIN_TRANSPOSED_COLUMNS && pays_off(&pr);
    pr.k <= MAX_LOOP && runs(&pr, always || wide)
}

/// WGSL statements naming phase `ph`'s first tap `k0y`, `k0x` and the input offset `cy`,
/// `cx` of its tap 0 relative to the phase pixel.
fn phase_of(ph: &str, d: &ConvDims) -> String {
    let ([sy, sx], [py, px]) = (d.stride, d.pad);
    format!(
        "    let ry = {ph} / {sx}u;
    let rx = {ph} % {sx}u;
    let k0y = (ry + {py}u) % {sy}u;
    let k0x = (rx + {px}u) % {sx}u;
    let cy = (ry + {py}u - k0y) / {sy}u;
    let cx = (rx + {px}u - k0x) / {sx}u;
"
    )
}

/// `conv_transpose2d(x, w) + bias` for `x` `[n, ci, h, w]`, `w` `[ci, co, KH, KW]`:
/// `[n, co, H, W]`. The caller has checked the shapes against `d` and [`transposed_fits`].
pub(crate) fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: &ConvDims,
    n: usize,
    ci: usize,
    co: usize,
) -> Result<Tensor> {
    let ([ty, tx], [jy, jx]) = phase_grid(d);
    let ([h, wd], [bh, bw]) = (d.small, d.big);
    let ([kh, kw], [sy, sx]) = (d.kernel, d.stride);
    let (jyx, ttaps, phases, image) = (jy * jx, ty * tx, sy * sx, co * bh * bw);
    let bodies = || {
        [
            format!(
                "{}    let img = row / {jyx}u;
    let q = row % {jyx}u;
    let t = k % {ttaps}u;
    let iy = i32(q / {jx}u + cy) - i32(t / {tx}u);
    let ix = i32(q % {jx}u + cx) - i32(t % {tx}u);
    if (iy < 0 || ix < 0 || iy >= {h} || ix >= {wd}) {{ return 0.0; }}
    // Taps past the kernel (a phase with fewer taps) read zero rather than x, so that an
    // infinite input does not turn into 0·∞ = NaN.
    if (k0y + {sy}u * (t / {tx}u) >= {kh}u || k0x + {sx}u * (t % {tx}u) >= {kw}u) {{
        return 0.0;
    }}
    return a[((img * {ci}u + k / {ttaps}u) * {h}u + u32(iy)) * {wd}u + u32(ix)];",
                phase_of("base", d)
            ),
            format!(
                "{}    let ky = k0y + {sy}u * (k % {ttaps}u / {tx}u);
    let kx = k0x + {sx}u * (k % {tx}u);
    if (ky >= {kh}u || kx >= {kw}u) {{ return 0.0; }}
    return b[((k / {ttaps}u * {co}u + col) * {kh}u + ky) * {kw}u + kx];",
                phase_of("base", d)
            ),
            format!(
                "    let ph = z % {phases}u;
    let q = row % {jyx}u;
    let y = ph / {sx}u + {sy}u * (q / {jx}u);
    let x = ph % {sx}u + {sx}u * (q % {jx}u);
    if (y >= {bh}u || x >= {bw}u) {{ return NOWHERE; }}
    // Slice z / phases of a split K writes its own copy of the whole output (images = m / jyx:
    // the batch is not part of the pipeline key).
    let slice = z / {phases}u * (p.m / {jyx}u) * {image}u;
    return slice + ((row / {jyx}u * {co}u + col) * {bh}u + y) * {bw}u + x;"
            ),
        ]
    };
    let addr = Addressing {
        // Neighbouring rows are neighbouring phase pixels, one stride apart in the output.
        a_kfast: false,
        b_nfast: false,
        key: format!("|convt {ci}→{co} {}", geometry_key(d)),
        bodies: &bodies,
        // As the gather kernel counts: every tap that lands on the output.
        flops: Some(2.0 * (n * co * bh * bw * ci * d.taps()) as f64 / phases as f64),
    };
    let bias = bias.map(|b| b.storage());
    let shape = [n, co, bh, bw];
    let (a, b) = (x.storage(), w.storage());
    let pr = transposed_problem(n, ci, co, d);
    run_addressed(x.gpu(), &pr, &addr, a, b, bias, &shape, None)
}
