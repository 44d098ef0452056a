//! Whether the subgroup-sharing kernels of CPU adapters read their vec4 operands through
//! texture copies (`gpu/texture_operands.rs`) or from their buffers: the matmul
//! (`matmul_sg`) by the rule below, the convolution gather kernel (`conv_sg`, channels-last
//! operands) only when forced.
//!
//! A texel load is a branch-free gather on lavapipe, a storage load a loop over the lanes;
//! the copy costs a pass over the operand and breaks the open compute pass, so only products
//! with enough arithmetic gain. Measured on lavapipe (`cargo bench --bench kernels --
//! "matmul "`, both sources): 64³ (2^18 FMAs) runs 0.042 ms from buffers and 0.067 ms through
//! textures, 128³ (2^21) 0.199 and 0.163 ms.

use std::sync::OnceLock;

use super::env_override;
use crate::gpu::Gpu;

/// Products with fewer FMAs read their buffers.
const TEXTURE_MIN_FMAS: usize = 1 << 20;

/// An operand is worth copying when each of its elements feeds at least this many FMAs (the
/// other operand's width); below that the copy costs about what it saves.
const TEXTURE_MIN_REUSE: usize = 16;

/// Whether a product of `fmas` FMAs with an `m`×`n` output reads A and B through textures:
/// on CPU adapters by the measured rules above (GPUs run the sharing kernel only when it is
/// forced, and nothing was measured there), unless `TAPEGAN_OPERANDS=texture|buffer` forces
/// either for both, so that one machine tests both.
pub(crate) fn textures(gpu: &Gpu, fmas: usize, m: usize, n: usize) -> (bool, bool) {
    match forced() {
        Some(v) => (v == "texture", v == "texture"),
        None if gpu.is_cpu() && fmas >= TEXTURE_MIN_FMAS => {
            (n >= TEXTURE_MIN_REUSE, m >= TEXTURE_MIN_REUSE)
        }
        None => (false, false),
    }
}

/// Whether the convolution gather kernel reads its channels-last source and weight through
/// textures: only when `TAPEGAN_OPERANDS=texture`. On lavapipe with AVX-512 the copies cost
/// more than the texel loads save (`cargo bench --bench conv`, dcgan-64 ConvT(512→256)
/// forward 66.9 ms from buffers, 70.4–71.6 through textures; Conv(64→128) 74.7 against
/// 75.6–84.1). Machines whose storage loads are slow (AVX2) may differ: not measured there.
pub(crate) fn conv_textures() -> bool {
    forced().is_some_and(|v| v == "texture")
}

/// The source `TAPEGAN_OPERANDS` forces, if any (read once).
fn forced() -> Option<&'static str> {
    static FORCED: OnceLock<Option<String>> = OnceLock::new();
    env_override(&FORCED, "TAPEGAN_OPERANDS")
}
