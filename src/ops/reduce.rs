//! Reductions over any set of axes: sum, mean and max.
//!
//! A set of axes is reduced one contiguous run at a time (last run first), each run as the
//! middle axis of an (outer, r, inner) view. When a run is long and the outputs are few, it is
//! split into chunks reduced by separate invocations, then the partials are reduced again —
//! on CPU adapters only when the run loads more than 64K elements in all (a second dispatch
//! costs more there than one invocation's longer loop).

use super::{bytes_of, norm_axes};
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const REDUCE: Kernel = kernel!("reduce", "reduce.wgsl");
const REDUCE_ROWS4: Kernel = kernel!("reduce_rows4", "reduce_rows4.wgsl");

/// Enough invocations to keep a GPU busy; a CPU adapter is saturated long before.
const TARGET_THREADS: usize = 4096;
/// On a CPU adapter a second pass costs a dispatch (~0.1–0.2 ms on lavapipe), more than one
/// invocation takes to fold thousands of elements; runs are split only when the single pass
/// would load more than this many elements in all.
const CPU_SINGLE_PASS_LOADS: usize = 1 << 16;
/// Shortest chunk worth its own invocation.
const MIN_CHUNK: usize = 32;
/// Longest loop one invocation may run: llvmpipe silently stops a shader invocation after
/// 65 535 loop iterations, so longer reductions are always split.
pub(crate) const MAX_LOOP: usize = 16_384;

/// Splits `total` steps into chunks of at most `most` steps: (steps per chunk, chunks), the
/// chunks as even as one size for all allows. lavapipe hands each of its threads an equal
/// count of consecutive workgroups whatever they cost, so a scrap of a last chunk leaves a
/// thread idle: the weight gradient's 1024 rows as 341 + 341 + 341 + 1 gave one thread twice
/// the other's work (256 × 4 now).
pub(crate) fn even_chunks(total: usize, most: usize) -> (usize, usize) {
    let count = total.div_ceil(most.max(1)).max(1);
    (total.div_ceil(count).max(1), count)
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    outer: u32,
    r: u32,
    inner: u32,
    chunk: u32,
    nchunks: u32,
    n: u32,
    scale: f32,
    pad: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sum,
    Max,
}

impl Kind {
    fn defs(self) -> [(&'static str, &'static str); 2] {
        match self {
            Kind::Sum => [("INIT", "0.0"), ("COMBINE", "acc + v")],
            Kind::Max => [("INIT", "-3.4028235e38"), ("COMBINE", "max(acc, v)")],
        }
    }
}

/// How one pass reads its input (reduce.wgsl, reduce_rows4.wgsl).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    /// One element per load.
    Scalar,
    /// inner % 4 == 0: vec4 along the inner axis, four outputs per invocation.
    InnerVec4,
    /// inner == 1: each row read as vec4 words, masked at its ends.
    Rows4,
}

impl Form {
    fn of(numel: usize, r: usize, inner: usize) -> Form {
        if inner.is_multiple_of(4) && inner > 0 {
            Form::InnerVec4
        } else if inner == 1 && r >= 4 && numel.is_multiple_of(4) {
            Form::Rows4
        } else {
            Form::Scalar
        }
    }

    /// Inner elements per invocation (the kernel's `p.inner` counts these groups).
    fn width(self) -> usize {
        if self == Form::InnerVec4 {
            4
        } else {
            1
        }
    }

    /// Storage loads per element of the reduced axis, per invocation.
    fn loads_per_step(self) -> f64 {
        if self == Form::Rows4 {
            0.25
        } else {
            1.0
        }
    }

    /// The kernel and its variant definitions for `kind`.
    fn kernel(self, kind: Kind) -> (&'static Kernel, Vec<(&'static str, &'static str)>) {
        let [init, combine] = kind.defs();
        match self {
            Form::Scalar => (&REDUCE, vec![init, combine, ("T", "f32")]),
            Form::InnerVec4 => (&REDUCE, vec![init, combine, ("T", "vec4<f32>")]),
            Form::Rows4 => (&REDUCE_ROWS4, vec![init, combine]),
        }
    }
}

/// Reduces the middle axis of an (outer, r, inner) view of `x`; result is (outer, inner).
fn reduce_middle(
    x: &Tensor,
    outer: usize,
    r: usize,
    inner: usize,
    kind: Kind,
    scale: f32,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let form = Form::of(x.numel(), r, inner);
    let groups = inner / form.width();
    // Invocations per chunk of the reduced axis.
    let threads = outer * groups;
    let loads = (r * threads) as f64 * form.loads_per_step();
    let small = gpu.is_cpu() && loads <= CPU_SINGLE_PASS_LOADS as f64;
    let nchunks = if !small && threads < TARGET_THREADS && r >= 2 * MIN_CHUNK {
        (TARGET_THREADS / threads.max(1)).clamp(1, r / MIN_CHUNK)
    } else {
        1
    }
    .max(r.div_ceil(MAX_LOOP));
    let (chunk, nchunks) = even_chunks(r, r.div_ceil(nchunks));
    let out = Tensor::empty(gpu, &[outer, nchunks, inner], DType::F32, "reduce")?;
    let n = outer * nchunks * groups;
    let p = ReduceParams {
        outer: outer as u32,
        r: r as u32,
        inner: groups as u32,
        chunk: chunk as u32,
        nchunks: nchunks as u32,
        n: n as u32,
        scale: if nchunks == 1 { scale } else { 1.0 },
        pad: 0,
    };
    let (kernel, defs) = form.kernel(kind);
    gpu.launch(
        kernel,
        &defs,
        bytes_of(&p),
        &[x.storage(), out.storage()],
        grid(n as u64, 256),
    )?;
    if nchunks == 1 {
        Ok(out.alias(&[outer, inner]))
    } else {
        reduce_middle(&out, outer, nchunks, inner, kind, scale)
    }
}

/// Σ over the leading axis of `x` viewed as `[s, rest]`, with no recording: `[rest]`.
pub(crate) fn sum_leading_raw(x: &Tensor, s: usize, rest: usize) -> Result<Tensor> {
    Ok(reduce_middle(x, 1, s, rest, Kind::Sum, 1.0)?.alias(&[rest]))
}

/// Reduces `axes` (sorted, unique) of `x` with no recording; keeps reduced dims as size 1.
fn reduce_raw(x: &Tensor, axes: &[usize], kind: Kind, scale: f32) -> Result<Tensor> {
    let mut shape = x.shape().to_vec();
    let mut cur = x.clone();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &a in axes {
        match runs.last_mut() {
            Some((_, end)) if *end == a => *end = a + 1,
            _ => runs.push((a, a + 1)),
        }
    }
    let last_run = runs.len().saturating_sub(1);
    for (k, &(a0, a1)) in runs.iter().enumerate().rev() {
        let outer: usize = shape[..a0].iter().product();
        let r: usize = shape[a0..a1].iter().product();
        let inner: usize = shape[a1..].iter().product();
        // The overall scale is applied once, by the first (= last-axis) pass.
        let s = if k == last_run { scale } else { 1.0 };
        cur = reduce_middle(&cur, outer, r, inner, kind, s)?;
        for d in shape.iter_mut().take(a1).skip(a0) {
            *d = 1;
        }
    }
    Ok(cur.alias(&shape))
}

fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(d, &n)| match (axes.contains(&d), keepdim) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(n),
        })
        .collect()
}

impl Tensor {
    /// Sum over `axes` (empty = all). Backward: the gradient broadcast back.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.scaled_sum("sum", axes, keepdim, false)
    }

    /// Mean over `axes` (empty = all).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.scaled_sum("mean", axes, keepdim, true)
    }

    /// Sum of all elements as a scalar.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// Mean of all elements as a scalar.
    pub fn mean_all(&self) -> Result<Tensor> {
        self.mean(&[], false)
    }

    fn scaled_sum(
        &self,
        op: &'static str,
        axes: &[isize],
        keepdim: bool,
        mean: bool,
    ) -> Result<Tensor> {
        self.expect_dtype(op, DType::F32)?;
        let ax = norm_axes(op, axes, self.rank())?;
        let count: usize = ax.iter().map(|&a| self.shape()[a]).product();
        if mean && count == 0 {
            return Err(Error::shape(op, "mean over zero elements"));
        }
        let scale = if mean { 1.0 / count as f32 } else { 1.0 };
        let out_shape = reduced_shape(self.shape(), &ax, keepdim);
        let keep_shape = reduced_shape(self.shape(), &ax, true);
        let y = reduce_raw(self, &ax, Kind::Sum, scale)?.alias(&out_shape);
        Ok(y.record(op, &[self], move |b| {
            let g = b.grad.reshape(&keep_shape)?;
            let g = if scale != 1.0 {
                g.mul_scalar(scale)?
            } else {
                g
            };
            Ok(vec![Some(g.broadcast_to(b.inputs[0].shape())?)])
        }))
    }

    /// Maximum over `axes` (empty = all).
    /// NOTE: where several elements tie for the maximum the gradient is split evenly among
    /// them (`torch.amax` semantics).
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.expect_dtype("max", DType::F32)?;
        let ax = norm_axes("max", axes, self.rank())?;
        if ax.iter().any(|&a| self.shape()[a] == 0) {
            return Err(Error::shape("max", "maximum over an empty axis"));
        }
        let out_shape = reduced_shape(self.shape(), &ax, keepdim);
        let keep_shape = reduced_shape(self.shape(), &ax, true);
        let y = reduce_raw(self, &ax, Kind::Max, 1.0)?.alias(&out_shape);
        let axes_i: Vec<isize> = ax.iter().map(|&a| a as isize).collect();
        Ok(y.record("max", &[self], move |b| {
            let x = &b.inputs[0];
            let y_keep = b.output.reshape(&keep_shape)?;
            let mask = x.compare(super::Compare::Eq, &y_keep)?;
            let count = mask.sum(&axes_i, true)?;
            let g = b.grad.reshape(&keep_shape)?.div(&count)?;
            Ok(vec![Some(mask.mul(&g)?)])
        }))
    }

    /// Sums a broadcast result back down to `shape` (the adjoint of broadcasting).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let r = self.rank();
        if shape.len() > r {
            return Err(Error::shape(
                "sum_to",
                format!("cannot sum shape {:?} to {shape:?}", self.shape()),
            ));
        }
        let off = r - shape.len();
        let mut axes = Vec::new();
        for d in 0..r {
            let target = if d < off { 1 } else { shape[d - off] };
            if d < off || (target == 1 && self.shape()[d] != 1) {
                axes.push(d as isize);
            } else if target != self.shape()[d] {
                return Err(Error::shape(
                    "sum_to",
                    format!("cannot sum shape {:?} to {shape:?}", self.shape()),
                ));
            }
        }
        if axes.is_empty() {
            return self.reshape(shape);
        }
        self.sum(&axes, true)?.reshape(shape)
    }
}
