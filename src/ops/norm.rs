//! Batch and instance normalisation as one differentiable op with fused kernels.
//!
//! The input is viewed as [A, C, B]: channel c of row a is x[(a·C + c)·B + b]. Batch norm over
//! [N, C, …] is A = N, B = the spatial size; instance norm over [N, C, H, W] is A = 1,
//! C = N·C, B = H·W. Forward: partial sums (norm_stats), per-channel mean and 1/√(var + ε)
//! plus the running-statistics update (norm_finalize), then the normalisation with the affine
//! transform (norm_apply) — 3 dispatches. Backward without recording: the same three shapes.
//!
//! On lavapipe a kernel's cost is mostly its count of storage loads (docs/PERFORMANCE.md), so
//! both data passes read rows as vec4 when B is a multiple of 4, and the apply pass gives each
//! invocation a tile of one channel so the per-channel values and the index arithmetic are paid
//! once per tile rather than once per element (3× faster than one element per invocation).
//!
//! The backward rule, when it is itself recorded (`create_graph`), is the composed formula
//! dx = invstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)) written in tensor ops with the statistics
//! recomputed from x — so a gradient penalty differentiates through normalisation exactly.

use super::bytes_of;
use super::reduce::MAX_LOOP;
use crate::autograd::is_recording;
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const STATS: Kernel = kernel!("norm_stats", "norm_stats.wgsl");
const FINALIZE: Kernel = kernel!("norm_finalize", "norm_finalize.wgsl");
const APPLY: Kernel = kernel!("norm_apply", "norm_apply.wgsl");

/// Which statistics a normalisation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormKind {
    /// Per channel over the batch and spatial positions (`[N, C, …]`).
    Batch,
    /// Per sample and channel over the spatial positions (`[N, C, H, W]`).
    Instance,
}

/// Running statistics to update in place during a training forward.
pub struct Running<'a> {
    pub mean: &'a Tensor,
    pub var: &'a Tensor,
    pub momentum: f32,
    /// Multiply the batch variance by n/(n−1) (PyTorch) rather than 1 (Keras).
    pub unbiased: bool,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StatsParams {
    a: u32,
    c: u32,
    bv: u32,
    rows: u32,
    nchunks: u32,
    n: u32,
    pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FinalizeParams {
    c: u32,
    b: u32,
    nchunks: u32,
    count: u32,
    eps: f32,
    momentum: f32,
    unbias: f32,
    pad: u32,
}

#[derive(Clone, Copy, Debug)]
struct View {
    a: usize,
    c: usize,
    b: usize,
}

impl View {
    fn of(op: &'static str, x: &Tensor, kind: NormKind) -> Result<View> {
        let s = x.shape();
        match kind {
            NormKind::Batch if s.len() >= 2 => Ok(View {
                a: s[0],
                c: s[1],
                b: s[2..].iter().product(),
            }),
            NormKind::Instance if s.len() == 4 => Ok(View {
                a: 1,
                c: s[0] * s[1],
                b: s[2] * s[3],
            }),
            _ => Err(Error::shape(
                op,
                format!("cannot normalise a tensor of shape {s:?}"),
            )),
        }
    }

    fn count(&self) -> usize {
        self.a * self.b
    }

    /// Elements per vector load: 4 when every row of B elements is made of whole vec4s, else 1.
    /// On lavapipe the vec4 path measured about 1.5–2× faster per element than the scalar one
    /// (fewer loop iterations and index computations per element; the load itself is not 4×
    /// cheaper).
    fn width(&self) -> usize {
        if self.b % 4 == 0 {
            4
        } else {
            1
        }
    }

    /// WGSL template definitions of the vector type `T` and its helpers.
    fn vector_defs(&self) -> [(&'static str, &'static str); 3] {
        if self.width() == 4 {
            [
                ("T", "vec4<f32>"),
                ("TOTAL", "(v.x + v.y) + (v.z + v.w)"),
                ("FIRST", "v.x"),
            ]
        } else {
            [("T", "f32"), ("TOTAL", "v"), ("FIRST", "v")]
        }
    }

    /// Rows per chunk and number of chunks of the statistics pass: loops (over rows × vectors)
    /// under llvmpipe's cap, and enough invocations (≥ 2048) to spread over the device.
    fn chunks(&self) -> (usize, usize) {
        let bv = self.b / self.width();
        let max_rows = (MAX_LOOP / bv.max(1)).max(1);
        let want = 2048usize.div_ceil(self.c).clamp(1, self.a);
        let rows = self.a.div_ceil(want).clamp(1, max_rows);
        (rows, self.a.div_ceil(rows))
    }
}

/// Tiling of the apply pass: each invocation covers `ra` rows × `kb` vectors of one channel.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ApplyParams {
    a: u32,
    c: u32,
    bv: u32,
    kb: u32,
    nbc: u32,
    ra: u32,
    n: u32,
    count: u32,
}

impl ApplyParams {
    /// About 128 elements per invocation: enough to amortise the per-channel loads and the
    /// index arithmetic (32, 64, 128 and 256 measured within noise of each other), few enough
    /// to leave ≥ 2048 invocations for the larger layers.
    fn of(v: View) -> ApplyParams {
        let bv = v.b / v.width();
        let per = 128 / v.width();
        let kb = bv.clamp(1, per);
        let nbc = bv.div_ceil(kb);
        let parallel = (v.a * v.c * nbc / 2048).max(1);
        let ra = (per / kb).clamp(1, v.a).min(parallel);
        let n = v.a.div_ceil(ra) * v.c * nbc;
        ApplyParams {
            a: v.a as u32,
            c: v.c as u32,
            bv: bv as u32,
            kb: kb as u32,
            nbc: nbc as u32,
            ra: ra as u32,
            n: n as u32,
            count: v.count() as u32,
        }
    }
}

/// Partial sums + per-channel totals. Forward: returns stats [2, C] = (mean, invstd).
/// Backward: returns [2, C] = (Σg, Σg·x̂) for `g` with `stats`.
fn reduce_pass(
    x: &Tensor,
    g: Option<(&Tensor, &Tensor)>,
    v: View,
    eps: f32,
    running: Option<&Running>,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let (rows, nchunks) = v.chunks();
    let part = Tensor::empty(gpu, &[2, nchunks, v.c], DType::F32, "normalize")?;
    let n = nchunks * v.c;
    let sp = StatsParams {
        a: v.a as u32,
        c: v.c as u32,
        bv: (v.b / v.width()) as u32,
        rows: rows as u32,
        nchunks: nchunks as u32,
        n: n as u32,
        pad: [0; 2],
    };
    let backward = if g.is_some() { "true" } else { "false" };
    let (gt, st) = g.unwrap_or((x, x));
    let [t, total, first] = v.vector_defs();
    gpu.launch(
        &STATS,
        &[("BACKWARD", backward), t, total, first],
        bytes_of(&sp),
        &[x.storage(), gt.storage(), st.storage(), part.storage()],
        grid(n as u64, 64),
    )?;
    let out = Tensor::empty(gpu, &[2, v.c], DType::F32, "normalize")?;
    let count = v.count();
    let fp = FinalizeParams {
        c: v.c as u32,
        b: v.b as u32,
        nchunks: nchunks as u32,
        count: count as u32,
        eps,
        momentum: running.map_or(0.0, |r| r.momentum),
        unbias: match running {
            Some(r) if r.unbiased && count > 1 => count as f32 / (count - 1) as f32,
            _ => 1.0,
        },
        pad: 0,
    };
    let (rm, rv) = running.map_or((&out, &out), |r| (r.mean, r.var));
    let flag = |b: bool| if b { "true" } else { "false" };
    gpu.launch(
        &FINALIZE,
        &[("BACKWARD", backward), ("RUNNING", flag(running.is_some()))],
        bytes_of(&fp),
        &[
            part.storage(),
            x.storage(),
            out.storage(),
            rm.storage(),
            rv.storage(),
        ],
        grid(v.c as u64, 64),
    )?;
    Ok(out)
}

/// The elementwise pass: forward normalisation, or the input gradient.
fn apply_pass(
    x: &Tensor,
    g: Option<&Tensor>,
    stats: &Tensor,
    sums: Option<&Tensor>,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    v: View,
) -> Result<Tensor> {
    let out = Tensor::empty(x.gpu(), x.shape(), DType::F32, "normalize")?;
    let p = ApplyParams::of(v);
    let flag = |b: bool| if b { "true" } else { "false" };
    x.gpu().launch(
        &APPLY,
        &[
            v.vector_defs()[0],
            ("BACKWARD", flag(g.is_some())),
            ("AFFINE", flag(w.is_some())),
        ],
        bytes_of(&p),
        &[
            x.storage(),
            g.unwrap_or(x).storage(),
            stats.storage(),
            sums.unwrap_or(stats).storage(),
            w.unwrap_or(x).storage(),
            b.unwrap_or(x).storage(),
            out.storage(),
        ],
        grid(p.n as u64, 64),
    )?;
    Ok(out)
}

/// Axes the statistics reduce over, for the composed (recorded) backward.
fn stat_axes(kind: NormKind, rank: usize) -> Vec<isize> {
    match kind {
        NormKind::Batch => (0..rank as isize).filter(|&d| d != 1).collect(),
        NormKind::Instance => vec![2, 3],
    }
}

/// Per-channel vector shaped to broadcast against `x` (`[1, C, 1, …]`).
fn channel_view(t: &Tensor, rank: usize) -> Result<Tensor> {
    let mut s = vec![1; rank];
    s[1] = t.numel();
    t.reshape(&s)
}

impl Tensor {
    /// Normalises with given per-channel statistics (batch norm in evaluation mode):
    /// (x − mean)/√(var + ε)·w + b in one pass. Backward: g·w/√(var + ε), Σ g·x̂, Σ g.
    pub fn normalize_with(
        &self,
        mean: &Tensor,
        var: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<Tensor> {
        const OP: &str = "normalize_with";
        let v = View::of(OP, self, NormKind::Batch)?;
        if self.numel() == 0 {
            return Tensor::zeros(self.gpu(), self.shape()); // an empty batch, as PyTorch
        }
        for t in [Some(mean), Some(var), weight, bias].into_iter().flatten() {
            if t.shape() != [v.c] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "per-channel tensor of shape {:?} for input {:?}",
                        t.shape(),
                        self.shape()
                    ),
                ));
            }
        }
        let invstd = var.add_scalar(eps)?.rsqrt()?;
        let stats = Tensor::concat(&[&mean.detach(), &invstd.detach()], 0)?.reshape(&[2, v.c])?;
        let out = apply_pass(self, None, &stats, None, weight, bias, v)?;
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        let (mean, invstd) = (mean.detach(), invstd.detach());
        Ok(out.record(OP, &inputs, move |bw| {
            let r = bw.inputs[0].rank();
            let (m, is) = (channel_view(&mean, r)?, channel_view(&invstd, r)?);
            let scale = match has_w.then(|| &bw.inputs[1]) {
                Some(w) => channel_view(w, r)?.mul(&is)?,
                None => is.clone(),
            };
            let mut grads = vec![if bw.needs[0] {
                Some(bw.grad.mul(&scale)?)
            } else {
                None
            }];
            let axes = stat_axes(NormKind::Batch, r);
            if has_w {
                let xhat = bw.inputs[0].sub(&m)?.mul(&is)?;
                grads.push(if bw.needs[1] {
                    Some(bw.grad.mul(&xhat)?.sum(&axes, false)?)
                } else {
                    None
                });
            }
            if has_b {
                let i = grads.len();
                grads.push(if bw.needs[i] {
                    Some(bw.grad.sum(&axes, false)?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }

    /// Normalises with the statistics of this batch (training-mode batch norm, or instance
    /// norm), then applies the optional per-channel affine transform; updates `running` in
    /// place. NOTE: ε is added to the biased variance inside the square root.
    pub fn normalize(
        &self,
        kind: NormKind,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
        running: Option<Running>,
    ) -> Result<Tensor> {
        const OP: &str = "normalize";
        self.expect_dtype(OP, DType::F32)?;
        let v = View::of(OP, self, kind)?;
        let channels = self.shape()[1];
        if kind == NormKind::Instance && (weight.is_some() || bias.is_some()) {
            return Err(Error::shape(
                OP,
                "instance normalisation takes no affine parameters here",
            ));
        }
        for t in [weight, bias].into_iter().flatten() {
            if t.shape() != [channels] {
                return Err(Error::shape(
                    OP,
                    format!(
                        "per-channel parameter of shape {:?} for input {:?}",
                        t.shape(),
                        self.shape()
                    ),
                ));
            }
        }
        if v.count() < 2 || self.numel() == 0 {
            let what = match kind {
                NormKind::Batch => "batch statistics need more than one value per channel",
                NormKind::Instance => "instance statistics need more than one position per channel",
            };
            return Err(Error::shape(
                OP,
                format!("{what}, got input {:?}", self.shape()),
            ));
        }
        if v.b > MAX_LOOP {
            return Err(Error::shape(
                OP,
                format!(
                    "{} positions per channel exceed the supported {MAX_LOOP}",
                    v.b
                ),
            ));
        }
        let stats = reduce_pass(self, None, v, eps, running.as_ref())?;
        let out = apply_pass(self, None, &stats, None, weight, bias, v)?;
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        Ok(out.record(OP, &inputs, move |bw| {
            let x = &bw.inputs[0];
            let w = has_w.then(|| &bw.inputs[1]);
            let wi = 1;
            let bi = if has_w { 2 } else { 1 };
            if is_recording() {
                return composed_backward(x, w, bw.grad, kind, eps, has_b, bw.needs);
            }
            let sums = reduce_pass(x, Some((bw.grad, &stats)), v, eps, None)?;
            let mut grads = vec![if bw.needs[0] {
                Some(apply_pass(
                    x,
                    Some(bw.grad),
                    &stats,
                    Some(&sums),
                    w,
                    None,
                    v,
                )?)
            } else {
                None
            }];
            // sums = [Σg; Σg·x̂] per channel (affine parameters exist for batch norm only).
            let per_channel =
                |row: usize| -> Result<Tensor> { sums.narrow(0, row, 1)?.reshape(&[v.c]) };
            if has_w {
                grads.push(if bw.needs[wi] {
                    Some(per_channel(1)?)
                } else {
                    None
                });
            }
            if has_b {
                grads.push(if bw.needs[bi] {
                    Some(per_channel(0)?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }
}

/// The backward rule in tensor ops (used when the backward pass is recorded).
fn composed_backward(
    x: &Tensor,
    w: Option<&Tensor>,
    g: &Tensor,
    kind: NormKind,
    eps: f32,
    has_b: bool,
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let axes = stat_axes(kind, x.rank());
    let mean = x.mean(&axes, true)?;
    let xc = x.sub(&mean)?;
    let invstd = xc.square()?.mean(&axes, true)?.add_scalar(eps)?.rsqrt()?;
    let xhat = xc.mul(&invstd)?;
    let gw = match w {
        Some(w) => g.mul(&channel_view(w, x.rank())?)?,
        None => g.clone(),
    };
    let dx = if needs[0] {
        let t = gw
            .sub(&gw.mean(&axes, true)?)?
            .sub(&xhat.mul(&gw.mul(&xhat)?.mean(&axes, true)?)?)?;
        Some(t.mul(&invstd)?)
    } else {
        None
    };
    let per_channel =
        |t: Tensor| -> Result<Tensor> { t.sum(&stat_axes(NormKind::Batch, x.rank()), false) };
    let mut grads = vec![dx];
    if w.is_some() {
        grads.push(if needs[1] {
            Some(per_channel(g.mul(&xhat)?)?)
        } else {
            None
        });
    }
    if has_b {
        let i = grads.len();
        grads.push(if needs[i] {
            Some(per_channel(g.clone())?)
        } else {
            None
        });
    }
    Ok(grads)
}
