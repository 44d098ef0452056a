//! Index ops: row gather (embedding lookup, selecting a batch from a data set on the GPU), its
//! adjoint scatter-add, and one-hot encoding of labels.

use super::bytes_of;
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const GATHER: Kernel = kernel!("gather", "gather.wgsl");
const SCATTER_ADD: Kernel = kernel!("scatter_add", "scatter_add.wgsl");
const ONE_HOT: Kernel = kernel!("one_hot", "one_hot.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RowParams {
    rows: u32,
    width: u32,
    vocab: u32,
    n: u32,
}

fn check_index(op: &'static str, idx: &Tensor) -> Result<()> {
    idx.expect_dtype(op, DType::U32)?;
    if idx.rank() != 1 {
        return Err(Error::shape(
            op,
            format!("indices must be 1-D, got shape {:?}", idx.shape()),
        ));
    }
    Ok(())
}

impl Tensor {
    /// Rows of `self` (shape `[V, ...]`) picked by `idx` (u32, shape `[N]`) → `[N, ...]`.
    /// Works for f32 and u32 tables; an index ≥ V yields a row of zeros.
    /// Backward (f32): [`Tensor::scatter_add_rows`] of the gradient.
    pub fn gather_rows(&self, idx: &Tensor) -> Result<Tensor> {
        const OP: &str = "gather_rows";
        check_index(OP, idx)?;
        self.same_device(OP, idx)?;
        if self.rank() == 0 {
            return Err(Error::shape(OP, "cannot gather rows of a scalar"));
        }
        let vocab = self.shape()[0];
        let width: usize = self.shape()[1..].iter().product();
        let rows = idx.numel();
        let mut shape = self.shape().to_vec();
        shape[0] = rows;
        let out = Tensor::empty(self.gpu(), &shape, self.dtype(), OP)?;
        let n = rows * width;
        let p = RowParams {
            rows: rows as u32,
            width: width as u32,
            vocab: vocab as u32,
            n: n as u32,
        };
        self.gpu().launch(
            &GATHER,
            &[],
            bytes_of(&p),
            &[self.storage(), idx.storage(), out.storage()],
            grid(n as u64, 256),
        )?;
        if self.dtype() != DType::F32 {
            return Ok(out);
        }
        let idx = idx.clone();
        Ok(out.record(OP, &[self], move |b| {
            Ok(vec![Some(b.grad.scatter_add_rows(&idx, vocab)?)])
        }))
    }

    /// Sums rows of `self` (`[N, ...]`) into `vocab` rows by `idx` (`[N]`) → `[vocab, ...]`.
    /// Backward: [`Tensor::gather_rows`] of the gradient.
    pub fn scatter_add_rows(&self, idx: &Tensor, vocab: usize) -> Result<Tensor> {
        const OP: &str = "scatter_add_rows";
        check_index(OP, idx)?;
        self.expect_dtype(OP, DType::F32)?;
        if self.rank() == 0 || self.shape()[0] != idx.numel() {
            return Err(Error::shape(
                OP,
                format!(
                    "{} indices for rows of shape {:?}",
                    idx.numel(),
                    self.shape()
                ),
            ));
        }
        let rows = idx.numel();
        let width: usize = self.shape()[1..].iter().product();
        let mut shape = self.shape().to_vec();
        shape[0] = vocab;
        let out = Tensor::empty(self.gpu(), &shape, DType::F32, OP)?;
        let n = vocab * width;
        let p = RowParams {
            rows: rows as u32,
            width: width as u32,
            vocab: vocab as u32,
            n: n as u32,
        };
        self.gpu().launch(
            &SCATTER_ADD,
            &[],
            bytes_of(&p),
            &[self.storage(), idx.storage(), out.storage()],
            grid(n as u64, 256),
        )?;
        let idx = idx.clone();
        Ok(out.record(OP, &[self], move |b| {
            Ok(vec![Some(b.grad.gather_rows(&idx)?)])
        }))
    }

    /// One-hot rows (`[N, classes]`, f32) of the labels in `self` (u32, `[N]`). No gradient.
    pub fn one_hot(&self, classes: usize) -> Result<Tensor> {
        const OP: &str = "one_hot";
        check_index(OP, self)?;
        let rows = self.numel();
        let out = Tensor::empty(self.gpu(), &[rows, classes], DType::F32, OP)?;
        let n = rows * classes;
        let p: [u32; 4] = [rows as u32, classes as u32, n as u32, 0];
        self.gpu().launch(
            &ONE_HOT,
            &[],
            bytemuck::cast_slice(&p),
            &[self.storage(), out.storage()],
            grid(n as u64, 256),
        )?;
        Ok(out)
    }
}
