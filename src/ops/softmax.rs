//! Softmax and log-softmax along the last axis as differentiable ops with fused kernels
//! (`shaders/softmax_rows.wgsl` on CPU adapters, `shaders/softmax_wg.wgsl` on GPUs).
//! Log-softmax is the heart of the cross-entropy losses; fused it is one dispatch instead of
//! six (max, subtract, exp, sum, log, subtract).
//!
//! Attention spends much of its time here: SAGAN's 32×32 attention map is a softmax over
//! rows of 1,024 scores for every position, whose composed form (max, subtract, exp, sum,
//! divide) made five passes and ten storage accesses per element. The fused forward makes two
//! reads and one write; the fused backward dx = y·(g − Σ g·y) three reads and one write.
//!
//! The backward rule runs the fused kernel when it is not being recorded; under
//! `create_graph` it is the same formula in tensor ops on the recorded output y
//! (log-softmax: dx = g − exp(y)·Σ g), so both differentiate to any order. Other axes, and
//! rows longer than one invocation may loop over, use the composed form.

use std::sync::OnceLock;

use super::reduce::MAX_LOOP;
use super::{bytes_of, env_override};
use crate::autograd::is_recording;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::tensor::{DType, Tensor};

/// The softmax kernels: the shared prefix (`shaders/softmax_common.wgsl`) and their bodies.
const ROWS: Kernel = crate::kernel!("softmax_rows", "softmax_common.wgsl", "softmax_rows.wgsl");
const WORKGROUP: Kernel = crate::kernel!("softmax_wg", "softmax_common.wgsl", "softmax_wg.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    len: u32,
    pad: [u32; 2],
}

/// Which kernel family runs: one invocation per row on CPU adapters, one workgroup per row on
/// GPUs — unless `TAPEGAN_SOFTMAX_KERNEL=rows|workgroup` says otherwise (so one machine can
/// test both).
fn per_row_invocation(x: &Tensor) -> bool {
    static OVERRIDE: OnceLock<Option<String>> = OnceLock::new();
    match env_override(&OVERRIDE, "TAPEGAN_SOFTMAX_KERNEL") {
        Some("rows") => true,
        Some("workgroup") => false,
        _ => x.gpu().is_cpu(),
    }
}

/// True when the fused kernels handle softmax of `x` along `axis`.
fn fused(x: &Tensor, axis: isize) -> bool {
    let rank = x.rank() as isize;
    let last = rank > 0 && (axis == -1 || axis == rank - 1);
    let len = x.shape().last().copied().unwrap_or(0);
    last && x.dtype() == DType::F32 && x.numel() > 0 && len <= MAX_LOOP
}

/// Forward (`g` None: `a` is x) or backward (`a` is y, `g` the incoming gradient) of softmax,
/// or of log-softmax when `log`.
fn launch(a: &Tensor, g: Option<&Tensor>, log: bool) -> Result<Tensor> {
    let len = *a.shape().last().expect("fused softmax has rank ≥ 1");
    let rows = a.numel() / len;
    let vec4 = len.is_multiple_of(4);
    let (t, hmax, hsum, unit) = if vec4 {
        (
            "vec4<f32>",
            "max(max(v.x, v.y), max(v.z, v.w))",
            "(v.x + v.y) + (v.z + v.w)",
            4,
        )
    } else {
        ("f32", "v", "v", 1)
    };
    let params = Params {
        rows: rows as u32,
        len: (len / unit) as u32,
        pad: [0; 2],
    };
    let out = Tensor::empty(a.gpu(), a.shape(), DType::F32, "softmax")?;
    let (kernel, groups) = if per_row_invocation(a) {
        (&ROWS, grid(rows as u64, 64))
    } else {
        (&WORKGROUP, grid(rows as u64, 1))
    };
    let flag = |on: bool| if on { "true" } else { "false" };
    let b = g.unwrap_or(a);
    a.gpu().launch(
        kernel,
        &[
            ("T", t),
            ("HMAX", hmax),
            ("HSUM", hsum),
            ("BACKWARD", flag(g.is_some())),
            ("LOG", flag(log)),
        ],
        bytes_of(&params),
        &[a.storage(), b.storage(), out.storage()],
        groups,
    )?;
    Ok(out)
}

impl Tensor {
    /// Softmax along `axis`: exp(x − max) / Σ exp(x − max), which never overflows.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        if !fused(self, axis) {
            return self.softmax_composed(axis);
        }
        let out = launch(self, None, false)?;
        Ok(out.record("softmax", &[self], move |bw| {
            if !bw.needs[0] {
                return Ok(vec![None]);
            }
            let (y, g) = (bw.output, bw.grad);
            let dx = if is_recording() {
                y.mul(&g.sub(&g.mul(y)?.sum(&[-1], true)?)?)?
            } else {
                launch(y, Some(g), false)?
            };
            Ok(vec![Some(dx)])
        }))
    }

    /// log(softmax(x)) along `axis`, as x − m − log Σ exp(x − m) (m the maximum), which never
    /// overflows.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        if !fused(self, axis) {
            let m = self.max(&[axis], true)?.detach();
            let z = self.sub(&m)?;
            return z.sub(&z.exp()?.sum(&[axis], true)?.log()?);
        }
        let out = launch(self, None, true)?;
        Ok(out.record("log_softmax", &[self], move |bw| {
            if !bw.needs[0] {
                return Ok(vec![None]);
            }
            let (y, g) = (bw.output, bw.grad);
            let dx = if is_recording() {
                g.sub(&y.exp()?.mul(&g.sum(&[-1], true)?)?)?
            } else {
                launch(y, Some(g), true)?
            };
            Ok(vec![Some(dx)])
        }))
    }

    /// Softmax composed from differentiable primitives. The row maximum is subtracted first
    /// (treated as a constant: softmax is shift-invariant, so this changes no gradient).
    fn softmax_composed(&self, axis: isize) -> Result<Tensor> {
        let m = self.max(&[axis], true)?.detach();
        let e = self.sub(&m)?.exp()?;
        e.div(&e.sum(&[axis], true)?)
    }
}
