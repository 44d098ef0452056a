//! `Tensor`: a shape, an element type and a pooled GPU buffer, plus (when it was produced by a
//! differentiable op while gradients are recorded) the graph node that produced it.
//!
//! Tensors are always contiguous and row-major; `reshape` shares the buffer, every other
//! layout change is a copy kernel. Cloning a tensor is cheap (an `Arc`). Data reaches the host
//! only through the explicit readback calls (`to_vec`, `item`, [`Tensor::read_all`]).
//!
//! ```no_run
//! # fn main() -> tapegan::Result<()> {
//! use tapegan::{Gpu, Tensor};
//! let gpu = Gpu::new()?;
//! let a = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0], &[2, 2])?;
//! let b = a.matmul(&a)?.sum_all()?;
//! assert_eq!(b.item()?, 54.0);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::autograd::Node;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Storage};

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::U32 => "u32",
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct TensorInner {
    /// Creation order; a tensor's id is larger than those of everything it was computed from.
    pub id: u64,
    pub gpu: Gpu,
    pub storage: Arc<Storage>,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub requires_grad: AtomicBool,
    pub node: Option<Node>,
}

/// An n-dimensional array on the GPU.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

/// Formats a shape as `[300, 784]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

impl Tensor {
    /// A tensor over `storage` with no graph node.
    pub(crate) fn wrap(gpu: &Gpu, storage: Arc<Storage>, shape: &[usize], dtype: DType) -> Tensor {
        Tensor(Arc::new(TensorInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            gpu: gpu.clone(),
            storage,
            shape: shape.to_vec(),
            dtype,
            requires_grad: AtomicBool::new(false),
            node: None,
        }))
    }

    /// A tensor with uninitialised contents (every kernel writes all of its output).
    pub(crate) fn empty(
        gpu: &Gpu,
        shape: &[usize],
        dtype: DType,
        op: &'static str,
    ) -> Result<Tensor> {
        // Checked: a product that wraps (absurd settings such as z_dim = 2⁶²) would otherwise
        // allocate a small buffer for a huge shape.
        let bytes = shape
            .iter()
            .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        if bytes > gpu.max_binding_bytes() {
            return Err(Error::TooLarge {
                op,
                shape: fmt_shape(shape),
                bytes,
                limit: gpu.max_binding_bytes(),
            });
        }
        let storage = gpu.0.pool.get(bytes);
        Ok(Tensor::wrap(gpu, Arc::new(storage), shape, dtype))
    }

    /// Uploads `data` as an f32 tensor of `shape`.
    pub fn from_slice(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        check_len("from_slice", data.len(), shape)?;
        let t = Tensor::empty(gpu, shape, DType::F32, "from_slice")?;
        gpu.upload(t.storage(), 0, bytemuck::cast_slice(data))?;
        Ok(t)
    }

    /// Uploads `data` as a u32 tensor (labels, indices) of `shape`.
    pub fn from_u32(gpu: &Gpu, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        check_len("from_u32", data.len(), shape)?;
        let t = Tensor::empty(gpu, shape, DType::U32, "from_u32")?;
        gpu.upload(t.storage(), 0, bytemuck::cast_slice(data))?;
        Ok(t)
    }

    /// A scalar (rank-0) f32 tensor.
    pub fn scalar(gpu: &Gpu, v: f32) -> Result<Tensor> {
        Tensor::full(gpu, &[], v)
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }

    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    pub fn gpu(&self) -> &Gpu {
        &self.0.gpu
    }

    /// Unique id; larger ids were created later.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// Size of dimension `d`; negative counts from the end.
    pub fn dim(&self, d: isize) -> Result<usize> {
        let r = self.rank() as isize;
        let i = if d < 0 { d + r } else { d };
        if i < 0 || i >= r {
            return Err(Error::shape(
                "dim",
                format!("dimension {d} out of range for shape {:?}", self.shape()),
            ));
        }
        Ok(self.0.shape[i as usize])
    }

    /// True if gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// True if this tensor was produced by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// Marks a leaf tensor as a variable to differentiate with respect to (a parameter).
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::Autograd(
                "set_requires_grad applies to leaf tensors; use detach() first".into(),
            ));
        }
        if on && self.dtype() != DType::F32 {
            return Err(Error::DType {
                op: "set_requires_grad",
                expected: "f32",
                got: self.dtype().name(),
            });
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Builder form of [`Tensor::set_requires_grad`]`(true)`.
    pub fn with_grad(self) -> Result<Tensor> {
        self.set_requires_grad(true)?;
        Ok(self)
    }

    /// The same data, cut from the graph: a new leaf sharing this tensor's buffer.
    pub fn detach(&self) -> Tensor {
        Tensor::wrap(
            self.gpu(),
            self.0.storage.clone(),
            self.shape(),
            self.dtype(),
        )
    }

    /// A leaf sharing the buffer with a new shape (no node); used by `reshape`.
    pub(crate) fn alias(&self, shape: &[usize]) -> Tensor {
        Tensor::wrap(self.gpu(), self.0.storage.clone(), shape, self.dtype())
    }

    /// True if both tensors share one buffer.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// Overwrites this tensor's elements with `src`'s (same shape and type), in place and
    /// ordered after all recorded work. For parameters and buffers: every tensor sharing this
    /// buffer sees the new values, so never use it on a tensor a live graph still needs.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() || src.dtype() != self.dtype() {
            return Err(Error::shape(
                "assign",
                format!(
                    "cannot assign {:?} {} to {:?} {}",
                    src.shape(),
                    src.dtype().name(),
                    self.shape(),
                    self.dtype().name()
                ),
            ));
        }
        self.same_device("assign", src)?;
        if !self.shares_storage(src) {
            self.gpu()
                .copy(src.storage(), 0, self.storage(), 0, self.numel() as u64 * 4);
        }
        Ok(())
    }

    /// A copy of the data in a new buffer (like `torch.clone`); gradients pass straight through.
    pub fn deep_copy(&self) -> Result<Tensor> {
        let out = Tensor::empty(self.gpu(), self.shape(), self.dtype(), "deep_copy")?;
        self.gpu()
            .copy(self.storage(), 0, out.storage(), 0, self.numel() as u64 * 4);
        Ok(out.record("deep_copy", &[self], |b| Ok(vec![Some(b.grad.clone())])))
    }

    /// Overwrites this f32 tensor's elements from the host, in place (see [`Tensor::assign`]).
    pub fn write(&self, data: &[f32]) -> Result<()> {
        self.expect_dtype("write", DType::F32)?;
        check_len("write", data.len(), self.shape())?;
        self.gpu()
            .upload(self.storage(), 0, bytemuck::cast_slice(data))
    }

    /// Copies an f32 tensor to the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.expect_dtype("to_vec", DType::F32)?;
        let bytes = self.numel() as u64 * 4;
        let raw = self.gpu().read_many(&[(self.storage(), bytes)])?;
        Ok(bytemuck::pod_collect_to_vec(&raw[0]))
    }

    /// Copies a u32 tensor to the host.
    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        self.expect_dtype("to_vec_u32", DType::U32)?;
        let bytes = self.numel() as u64 * 4;
        let raw = self.gpu().read_many(&[(self.storage(), bytes)])?;
        Ok(bytemuck::pod_collect_to_vec(&raw[0]))
    }

    /// The value of a one-element f32 tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "item",
                format!("needs a one-element tensor, got shape {:?}", self.shape()),
            ));
        }
        Ok(self.to_vec()?[0])
    }

    /// Reads several f32 tensors of one device in a single round trip.
    pub fn read_all(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let Some(first) = tensors.first() else {
            return Ok(Vec::new());
        };
        for t in tensors {
            t.expect_dtype("read_all", DType::F32)?;
            if !t.gpu().same(first.gpu()) {
                return Err(Error::Config(
                    "read_all: tensors live on different devices".into(),
                ));
            }
        }
        let items: Vec<(&Storage, u64)> = tensors
            .iter()
            .map(|t| (t.storage(), t.numel() as u64 * 4))
            .collect();
        let raw = first.gpu().read_many(&items)?;
        Ok(raw
            .iter()
            .map(|r| bytemuck::pod_collect_to_vec(r))
            .collect())
    }

    pub(crate) fn expect_dtype(&self, op: &'static str, want: DType) -> Result<()> {
        if self.dtype() != want {
            return Err(Error::DType {
                op,
                expected: want.name(),
                got: self.dtype().name(),
            });
        }
        Ok(())
    }

    /// Checks that `other` lives on the same device.
    pub(crate) fn same_device(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if !self.gpu().same(other.gpu()) {
            return Err(Error::shape(op, "operands live on different GPU devices"));
        }
        Ok(())
    }
}

fn check_len(op: &'static str, len: usize, shape: &[usize]) -> Result<()> {
    let numel: usize = shape.iter().product();
    if len != numel {
        return Err(Error::shape(
            op,
            format!("{len} values cannot fill shape {shape:?} ({numel} elements)"),
        ));
    }
    Ok(())
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(id={}, shape={:?}, {}{}{})",
            self.id(),
            self.shape(),
            self.dtype().name(),
            if self.requires_grad() {
                ", requires_grad"
            } else {
                ""
            },
            self.0
                .node
                .as_ref()
                .map(|n| format!(", op={}", n.op))
                .unwrap_or_default()
        )
    }
}
