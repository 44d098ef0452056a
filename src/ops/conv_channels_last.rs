//! The operands of the convolution gather kernel's vec4 variant (`conv_sg.rs`): copies of the
//! source and the weight with the input channels last and contiguous, so that one vec4 load
//! reads four channels, and the kernel's bindings.
//!
//! The copies cost one pass over each operand per call; the kernel then loads a quarter as
//! many elements (measured in `conv_sg.rs`). Texture copies of them are read instead only
//! when forced (`operand_source::conv_textures`). A source's copy can be handed from one
//! call to the next ([`SourceCopy`]), so a conv's backward pass does not copy again what its
//! forward pass or its other gradient already copied.

use super::matmul_sg::bind;
use super::movement::gather_layout;
use super::operand_source;
use super::transpose::transpose_last2;
use crate::error::Result;
use crate::gpu::{Bind, PooledTexture, Storage};
use crate::tensor::Tensor;

/// The channels-last copy `[N, pixels, C]` of one conv source `[N, C, pixels]`, once made.
///
/// Why: a conv's input gradient and weight gradient both read the output gradient channels
/// last, and the weight gradient reads the input as the forward pass did, so each copy was
/// made twice (dcgan-64: 42 of the 109 ms per step spent in these copies). The copy is tied
/// to the tensor it was made from and is used for no other.
#[derive(Clone, Default)]
pub(crate) struct SourceCopy(Option<(u64, Tensor)>);

impl SourceCopy {
    /// The copy of `src` (`[n, c, pixels]`): the one held if it was made from `src`, else a
    /// new one, which is then held.
    pub fn of(
        &mut self,
        op: &'static str,
        src: &Tensor,
        [n, c, pixels]: [usize; 3],
    ) -> Result<Tensor> {
        if let Some((id, copy)) = &self.0 {
            if *id == src.id() && copy.shape() == [n, pixels, c] {
                return Ok(copy.clone());
            }
        }
        let copy = transpose_last2(op, src, [n, c, pixels])?;
        self.0 = Some((src.id(), copy.clone()));
        Ok(copy)
    }
}

/// Channels-last copies of one call's operands, and texture copies of them where forced.
pub(super) struct ChannelsLast {
    /// `[N, SH, SW, CS]`.
    src: Tensor,
    /// `[CD, taps, CS]`.
    w: Tensor,
    src_texture: Option<PooledTexture>,
    w_texture: Option<PooledTexture>,
}

impl ChannelsLast {
    /// Copies `src` (`[n, cs, pixels]`, through `src_copy`) and `w` (element (co, ci, k) at
    /// co·w_co + ci·w_ci + k, for `cd` output channels and `taps` taps).
    pub fn new(
        op: &'static str,
        src: &Tensor,
        w: &Tensor,
        [n, cs, pixels, cd, taps]: [usize; 5],
        [w_co, w_ci]: [usize; 2],
        src_copy: &mut SourceCopy,
    ) -> Result<Self> {
        let src = src_copy.of(op, src, [n, cs, pixels])?;
        // A batched transpose for the conv layout [cd, cs, taps] and the transposed-conv
        // layout [cs, cd, taps], a strided copy for anything else.
        let w = if w_ci == taps && w_co == cs * taps {
            transpose_last2(op, w, [cd, cs, taps])?
        } else if w_co == taps && w_ci == cd * taps {
            transpose_last2(op, w, [1, cs, cd * taps])?
        } else {
            gather_layout(op, w, &[cd, taps, cs], &[w_co, 1, w_ci])?
        };
        Ok(Self::prepared(src, w))
    }

    /// Operands already channels last: `src` `[N, SH, SW, CS]` and `w` `[CD, taps, CS]`.
    pub fn prepared(src: Tensor, w: Tensor) -> Self {
        let texture = |t: &Tensor| {
            operand_source::conv_textures()
                .then(|| t.gpu().operand_texture(t.storage()))
                .flatten()
        };
        ChannelsLast {
            src_texture: texture(&src),
            w_texture: texture(&w),
            src,
            w,
        }
    }

    /// Bindings 1–6 of the vec4 kernel: source, weight, destination, bias, then the vec4
    /// reads of source and weight (their textures where made).
    pub fn binds<'a>(&'a self, dst: &'a Storage, bias: &'a Storage) -> [Bind<'a>; 6] {
        [
            Bind::Buffer(self.src.storage()),
            Bind::Buffer(self.w.storage()),
            Bind::Buffer(dst),
            Bind::Buffer(bias),
            bind(&self.src_texture, self.src.storage()),
            bind(&self.w_texture, self.w.storage()),
        ]
    }
}
