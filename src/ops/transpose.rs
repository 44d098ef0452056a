//! Batched transposes `[B, R, C] → [B, C, R]` (unrecorded): the channels-last copies of a
//! convolution's source and weight that the vec4 gather kernel reads (`conv_sg.rs`).
//!
//! When R and C are multiples of four, `shaders/transpose4.wgsl` moves 4×4 blocks with vec4
//! loads and stores; when only R is, `shaders/transpose_rows4.wgsl` gathers four scalars
//! into each vec4 it stores; otherwise the rank-generic strided copy (`movement.rs`) moves
//! one element per invocation. Measured in a dcgan-28 step on lavapipe, the strided copy of
//! 7×7-pixel activations took 11.2 ms of 128 ms.

use super::bytes_of;
use super::conv_launch::u32s;
use super::movement::gather_layout;
use crate::error::Result;
use crate::gpu::{grid, Kernel};
use crate::kernel;
use crate::tensor::Tensor;

const TRANSPOSE4: Kernel = kernel!("transpose4", "transpose4.wgsl");
const TRANSPOSE_ROWS4: Kernel = kernel!("transpose_rows4", "transpose_rows4.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    r4: u32,
    /// C / 4 for transpose4.wgsl, C for transpose_rows4.wgsl.
    c: u32,
    pad: u32,
}

/// A new contiguous `[b, c, r]` tensor holding `x` (contiguous `[b, r, c]` in any shape)
/// with its last two dimensions exchanged.
pub(crate) fn transpose_last2(
    op: &'static str,
    x: &Tensor,
    [b, r, c]: [usize; 3],
) -> Result<Tensor> {
    debug_assert_eq!(x.numel(), b * r * c);
    if !r.is_multiple_of(4) {
        return gather_layout(op, x, &[b, c, r], &[r * c, 1, c]);
    }
    let out = Tensor::empty(x.gpu(), &[b, c, r], x.dtype(), op)?;
    let (kernel, per_invocation, c_param) = if c.is_multiple_of(4) {
        (&TRANSPOSE4, 16, c / 4)
    } else {
        (&TRANSPOSE_ROWS4, 4, c)
    };
    let invocations = (b * r * c / per_invocation) as u64;
    if invocations == 0 {
        return Ok(out);
    }
    let [b, r4, c] = u32s(op, [b, r / 4, c_param])?;
    let p = Params { b, r4, c, pad: 0 };
    x.gpu().launch(
        kernel,
        &[],
        bytes_of(&p),
        &[x.storage(), out.storage()],
        grid(invocations, 64),
    )?;
    Ok(out)
}
