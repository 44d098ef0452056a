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

/// Products with fewer FMAs read their buffers.
const TEXTURE_MIN_FMAS: usize = 1 << 20;

/// The source `TAPEGAN_OPERANDS=texture|buffer` forces (true: textures), if any: so that one
/// machine tests both.
pub(crate) fn forced() -> Option<bool> {
    static FORCED: OnceLock<Option<String>> = OnceLock::new();
    env_override(&FORCED, "TAPEGAN_OPERANDS").map(|v| v == "texture")
}

/// Whether a product of `fmas` FMAs reads its operands through textures: as forced, else by
/// the measured rule above.
pub(crate) fn textures_for(fmas: usize) -> bool {
    forced().unwrap_or(fmas >= TEXTURE_MIN_FMAS)
}
