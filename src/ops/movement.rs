//! Layout ops: reshape (free), permute, broadcast, narrow (slice), pad-into (its adjoint) and
//! concat. All copies go through one strided-copy routine (a buffer copy where both sides are
//! one contiguous run, else the strided-copy kernel); each op's backward is another op of
//! this file, so layouts differentiate to any order.

use super::{bytes_of, contiguous_strides, norm_axis, pack8};
use crate::error::{Error, Result};
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::Tensor;

const COPY: Kernel = kernel!("copy_strided", "copy_strided.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CopyParams {
    n: u32,
    rank: u32,
    in_off: u32,
    out_off: u32,
    shape: [u32; 8],
    si: [u32; 8],
    so: [u32; 8],
}

/// out[out_off + Σ c·so] = x[in_off + Σ c·si] over the iteration `shape`.
#[allow(clippy::too_many_arguments)]
fn copy_strided(
    op: &'static str,
    x: &Tensor,
    out: &Tensor,
    shape: &[usize],
    si: &[usize],
    in_off: usize,
    so: &[usize],
    out_off: usize,
) -> Result<()> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    // Merge dimensions both sides walk contiguously, and drop size-1 dimensions.
    let (mut sh, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let (Some(&la), Some(&lb)) = (a.last(), b.last()) {
            if la == si[d] * shape[d] && lb == so[d] * shape[d] {
                let k = sh.len() - 1;
                sh[k] *= shape[d];
                a[k] = si[d];
                b[k] = so[d];
                continue;
            }
        }
        sh.push(shape[d]);
        a.push(si[d]);
        b.push(so[d]);
    }
    // One contiguous run on both sides (joining batches, narrowing rows): a buffer copy,
    // which moves memory at memcpy speed where the kernel moves an element per invocation.
    if sh.len() <= 1 && a.iter().chain(&b).all(|&s| s == 1) {
        let word = 4; // every dtype is 32 bits
        x.gpu().copy(
            x.storage(),
            (in_off * word) as u64,
            out.storage(),
            (out_off * word) as u64,
            (n * word) as u64,
        );
        return Ok(());
    }
    // The output written contiguously in whole vec4s (a broadcast or a permutation into a
    // new tensor): four elements per invocation.
    let gathered = n.is_multiple_of(4) && out_off.is_multiple_of(4) && b == contiguous_strides(&sh);
    let p = CopyParams {
        n: if gathered { n / 4 } else { n } as u32,
        rank: sh.len() as u32,
        in_off: in_off as u32,
        out_off: out_off as u32,
        shape: pack8(op, &sh)?,
        si: pack8(op, &a)?,
        so: pack8(op, &b)?,
    };
    let (index, to, store) = if gathered {
        let index = super::broadcast::index_code_x4(sh.len(), "ii", "si", "p.in_off");
        let store = "out[i + p.out_off / 4u] = vec4<u32>(x[ii0], x[ii1], x[ii2], x[ii3])";
        (index, "vec4<u32>", store)
    } else {
        let index = super::broadcast::index_code(
            sh.len(),
            &[("ii", "si", "p.in_off"), ("io", "so", "p.out_off")],
        );
        (index, "u32", "out[io] = x[ii]")
    };
    x.gpu().launch(
        &COPY,
        &[("INDEX", &index), ("TO", to), ("STORE", store)],
        bytes_of(&p),
        &[x.storage(), out.storage()],
        grid(p.n as u64, 256),
    )
}

/// A new contiguous tensor of `shape` whose element at coordinates c is
/// `x[Σ c·strides]`: any permutation or strided view of `x`'s buffer, unrecorded (for
/// kernels that want an operand in another layout, e.g. channels last).
pub(crate) fn gather_layout(
    op: &'static str,
    x: &Tensor,
    shape: &[usize],
    strides: &[usize],
) -> Result<Tensor> {
    let out = Tensor::empty(x.gpu(), shape, x.dtype(), op)?;
    copy_strided(
        op,
        x,
        &out,
        shape,
        strides,
        0,
        &contiguous_strides(shape),
        0,
    )?;
    Ok(out)
}

impl Tensor {
    /// The same elements in a new shape (shares the buffer); see also
    /// [`Tensor::reshape_infer`].
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        if numel != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot view shape {:?} ({} elements) as {shape:?} ({numel} elements)",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        Ok(self.alias(shape).record("reshape", &[self], |b| {
            Ok(vec![Some(b.grad.reshape(b.inputs[0].shape())?)])
        }))
    }

    /// Reshape where one dimension given as −1 is inferred (like PyTorch's `view(-1, ...)`).
    pub fn reshape_infer(&self, shape: &[isize]) -> Result<Tensor> {
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let unknown = shape.iter().filter(|&&d| d < 0).count();
        let resolved: Vec<usize> = match unknown {
            0 => shape.iter().map(|&d| d as usize).collect(),
            1 if known > 0 && self.numel().is_multiple_of(known) => shape
                .iter()
                .map(|&d| {
                    if d < 0 {
                        self.numel() / known
                    } else {
                        d as usize
                    }
                })
                .collect(),
            _ => {
                return Err(Error::shape(
                    "reshape",
                    format!("cannot view shape {:?} as {shape:?}", self.shape()),
                ))
            }
        };
        self.reshape(&resolved)
    }

    /// Flattens every dimension from `start` on into one.
    pub fn flatten_from(&self, start: usize) -> Result<Tensor> {
        let start = start.min(self.rank());
        let mut shape = self.shape()[..start].to_vec();
        shape.push(self.shape()[start..].iter().product());
        self.reshape(&shape)
    }

    /// Reorders dimensions: output dimension i is input dimension `dims[i]`.
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        let r = self.rank();
        let mut seen = vec![false; r];
        if dims.len() != r
            || dims
                .iter()
                .any(|&d| d >= r || std::mem::replace(&mut seen[d], true))
        {
            return Err(Error::shape(
                "permute",
                format!(
                    "{dims:?} is not a permutation of the {r} dims of {:?}",
                    self.shape()
                ),
            ));
        }
        if dims.iter().enumerate().all(|(i, &d)| i == d) {
            return Ok(self.clone());
        }
        let shape: Vec<usize> = dims.iter().map(|&d| self.shape()[d]).collect();
        let cs = contiguous_strides(self.shape());
        let si: Vec<usize> = dims.iter().map(|&d| cs[d]).collect();
        let out = Tensor::empty(self.gpu(), &shape, self.dtype(), "permute")?;
        copy_strided(
            "permute",
            self,
            &out,
            &shape,
            &si,
            0,
            &contiguous_strides(&shape),
            0,
        )?;
        let mut inv = vec![0; r];
        for (i, &d) in dims.iter().enumerate() {
            inv[d] = i;
        }
        Ok(out.record("permute", &[self], move |b| {
            Ok(vec![Some(b.grad.permute(&inv)?)])
        }))
    }

    /// Swaps two dimensions (negative counts from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let a = norm_axis("transpose", a, self.rank())?;
        let b = norm_axis("transpose", b, self.rank())?;
        let mut dims: Vec<usize> = (0..self.rank()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// Materialises the broadcast of this tensor to `shape`. Backward: [`Tensor::sum_to`].
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let target = super::broadcast::broadcast_shape("broadcast_to", &[self.shape(), shape])?;
        if target != shape {
            return Err(Error::shape(
                "broadcast_to",
                format!("cannot broadcast {:?} to {shape:?}", self.shape()),
            ));
        }
        let l = super::broadcast::layout("broadcast_to", shape, &[self.shape()])?;
        let out = Tensor::empty(self.gpu(), shape, self.dtype(), "broadcast_to")?;
        let so = contiguous_strides(&l.shape);
        copy_strided(
            "broadcast_to",
            self,
            &out,
            &l.shape,
            &l.strides[0],
            0,
            &so,
            0,
        )?;
        Ok(out.record("broadcast_to", &[self], |b| {
            Ok(vec![Some(b.grad.sum_to(b.inputs[0].shape())?)])
        }))
    }

    /// Elements `start..start+len` along `axis`. Backward: [`Tensor::pad_into`].
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let ax = norm_axis("narrow", axis, self.rank())?;
        let full = self.shape()[ax];
        if start + len > full {
            return Err(Error::shape(
                "narrow",
                format!(
                    "range {start}..{} exceeds size {full} of axis {ax} in {:?}",
                    start + len,
                    self.shape()
                ),
            ));
        }
        if start == 0 && len == full {
            return Ok(self.clone());
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = len;
        let cs = contiguous_strides(self.shape());
        let out = Tensor::empty(self.gpu(), &shape, self.dtype(), "narrow")?;
        copy_strided(
            "narrow",
            self,
            &out,
            &shape,
            &cs,
            start * cs[ax],
            &contiguous_strides(&shape),
            0,
        )?;
        Ok(out.record("narrow", &[self], move |b| {
            Ok(vec![Some(b.grad.pad_into(ax as isize, start, full)?)])
        }))
    }

    /// Places this tensor at `start` along `axis` in zeros of size `full` (the adjoint of
    /// [`Tensor::narrow`]).
    pub fn pad_into(&self, axis: isize, start: usize, full: usize) -> Result<Tensor> {
        let ax = norm_axis("pad_into", axis, self.rank())?;
        let len = self.shape()[ax];
        if start + len > full {
            return Err(Error::shape(
                "pad_into",
                format!("{len} elements at {start} exceed {full}"),
            ));
        }
        let mut shape = self.shape().to_vec();
        shape[ax] = full;
        let out = Tensor::zeros(self.gpu(), &shape)?;
        let co = contiguous_strides(&shape);
        copy_strided(
            "pad_into",
            self,
            &out,
            self.shape(),
            &contiguous_strides(self.shape()),
            0,
            &co,
            start * co[ax],
        )?;
        Ok(out.record("pad_into", &[self], move |b| {
            Ok(vec![Some(b.grad.narrow(ax as isize, start, len)?)])
        }))
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    pub fn concat(parts: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::shape("concat", "no tensors to concatenate"))?;
        let ax = norm_axis("concat", axis, first.rank())?;
        let mut shape = first.shape().to_vec();
        shape[ax] = 0;
        for p in parts {
            let ok = p.rank() == first.rank()
                && p.dtype() == first.dtype()
                && (0..p.rank()).all(|d| d == ax || p.shape()[d] == first.shape()[d]);
            if !ok {
                let all: Vec<String> = parts.iter().map(|p| format!("{:?}", p.shape())).collect();
                return Err(Error::shape(
                    "concat",
                    format!("shapes {} do not agree outside axis {ax}", all.join(", ")),
                ));
            }
            first.same_device("concat", p)?;
            shape[ax] += p.shape()[ax];
        }
        let out = Tensor::empty(first.gpu(), &shape, first.dtype(), "concat")?;
        let co = contiguous_strides(&shape);
        let mut offset = 0;
        let mut sizes = Vec::with_capacity(parts.len());
        for p in parts {
            copy_strided(
                "concat",
                p,
                &out,
                p.shape(),
                &contiguous_strides(p.shape()),
                0,
                &co,
                offset * co[ax],
            )?;
            sizes.push(p.shape()[ax]);
            offset += p.shape()[ax];
        }
        Ok(out.record("concat", parts, move |b| {
            let mut start = 0;
            let mut grads = Vec::with_capacity(sizes.len());
            for (i, &len) in sizes.iter().enumerate() {
                grads.push(if b.needs[i] {
                    Some(b.grad.narrow(ax as isize, start, len)?)
                } else {
                    None
                });
                start += len;
            }
            Ok(grads)
        }))
    }
}
