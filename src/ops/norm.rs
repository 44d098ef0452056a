//! The fused kernels of batch and instance normalisation (the differentiable ops built on
//! them are in `normalize.rs`).
//!
//! The input is viewed as [A, C, B]: channel c of row a is x[(a·C + c)·B + b]. Batch norm over
//! [N, C, …] is A = N, B = the spatial size; instance norm over [N, C, H, W] is A = 1,
//! C = N·C, B = H·W. Forward: partial sums (norm_stats), per-channel mean and 1/√(var + ε)
//! plus the running-statistics update (norm_finalize), then the normalisation with the affine
//! transform and an optional leaky ReLU (norm_apply) — 3 dispatches. Backward without
//! recording: the same three shapes.
//!
//! On lavapipe a kernel's cost is mostly its count of storage loads (docs/PERFORMANCE.md), so
//! both data passes read rows as vec4 when B is a multiple of 4 (or, for B = 1, four channels
//! per vec4 when C is a multiple of 4: the BatchNorm1d of the MLPs), and the apply pass gives each
//! invocation a tile of one channel so the per-channel values and the index arithmetic are paid
//! once per tile rather than once per element (3× faster than one element per invocation).

use super::bytes_of;
use super::reduce::{even_chunks, MAX_LOOP};
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const STATS: Kernel = kernel!(
    "norm_stats",
    "norm_rows.wgsl",
    "norm_stats_bindings.wgsl",
    "norm_stats.wgsl"
);
const STATS_WORDS: Kernel = kernel!(
    "norm_stats_words",
    "norm_rows.wgsl",
    "norm_stats_bindings.wgsl",
    "norm_stats_words.wgsl"
);
const FINALIZE: Kernel = kernel!("norm_finalize", "norm_finalize.wgsl");
const APPLY: Kernel = kernel!("norm_apply", "norm_apply_tile.wgsl", "norm_apply.wgsl");
const APPLY_WORDS: Kernel = kernel!("norm_apply_words", "norm_apply_words.wgsl");

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
pub(super) struct StatsParams {
    a: u32,
    c: u32,
    bv: u32,
    rows: u32,
    pub nchunks: u32,
    /// Invocations: one per (row chunk, channel as the kernel sees it).
    pub n: u32,
    slope: f32,
    pad: u32,
}

impl StatsParams {
    /// The statistics passes' split of `v` into row chunks ([`View::chunks`]).
    pub(super) fn of(v: View, slope: f32) -> StatsParams {
        let (rows, nchunks) = v.chunks();
        StatsParams {
            a: v.a as u32,
            c: v.kernel_c() as u32,
            bv: v.bv() as u32,
            rows: rows as u32,
            nchunks: nchunks as u32,
            n: (nchunks * v.kernel_c()) as u32,
            slope,
            pad: 0,
        }
    }
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
pub(super) struct View {
    pub a: usize,
    pub c: usize,
    pub b: usize,
}

impl View {
    pub(super) fn of(op: &'static str, x: &Tensor, kind: NormKind) -> Result<View> {
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

    pub(super) fn count(&self) -> usize {
        self.a * self.b
    }

    /// How the kernels read vec4s: along B when every row of B elements is made of whole
    /// vec4s, else along the channels when B = 1 (batch norm of `[N, C]`) and C is a multiple
    /// of 4, else not at all. On lavapipe the vec4 path measured about 1.5–2× faster per
    /// element than the scalar one (fewer loop iterations and index computations per element;
    /// the load itself is not 4× cheaper).
    fn lanes(&self) -> Lanes {
        if self.b.is_multiple_of(4) {
            Lanes::AlongB
        } else if self.b == 1 && self.c.is_multiple_of(4) {
            Lanes::AlongC
        } else {
            Lanes::Scalar
        }
    }

    /// Whether the statistics and apply passes read rows that are not whole vec4s as vec4
    /// words (norm_stats_words.wgsl, norm_apply_words.wgsl): rows of more than one element
    /// (B = 49 for 7 × 7 maps) in a tensor of whole vec4s.
    fn in_words(&self) -> bool {
        self.lanes() == Lanes::Scalar && self.b > 1 && (self.a * self.c * self.b).is_multiple_of(4)
    }

    /// Channels as the statistics and apply kernels see them: C, or C/4 groups of four.
    fn kernel_c(&self) -> usize {
        match self.lanes() {
            Lanes::AlongC => self.c / 4,
            _ => self.c,
        }
    }

    /// Vectors per row of B elements.
    fn bv(&self) -> usize {
        match self.lanes() {
            Lanes::AlongB => self.b / 4,
            _ => self.b,
        }
    }

    /// WGSL template definitions of the vector type `T`, the per-channel type `S` and the
    /// helpers that turn a `T` into an `S`.
    pub(super) fn vector_defs(&self) -> [(&'static str, &'static str); 4] {
        match self.lanes() {
            Lanes::AlongB => [
                ("T", "vec4<f32>"),
                ("S", "f32"),
                ("TOTAL", "(v.x + v.y) + (v.z + v.w)"),
                ("FIRST", "v.x"),
            ],
            Lanes::AlongC => [
                ("T", "vec4<f32>"),
                ("S", "vec4<f32>"),
                ("TOTAL", "v"),
                ("FIRST", "v"),
            ],
            Lanes::Scalar => [("T", "f32"), ("S", "f32"), ("TOTAL", "v"), ("FIRST", "v")],
        }
    }

    /// Rows per chunk and number of chunks of the statistics pass: loops (over rows × vectors)
    /// under llvmpipe's cap, and enough invocations (≥ 2048) to spread over the device.
    fn chunks(&self) -> (usize, usize) {
        let max_rows = (MAX_LOOP / self.bv().max(1)).max(1);
        let want = 2048usize.div_ceil(self.kernel_c()).clamp(1, self.a);
        even_chunks(self.a, self.a.div_ceil(want).clamp(1, max_rows))
    }
}

/// Which way the normalisation kernels' vec4s run ([`View::lanes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lanes {
    Scalar,
    AlongB,
    AlongC,
}

/// Tiling of the apply pass: each invocation covers `ra` rows × `kb` vectors of one channel.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct ApplyParams {
    a: u32,
    c: u32,
    bv: u32,
    kb: u32,
    nbc: u32,
    ra: u32,
    pub n: u32,
    count: u32,
    slope: f32,
    pad: [u32; 3],
}

impl ApplyParams {
    /// About 128 elements per invocation: enough to amortise the per-channel loads and the
    /// index arithmetic (32, 64, 128 and 256 measured within noise of each other), few enough
    /// to leave ≥ 2048 invocations for the larger layers.
    pub(super) fn of(v: View, slope: f32) -> ApplyParams {
        let (bv, c) = (v.bv(), v.kernel_c());
        let per = if v.lanes() == Lanes::Scalar { 128 } else { 32 };
        let kb = bv.clamp(1, per);
        let nbc = bv.div_ceil(kb);
        let parallel = (v.a * c * nbc / 2048).max(1);
        let ra = (per / kb).clamp(1, v.a).min(parallel);
        let n = v.a.div_ceil(ra) * c * nbc;
        ApplyParams {
            a: v.a as u32,
            c: c as u32,
            bv: bv as u32,
            kb: kb as u32,
            nbc: nbc as u32,
            ra: ra as u32,
            n: n as u32,
            count: v.count() as u32,
            slope,
            pad: [0; 3],
        }
    }
}

/// The per-channel affine transform and the activation fused after it.
#[derive(Clone, Copy)]
pub(super) struct Epilogue<'a> {
    /// Weight and bias, both or neither (see [`complete_affine`]).
    pub affine: Option<(&'a Tensor, &'a Tensor)>,
    /// Slope of a leaky ReLU applied last (0: ReLU); `None`: no activation.
    pub slope: Option<f32>,
}

impl Epilogue<'_> {
    fn flags(&self) -> [(&'static str, &'static str); 2] {
        let flag = |b: bool| if b { "true" } else { "false" };
        [
            ("AFFINE", flag(self.affine.is_some())),
            ("ACT", flag(self.slope.is_some())),
        ]
    }
}

/// The weight and bias as a pair: the kernels apply both or neither, so a missing one becomes
/// its identity (weight 1, bias 0).
pub(super) fn complete_affine(
    x: &Tensor,
    c: usize,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<Option<(Tensor, Tensor)>> {
    Ok(match (weight, bias) {
        (None, None) => None,
        (Some(w), Some(b)) => Some((w.clone(), b.clone())),
        (Some(w), None) => Some((w.clone(), Tensor::zeros(x.gpu(), &[c])?)),
        (None, Some(b)) => Some((Tensor::ones(x.gpu(), &[c])?, b.clone())),
    })
}

/// Partial sums + per-channel totals. Forward: returns stats [2, C] = (mean, invstd).
/// Backward: returns [2, C] = (Σg, Σg·x̂) for `g` with `stats`, `g` first taken back through
/// the epilogue's activation.
pub(super) fn reduce_pass(
    x: &Tensor,
    g: Option<(&Tensor, &Tensor)>,
    v: View,
    eps: f32,
    running: Option<&Running>,
    epi: Epilogue,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let sp = StatsParams::of(v, epi.slope.unwrap_or(0.0));
    let (nchunks, n) = (sp.nchunks as usize, sp.n as usize);
    let part = Tensor::empty(gpu, &[2, nchunks, v.c], DType::F32, "normalize")?;
    let backward = if g.is_some() { "true" } else { "false" };
    let (gt, st) = g.unwrap_or((x, x));
    let [t, s, total, first] = v.vector_defs();
    // Only the backward statistics with an activation read the affine parameters (to
    // recompute z); every other case shares the pipeline without them.
    let epi = if g.is_some() && epi.slope.is_some() {
        epi
    } else {
        Epilogue {
            affine: None,
            slope: None,
        }
    };
    let [affine, act] = epi.flags();
    let (w, b) = epi.affine.unwrap_or((x, x));
    let (kernel, defs) = if v.in_words() {
        let (t, s) = (("T", "vec4<f32>"), ("S", "f32"));
        (
            &STATS_WORDS,
            &[("BACKWARD", backward), t, s, affine, act][..],
        )
    } else {
        (
            &STATS,
            &[("BACKWARD", backward), t, s, total, first, affine, act][..],
        )
    };
    gpu.launch(
        kernel,
        defs,
        bytes_of(&sp),
        &[
            x.storage(),
            gt.storage(),
            st.storage(),
            part.storage(),
            w.storage(),
            b.storage(),
        ],
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

/// The elementwise pass: forward normalisation with the epilogue, or the input gradient.
pub(super) fn apply_pass(
    x: &Tensor,
    g: Option<&Tensor>,
    stats: &Tensor,
    sums: Option<&Tensor>,
    epi: Epilogue,
    v: View,
) -> Result<Tensor> {
    let out = Tensor::empty(x.gpu(), x.shape(), DType::F32, "normalize")?;
    let slope = epi.slope.unwrap_or(0.0);
    let backward = ("BACKWARD", if g.is_some() { "true" } else { "false" });
    let [affine, act] = epi.flags();
    let (w, b) = epi.affine.unwrap_or((x, x));
    let buffers = [
        x.storage(),
        g.unwrap_or(x).storage(),
        stats.storage(),
        sums.unwrap_or(stats).storage(),
        w.storage(),
        b.storage(),
        out.storage(),
    ];
    if v.in_words() {
        let p = WordsParams::of(v, slope);
        let defs = [backward, affine, act];
        let groups = grid(p.n as u64, 64);
        x.gpu()
            .launch(&APPLY_WORDS, &defs, bytes_of(&p), &buffers, groups)?;
        return Ok(out);
    }
    let p = ApplyParams::of(v, slope);
    let [t, s, _, _] = v.vector_defs();
    let defs = [t, s, backward, affine, act];
    let groups = grid(p.n as u64, 64);
    x.gpu()
        .launch(&APPLY, &defs, bytes_of(&p), &buffers, groups)?;
    Ok(out)
}

/// The apply pass over vec4 words ([`View::in_words`]): each invocation owns a run of whole
/// words.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WordsParams {
    words: u32,
    run: u32,
    b: u32,
    c: u32,
    n: u32,
    count: u32,
    slope: f32,
    pad: u32,
}

impl WordsParams {
    /// Runs of up to 32 words (128 elements, as the vec4 tiles of [`ApplyParams`]), shorter
    /// where that leaves fewer than 2048 invocations.
    fn of(v: View, slope: f32) -> WordsParams {
        let words = v.a * v.c * v.b / 4;
        let run = (words / 2048).clamp(1, 32);
        WordsParams {
            words: words as u32,
            run: run as u32,
            b: v.b as u32,
            c: v.c as u32,
            n: words.div_ceil(run) as u32,
            count: v.count() as u32,
            slope,
            pad: 0,
        }
    }
}
