//! Differentiable tensor ops. Each file holds one family: the kernel launch of each op and,
//! beside it, its backward rule written in tensor ops (so backward can be recorded and
//! differentiated again).

pub(crate) mod broadcast;
mod conv;
mod conv_channels_last;
mod conv_col2im;
mod conv_family;
mod conv_gemm;
mod conv_geom;
mod conv_im2col;
mod conv_launch;
mod conv_sg;
mod conv_sg_tiles;
mod conv_sg_wgrad;
mod conv_wgrad;
mod conv_winograd;
mod conv_winograd_wgrad;
mod creation;
mod cross_entropy;
mod dropout;
mod elementwise;
mod elementwise_ops;
mod index;
mod linear_act;
pub mod losses;
mod matmul;
mod matmul_sg;
mod matmul_sg_store;
mod matmul_sg_vec;
mod matmul_tiled;
mod movement;
mod norm;
mod norm_grad;
mod normalize;
mod operand_source;
mod random;
mod reduce;
mod softmax;
mod subgroup_probe;
mod transpose;

pub use conv_geom::{Conv2dGeom, Padding};
pub use elementwise_ops::Compare;
pub(crate) use linear_act::FusedAct;
pub use matmul::MatmulKernel;
pub use norm::{NormKind, Running};
pub use random::Generator;

use crate::error::{Error, Result};

/// Largest rank the strided kernels address (after collapsing dimensions).
pub const MAX_RANK: usize = 8;

/// Packs up to eight indices for a uniform block (`array<vec4<u32>, 2>` in WGSL).
pub(crate) fn pack8(op: &'static str, v: &[usize]) -> Result<[u32; 8]> {
    if v.len() > MAX_RANK {
        return Err(Error::shape(
            op,
            format!("rank {} exceeds the supported {MAX_RANK}", v.len()),
        ));
    }
    let mut out = [0u32; 8];
    for (o, &x) in out.iter_mut().zip(v) {
        *o = u32::try_from(x).map_err(|_| Error::shape(op, "dimension exceeds u32"))?;
    }
    Ok(out)
}

/// Row-major strides of a contiguous tensor of `shape`.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Resolves a possibly negative axis against `rank`.
pub(crate) fn norm_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(Error::shape(
            op,
            format!("axis {axis} is out of range for a tensor of rank {rank}"),
        ));
    }
    Ok(a as usize)
}

/// Resolves, sorts and de-duplicates a list of axes (empty = all axes).
pub(crate) fn norm_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut v = axes
        .iter()
        .map(|&a| norm_axis(op, a, rank))
        .collect::<Result<Vec<_>>>()?;
    v.sort_unstable();
    let n = v.len();
    v.dedup();
    if v.len() != n {
        return Err(Error::shape(op, format!("repeated axis in {axes:?}")));
    }
    Ok(v)
}

/// The environment variables that force a kernel family (tests use them to check every family
/// on one machine), with the values each accepts.
const KERNEL_OVERRIDES: &[(&str, &[&str])] = &[
    ("TAPEGAN_MATMUL_KERNEL", &["sharing", "tiled", "register"]),
    (
        "TAPEGAN_CONV_BLOCKS",
        &[
            "gemm", "gpu", "cpu", "columns", "vec4", "scalar", "winograd",
        ],
    ),
    ("TAPEGAN_SOFTMAX_KERNEL", &["rows", "workgroup"]),
    ("TAPEGAN_OPTIM_KERNEL", &["batched", "single"]),
    ("TAPEGAN_OPERANDS", &["texture", "buffer"]),
];

/// Rejects a kernel override the launch code would not recognise (or a forced tile the
/// adapter's `workgroup_bytes` cannot hold), so that a misspelt value is an error when a
/// device opens rather than silently the default kernel or a failure mid-training.
pub(crate) fn check_kernel_overrides(workgroup_bytes: u32) -> Result<()> {
    for (var, allowed) in KERNEL_OVERRIDES {
        if let Some(v) = env_value(var) {
            if !allowed.contains(&v.as_str()) {
                return Err(Error::Config(format!(
                    "{var}={v} is not a value it takes: use one of {} or unset it",
                    allowed.join(", ")
                )));
            }
        }
    }
    if let (Some(_), Some(k)) = (
        env_value("TAPEGAN_MATMUL_TILE"),
        env_value("TAPEGAN_MATMUL_KERNEL"),
    ) {
        if k != "tiled" {
            return Err(Error::Config(format!(
                "TAPEGAN_MATMUL_TILE forces the tiled matmul, which conflicts with \
                 TAPEGAN_MATMUL_KERNEL={k}; unset one of them"
            )));
        }
    }
    matmul_tiled::check_forced_tile(workgroup_bytes)
}

/// Environment variable `var`; set but empty means unset, as for most tools' variables.
fn env_value(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The value of environment variable `var` that forces a kernel family (checked by
/// [`check_kernel_overrides`]), read once into `cell` rather than on every launch.
pub(crate) fn env_override(
    cell: &'static std::sync::OnceLock<Option<String>>,
    var: &str,
) -> Option<&'static str> {
    cell.get_or_init(|| env_value(var)).as_deref()
}

/// Bytes of a `#[repr(C)]` parameter block.
pub(crate) fn bytes_of<T: bytemuck::Pod>(p: &T) -> &[u8] {
    bytemuck::bytes_of(p)
}
