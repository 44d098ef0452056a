//! Convolution as an implicit GEMM on the tiled matmul (`matmul_tiled.wgsl`), for GPUs.
//!
//! y[n, co, oy, ox] = Σ_(ci, ky, kx) x[n, ci, oy·s − p + ky, ox·s − p + kx] · w[co, ci, ky, kx]
//! is the product C = A·Wᵀ with rows m = (n, oy, ox), columns co and k = (ci, ky, kx): A is
//! the im2col matrix, read in place by a generated `load_a` (zero in the padding), and C is
//! written straight into NCHW by a generated `c_at`. The weight is B, read transposed in place.
//! Nothing is materialised, and the tiled kernel's shared-memory staging, register blocks and
//! split K apply unchanged. The weight gradient is the same kind of product with the im2col
//! matrix as B and K = images × output pixels (split into slices). Transposed convolutions
//! keep the gather kernel: as a GEMM most of their taps would multiply zeros.

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
    pr.k <= MAX_LOOP && pr.m > 0 && fits_grid(&pr) && (always || pays_off(&pr))
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
    };
    let bias = bias.map(|b| b.storage());
    let shape = [n, co, d.small[0], d.small[1]];
    let (a, b) = (x.storage(), w.storage());
    run_addressed(x.gpu(), &problem(n, ci, co, d), &addr, a, b, bias, &shape)
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
    pr.m * pr.n * pr.k > 0 && fits_grid(&pr) && (always || pays_off(&pr))
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
    )
}
