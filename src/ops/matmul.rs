//! Matrix products: `matmul` (with batch broadcasting) and `matmul_t`, which reads either
//! operand transposed in place so that backward never materialises a transpose.
//!
//! Backward of C = op(A)·op(B) with G = ∂L/∂C (each again a `matmul_t`):
//! dA = G·op(B)ᵀ (or op(B)·Gᵀ when A is read transposed), dB = op(A)ᵀ·G (or Gᵀ·op(A)).

use std::sync::OnceLock;

use super::linear_act::FusedAct;
use super::{bytes_of, env_override};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const MATMUL: Kernel = kernel!("matmul", "matmul.wgsl");

/// Which matmul kernel a device uses (chosen per adapter class; see ARCHITECTURE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// CPU adapters with usable subgroups: the lanes of a subgroup share their operand loads
    /// (`matmul_sg.wgsl`); the value is the subgroup size.
    Sharing(usize),
    /// GPUs: operand tiles staged in workgroup memory (`matmul_tiled.wgsl`).
    Tiled,
    /// Each invocation accumulates a 4×4 block in registers; no shared memory, no subgroups
    /// (CPU adapters without usable subgroups).
    RegisterBlocked,
}

impl MatmulKernel {
    /// The kernel family `gpu` runs (the tiled one on GPUs hands small products to the
    /// register-blocked one): by adapter class, unless `TAPEGAN_MATMUL_KERNEL=sharing|tiled|
    /// register` says otherwise (so one machine can test every family; `sharing` falls back
    /// to `register` where the subgroup probe fails) or `TAPEGAN_MATMUL_TILE` forces a tile
    /// of the tiled kernel.
    pub fn of(gpu: &Gpu) -> MatmulKernel {
        Self::forced(gpu).unwrap_or(if gpu.is_cpu() {
            Self::sharing(gpu)
        } else {
            MatmulKernel::Tiled
        })
    }

    /// The family the environment forces, if any.
    fn forced(gpu: &Gpu) -> Option<MatmulKernel> {
        static OVERRIDE: OnceLock<Option<String>> = OnceLock::new();
        static TILE: OnceLock<Option<String>> = OnceLock::new();
        if env_override(&TILE, "TAPEGAN_MATMUL_TILE").is_some() {
            return Some(MatmulKernel::Tiled); // forcing a tile forces the tiled kernel
        }
        match env_override(&OVERRIDE, "TAPEGAN_MATMUL_KERNEL")? {
            "sharing" => Some(Self::sharing(gpu)),
            "tiled" => Some(MatmulKernel::Tiled),
            "register" => Some(MatmulKernel::RegisterBlocked),
            _ => None,
        }
    }

    fn sharing(gpu: &Gpu) -> MatmulKernel {
        super::subgroup_probe::sharing_subgroup(gpu)
            .map_or(MatmulKernel::RegisterBlocked, MatmulKernel::Sharing)
    }

    /// The kernel for one product: on GPUs the tiled kernel only where it pays for its
    /// barriers and staging (large outputs, or a long K it can split), the register-blocked
    /// one for the many small products of an MLP step.
    fn for_problem(gpu: &Gpu, pr: &super::matmul_sg::Problem) -> MatmulKernel {
        match Self::forced(gpu) {
            Some(k) => k,
            None if gpu.is_cpu() => Self::sharing(gpu),
            None if super::matmul_tiled::pays_off(pr) => MatmulKernel::Tiled,
            None => MatmulKernel::RegisterBlocked,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    pad: u32,
    a_bs: u32,
    b_bs: u32,
    c_bs: u32,
    pad2: u32,
}

/// Splits a shape into (batch, rows, cols) for a matmul operand of rank 2 or 3.
fn mat_dims(op: &'static str, t: &Tensor) -> Result<(usize, usize, usize)> {
    match *t.shape() {
        [r, c] => Ok((1, r, c)),
        [b, r, c] => Ok((b, r, c)),
        _ => Err(Error::shape(
            op,
            format!("operands must have rank 2 or 3, got shape {:?}", t.shape()),
        )),
    }
}

/// C = op(A)·op(B) (+ bias over the columns of C) without recording.
fn matmul_raw(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    matmul_bias_raw(a, b, ta, tb, None)
}

pub(crate) fn matmul_bias_raw(
    a: &Tensor,
    b: &Tensor,
    ta: bool,
    tb: bool,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    matmul_bias_act_raw(a, b, ta, tb, bias, None)
}

/// act(op(A)·op(B) + bias), act a leaky ReLU or an ELU where given: in the product kernel's
/// store where it has the epilogue (the subgroup-sharing and tiled kernels), else as a
/// separate pass.
pub(crate) fn matmul_bias_act_raw(
    a: &Tensor,
    b: &Tensor,
    ta: bool,
    tb: bool,
    bias: Option<&Tensor>,
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let activate = |t: Tensor| match act {
        Some(f) => f.apply_raw(&t),
        None => Ok(t),
    };
    const OP: &str = "matmul";
    a.expect_dtype(OP, DType::F32)?;
    b.expect_dtype(OP, DType::F32)?;
    a.same_device(OP, b)?;
    let (ba, ar, ac) = mat_dims(OP, a)?;
    let (bb, br, bc) = mat_dims(OP, b)?;
    let (m, ka) = if ta { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if tb { (bc, br) } else { (br, bc) };
    if ka != kb || (ba != bb && ba != 1 && bb != 1) {
        return Err(Error::shape(
            OP,
            format!(
                "cannot multiply {:?}{} by {:?}{}",
                a.shape(),
                if ta { "ᵀ" } else { "" },
                b.shape(),
                if tb { "ᵀ" } else { "" }
            ),
        ));
    }
    let batch = ba.max(bb);
    let rank3 = a.rank() == 3 || b.rank() == 3;
    let shape: Vec<usize> = if rank3 { vec![batch, m, n] } else { vec![m, n] };
    if m == 0 || n == 0 || batch == 0 {
        return Tensor::empty(a.gpu(), &shape, DType::F32, OP);
    }
    if let Some(bv) = bias {
        bv.expect_dtype(OP, DType::F32)?;
        if bv.shape() != [n] {
            return Err(Error::shape(
                OP,
                format!("bias of shape {:?} for {n} output columns", bv.shape()),
            ));
        }
    }
    if ka == 0 {
        let z = Tensor::zeros(a.gpu(), &shape)?;
        return match bias {
            Some(bv) => activate(super::elementwise::binary_raw(&z, bv, OP, "x + y")?),
            None => activate(z),
        };
    }
    if ka == 1 {
        return activate(outer_product(a, b, bias, (ba, bb), m, n, rank3)?);
    }
    let pr = super::matmul_sg::Problem {
        m,
        n,
        k: ka,
        batch,
        sam: if ta { 1 } else { ka },
        sak: if ta { m } else { 1 },
        sbk: if tb { 1 } else { n },
        sbn: if tb { ka } else { 1 },
        a_bs: if ba == 1 { 0 } else { ar * ac },
        b_bs: if bb == 1 { 0 } else { br * bc },
    };
    let (sa, sb) = (a.storage(), b.storage());
    let sbias = bias.map(|t| t.storage());
    let kernel = MatmulKernel::for_problem(a.gpu(), &pr);
    if kernel == MatmulKernel::Tiled {
        return super::matmul_tiled::run(a.gpu(), &pr, sa, sb, sbias, &shape, act);
    }
    let out = Tensor::empty(a.gpu(), &shape, DType::F32, OP)?;
    if let MatmulKernel::Sharing(sg) = kernel {
        super::matmul_sg::launch(a.gpu(), sg, &pr, sa, sb, out.storage(), sbias, act)?;
        return Ok(out);
    }
    let p = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: ka as u32,
        pad: 0,
        a_bs: if ba == 1 { 0 } else { (ar * ac) as u32 },
        b_bs: if bb == 1 { 0 } else { (br * bc) as u32 },
        c_bs: (m * n) as u32,
        pad2: 0,
    };
    let groups = [n.div_ceil(32) as u32, m.div_ceil(32) as u32, batch as u32];
    if groups[0] > 65535 || groups[1] > 65535 || groups[2] > 65535 {
        return Err(Error::shape(
            OP,
            format!("product of shape {shape:?} is too large for one dispatch"),
        ));
    }
    let flag = |t: bool| if t { "true" } else { "false" };
    a.gpu().note_flops(2.0 * (batch * m * n * ka) as f64);
    a.gpu().launch(
        &MATMUL,
        &[("TA", flag(ta)), ("TB", flag(tb))],
        bytes_of(&p),
        &[a.storage(), b.storage(), out.storage()],
        groups,
    )?;
    activate(match bias {
        Some(bv) => super::elementwise::binary_raw(&out, bv, "matmul_bias", "x + y")?,
        None => out,
    })
}

/// C = op(A)·op(B) (+ bias) for K = 1, where every output is one product: the broadcasting
/// elementwise kernel computes it in one memory-bound pass, while a matmul kernel would run a
/// one-step k loop with most of its tile idle (0.14 GFLOP/s for a critic's last-layer
/// input gradient on lavapipe). With K = 1 an operand and its transpose share one layout,
/// so A is read as a column and B as a row whatever the flags.
fn outer_product(
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    (ba, bb): (usize, usize),
    m: usize,
    n: usize,
    rank3: bool,
) -> Result<Tensor> {
    a.gpu().note_flops(2.0 * (ba.max(bb) * m * n) as f64); // as the matmul kernels count K = 1
    let (col, row) = if rank3 {
        (a.alias(&[ba, m, 1]), b.alias(&[bb, 1, n]))
    } else {
        (a.alias(&[m, 1]), b.alias(&[1, n]))
    };
    match bias {
        Some(bias) => super::elementwise::ternary_raw(bias, &col, &row, "matmul", "x * y + c"),
        None => super::elementwise::binary_raw(&col, &row, "matmul", "x * y"),
    }
}

impl Tensor {
    /// Matrix product of the last two dimensions; rank-2 or rank-3 operands, a batch of 1
    /// broadcasts against the other.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// A fully connected layer, x·Wᵀ + b, with W `[out, in]` (PyTorch's layout) and the bias
    /// added by the product kernel where it can be. Backward: g·W, gᵀ·x and Σ g.
    pub fn linear(&self, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        if self.rank() != 2 || w.rank() != 2 {
            return Err(Error::shape(
                "linear",
                format!(
                    "expects x [batch, in] and W [out, in], got {:?} and {:?}",
                    self.shape(),
                    w.shape()
                ),
            ));
        }
        let out = matmul_bias_raw(self, w, false, true, bias)?;
        let mut inputs = vec![self, w];
        if let Some(b) = bias {
            inputs.push(b);
        }
        Ok(out.record("linear", &inputs, |bw| linear_grads(bw, bw.grad)))
    }

    /// op(self)·op(other), where op transposes the last two dimensions when its flag is set.
    pub fn matmul_t(&self, other: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
        let out = matmul_raw(self, other, ta, tb)?;
        Ok(out.record("matmul", &[self, other], move |bw| {
            let (a, b, g) = (&bw.inputs[0], &bw.inputs[1], bw.grad);
            let da = if bw.needs[0] {
                let d = if ta {
                    b.matmul_t(g, tb, true)?
                } else {
                    g.matmul_t(b, false, !tb)?
                };
                Some(reduce_batch(d, a)?)
            } else {
                None
            };
            let db = if bw.needs[1] {
                let d = if tb {
                    g.matmul_t(a, true, ta)?
                } else {
                    a.matmul_t(g, !ta, false)?
                };
                Some(reduce_batch(d, b)?)
            } else {
                None
            };
            Ok(vec![da, db])
        }))
    }
}

/// The gradients a linear layer's inputs (x, W and, if present, b) need, from the gradient
/// `g` of its pre-activation output: g·W, gᵀ·x and Σ g over the batch.
pub(crate) fn linear_grads(
    bw: &crate::autograd::Backward<'_>,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (x, w) = (&bw.inputs[0], &bw.inputs[1]);
    let mut grads = vec![
        bw.needs[0].then(|| g.matmul(w)).transpose()?,
        bw.needs[1]
            .then(|| g.matmul_t(x, true, false))
            .transpose()?,
    ];
    if bw.inputs.len() == 3 {
        grads.push(bw.needs[2].then(|| g.sum(&[0], false)).transpose()?);
    }
    Ok(grads)
}

/// Sums a batched gradient over the batch where the operand was broadcast.
fn reduce_batch(d: Tensor, operand: &Tensor) -> Result<Tensor> {
    if d.shape() == operand.shape() {
        return Ok(d);
    }
    if operand.rank() == 2 {
        return d.sum(&[0], false);
    }
    d.sum(&[0], true)
}
