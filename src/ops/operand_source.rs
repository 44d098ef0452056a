//! Whether the subgroup-sharing matmul of CPU adapters (`matmul_sg`) reads its vec4 operands
//! through texture copies (`gpu/texture_operands.rs`) or from their buffers. (The conv
//! kernels read scalars, which textures made slower; docs/PERFORMANCE.md.)
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
    static FORCED: OnceLock<Option<String>> = OnceLock::new();
    match env_override(&FORCED, "TAPEGAN_OPERANDS") {
        Some(v) => (v == "texture", v == "texture"),
        None if gpu.is_cpu() && fmas >= TEXTURE_MIN_FMAS => {
            (n >= TEXTURE_MIN_REUSE, m >= TEXTURE_MIN_REUSE)
        }
        None => (false, false),
    }
}
