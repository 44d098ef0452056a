//! Elementwise kernels: unary maps, broadcasting binary and ternary expressions, launched
//! without recording (the ops in `elementwise_ops.rs` record them with their gradients).
//!
//! Each unary op is one WGSL expression of `v`; each binary op one expression of `x`, `y`.
//! Scalar parameters (slopes, bounds) travel in the uniform block, so `leaky_relu(0.2)` and
//! `leaky_relu(0.3)` share a pipeline.

use super::broadcast::{broadcast_shape, layout};
use super::{bytes_of, pack8};
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const UNARY: Kernel = kernel!("unary", "unary.wgsl");
const BINARY: Kernel = kernel!("binary", "binary.wgsl");
const TERNARY: Kernel = kernel!("ternary", "ternary.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UnaryParams {
    n: u32,
    pad: u32,
    alpha: f32,
    beta: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BinaryParams {
    n: u32,
    rank: u32,
    alpha: f32,
    beta: f32,
    shape: [u32; 8],
    sa: [u32; 8],
    sb: [u32; 8],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TernaryParams {
    n: u32,
    rank: u32,
    pad: [u32; 2],
    shape: [u32; 8],
    sc: [u32; 8],
    sa: [u32; 8],
    sb: [u32; 8],
}

/// Runs the unary kernel with expression `expr` (no graph recording).
pub(crate) fn unary_raw(
    x: &Tensor,
    op: &'static str,
    expr: &str,
    alpha: f32,
    beta: f32,
) -> Result<Tensor> {
    x.expect_dtype(op, DType::F32)?;
    let y = Tensor::empty(x.gpu(), x.shape(), DType::F32, op)?;
    let numel = x.numel();
    let vec4 = numel.is_multiple_of(4);
    let (t, apply, n) = if vec4 {
        ("vec4<f32>", APPLY1_VEC4, numel / 4)
    } else {
        ("f32", "op(v)", numel)
    };
    let p = UnaryParams {
        n: n as u32,
        pad: 0,
        alpha,
        beta,
    };
    x.gpu().launch(
        &UNARY,
        &[("EXPR", expr), ("T", t), ("APPLY", apply)],
        bytes_of(&p),
        &[x.storage(), y.storage()],
        grid(n as u64, 256),
    )?;
    Ok(y)
}

/// `op` applied to each component of a vec4 `v` (unary) or of vec4s `x`, `y` (binary).
const APPLY1_VEC4: &str = "vec4<f32>(op(v.x), op(v.y), op(v.z), op(v.w))";
const APPLY2_VEC4: &str = "vec4<f32>(op(x.x, y.x), op(x.y, y.y), op(x.z, y.z), op(x.w, y.w))";

/// How the binary kernel reads one operand in its vec4 form: walking the innermost
/// dimension contiguously (a vec4 load, strides in vec4 units) or broadcast along it (a scalar
/// load, splatted). None when the operand allows neither.
fn vec4_read(strides: &[usize]) -> Option<bool> {
    match strides.last() {
        Some(1) => Some(true),
        Some(0) => Some(false),
        _ => None,
    }
}

/// Runs the broadcasting binary kernel with expression `expr` (no graph recording).
pub(crate) fn binary_raw(a: &Tensor, b: &Tensor, op: &'static str, expr: &str) -> Result<Tensor> {
    binary_raw_with(a, b, op, expr, 0.0)
}

/// [`binary_raw`] with a scalar `p.alpha` available to the expression.
pub(crate) fn binary_raw_with(
    a: &Tensor,
    b: &Tensor,
    op: &'static str,
    expr: &str,
    alpha: f32,
) -> Result<Tensor> {
    a.expect_dtype(op, DType::F32)?;
    b.expect_dtype(op, DType::F32)?;
    a.same_device(op, b)?;
    let shape = broadcast_shape(op, &[a.shape(), b.shape()])?;
    let out = Tensor::empty(a.gpu(), &shape, DType::F32, op)?;
    let n = out.numel();
    let full = [a.shape() == shape.as_slice(), b.shape() == shape.as_slice()];
    let same = full[0] && full[1];
    let mut l = layout(op, &shape, &[a.shape(), b.shape()])?;
    let reads: Option<Vec<bool>> = match l.shape.last() {
        Some(inner) if inner % 4 == 0 => l.strides.iter().map(|s| vec4_read(s)).collect(),
        _ => None,
    };
    let variant = match &reads {
        None if n.is_multiple_of(4) && full.iter().any(|&f| f) => gathered(&l, full),
        Some(reads) => {
            let (mut types, mut loads) = (["f32", "f32", "vec4<f32>"], ["a[ia]", "b[ib]"]);
            *l.shape.last_mut().expect("rank ≥ 1") /= 4;
            for (k, &vector) in reads.iter().enumerate() {
                if vector {
                    // Contiguous operand: its outer strides are multiples of the inner length;
                    // the inner stride stays 1 (one vec4).
                    let outer = l.strides[k].len() - 1;
                    l.strides[k][..outer].iter_mut().for_each(|s| *s /= 4);
                    types[k] = "vec4<f32>";
                } else {
                    loads[k] = ["vec4<f32>(a[ia])", "vec4<f32>(b[ib])"][k];
                }
            }
            Variant {
                index: index_both(&l, same),
                types,
                loads: loads.map(String::from),
                apply: APPLY2_VEC4,
                per_invocation: 4,
            }
        }
        None => Variant {
            index: index_both(&l, same),
            types: ["f32"; 3],
            loads: ["a[ia]", "b[ib]"].map(String::from),
            apply: "op(x, y)",
            per_invocation: 1,
        },
    };
    let n = n / variant.per_invocation;
    let p = BinaryParams {
        n: n as u32,
        rank: l.shape.len() as u32,
        alpha,
        beta: 0.0,
        shape: pack8(op, &l.shape)?,
        sa: pack8(op, &l.strides[0])?,
        sb: pack8(op, &l.strides[1])?,
    };
    a.gpu().launch(
        &BINARY,
        &[
            ("EXPR", expr),
            ("INDEX", &variant.index),
            ("TA", variant.types[0]),
            ("TB", variant.types[1]),
            ("TO", variant.types[2]),
            ("XLOAD", &variant.loads[0]),
            ("YLOAD", &variant.loads[1]),
            ("APPLY", variant.apply),
        ],
        bytes_of(&p),
        &[a.storage(), b.storage(), out.storage()],
        grid(n as u64, 256),
    )?;
    Ok(out)
}

/// The generated parts of one binary kernel: the index arithmetic, the element types of a,
/// b and the output, the loads of `x` and `y`, and the expression applied to them.
struct Variant {
    index: String,
    types: [&'static str; 3],
    loads: [String; 2],
    apply: &'static str,
    /// Output elements per invocation.
    per_invocation: usize,
}

/// One offset per operand (`ia`, `ib`) for output element (or vec4) `i`.
fn index_both(l: &super::broadcast::Layout, same: bool) -> String {
    if same {
        "    let ia = i;\n    let ib = i;\n".to_string()
    } else {
        super::broadcast::index_code(l.shape.len(), &[("ia", "sa", "0u"), ("ib", "sb", "0u")])
    }
}

/// Four output elements per invocation where the innermost collapsed dimension is not a
/// multiple of 4 (a `[N, C, 1, 1]` statistic broadcast over 7 × 7 planes): an operand of the
/// output's shape (`full`) is read as one vec4, the other gathered element by element (its
/// four indices computed apart), and the result stored as one vec4. On lavapipe every
/// storage access is a loop over the lanes, so this halves the accesses of the
/// one-element-per-invocation form.
fn gathered(l: &super::broadcast::Layout, full: [bool; 2]) -> Variant {
    let mut index = String::new();
    let mut loads = [String::new(), String::new()];
    let mut types = ["f32", "f32", "vec4<f32>"];
    for (k, (name, field)) in [("a", "sa"), ("b", "sb")].into_iter().enumerate() {
        if full[k] {
            types[k] = "vec4<f32>";
            loads[k] = format!("{name}[i]");
            continue;
        }
        index += &super::broadcast::index_code_x4(l.shape.len(), &format!("i{name}"), field, "0u");
        let parts: Vec<String> = (0..4).map(|j| format!("{name}[i{name}{j}]")).collect();
        loads[k] = format!("vec4<f32>({})", parts.join(", "));
    }
    Variant {
        index,
        types,
        loads,
        apply: APPLY2_VEC4,
        per_invocation: 4,
    }
}

/// Leaky ReLU of `v` with slope `p.alpha`, and its backward: g (`y`) masked by x > 0, else
/// scaled by the slope; ReLU's backward (slope 0, no multiply).
pub(crate) const LEAKY_RELU: &str = "select(p.alpha * v, v, v > 0.0)";
pub(crate) const LEAKY_RELU_BW: &str = "select(p.alpha * y, y, x > 0.0)";
pub(crate) const RELU_BW: &str = "select(0.0, y, x > 0.0)";

/// A leaky ReLU of `slope` without recording (slope 0: ReLU, max(v, 0)), for the product
/// epilogues a kernel could not apply itself.
pub(crate) fn leaky_relu_raw(x: &Tensor, slope: f32) -> Result<Tensor> {
    if slope == 0.0 {
        unary_raw(x, "relu", "max(v, 0.0)", 0.0, 0.0)
    } else {
        unary_raw(x, "leaky_relu", LEAKY_RELU, slope, 0.0)
    }
}

/// ELU of `v` with α = `p.alpha` (expm1 accurate near 0), as its own kernel and as the product
/// kernels' store applies it (`elu` in matmul_strided.wgsl).
pub(crate) const ELU: &str = "select(p.alpha * expm1(v), v, v > 0.0)";

/// An ELU of `alpha` without recording, for the product epilogues a kernel could not apply
/// itself.
pub(crate) fn elu_raw(x: &Tensor, alpha: f32) -> Result<Tensor> {
    unary_raw(x, "elu", ELU, alpha, 0.0)
}

/// Runs the broadcasting ternary kernel with expression `expr` of `c`, `x`, `y`.
pub(crate) fn ternary_raw(
    c: &Tensor,
    a: &Tensor,
    b: &Tensor,
    op: &'static str,
    expr: &str,
) -> Result<Tensor> {
    for t in [c, a, b] {
        t.expect_dtype(op, DType::F32)?;
        a.same_device(op, t)?;
    }
    let shape = broadcast_shape(op, &[c.shape(), a.shape(), b.shape()])?;
    let out = Tensor::empty(a.gpu(), &shape, DType::F32, op)?;
    let n = out.numel();
    let l = layout(op, &shape, &[c.shape(), a.shape(), b.shape()])?;
    let p = TernaryParams {
        n: n as u32,
        rank: l.shape.len() as u32,
        pad: [0; 2],
        shape: pack8(op, &l.shape)?,
        sc: pack8(op, &l.strides[0])?,
        sa: pack8(op, &l.strides[1])?,
        sb: pack8(op, &l.strides[2])?,
    };
    let index = super::broadcast::index_code(
        l.shape.len(),
        &[("ic", "sc", "0u"), ("ia", "sa", "0u"), ("ib", "sb", "0u")],
    );
    a.gpu().launch(
        &TERNARY,
        &[("EXPR", expr), ("INDEX", &index)],
        bytes_of(&p),
        &[c.storage(), a.storage(), b.storage(), out.storage()],
        grid(n as u64, 256),
    )?;
    Ok(out)
}
