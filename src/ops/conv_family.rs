//! Which convolution kernels run on an adapter: subgroup sharing, register blocks sized for a
//! CPU or a GPU, implicit GEMMs (`conv_gemm.rs`), a matrix product for windows that cover
//! their input, or columns for narrow transposed convs (`conv_col2im.rs`). By adapter class,
//! unless `TAPEGAN_CONV_BLOCKS=gemm|gpu|cpu` forces a family so that the tests can check every
//! one on one machine; results never depend on the choice.

/// Which kernels a convolution uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Blocks {
    /// Register-blocked, sized for a GPU (8×8 blocks, 64-wide workgroups).
    Gpu,
    /// Register-blocked, sized for a CPU adapter (large blocks, 8-wide workgroups).
    Cpu,
    /// Subgroup load sharing (conv_sg.rs) with this subgroup size, falling back to `Cpu`
    /// blocks where a dimension is too narrow to share.
    Shared(usize),
}

/// The kernels for `gpu`: shared loads on a CPU adapter with subgroups, CPU blocks on one
/// without, GPU blocks otherwise — unless the environment variable `TAPEGAN_CONV_BLOCKS` says
/// `gpu` or `cpu` (register-blocked only; `gemm` leaves these and forces `gemm_mode`). The
/// override exists so the tests can check every configuration on one machine; results never
/// depend on it.
pub(super) fn blocks(gpu: &crate::gpu::Gpu) -> Blocks {
    match forced_family() {
        Some("gpu") => Blocks::Gpu,
        Some("cpu") => Blocks::Cpu,
        _ => match super::subgroup_probe::sharing_subgroup(gpu) {
            Some(sg) => Blocks::Shared(sg),
            None if gpu.is_cpu() => Blocks::Cpu,
            None => Blocks::Gpu,
        },
    }
}

/// The kernel family `TAPEGAN_CONV_BLOCKS` forces, if any (read once).
pub(super) fn forced_family() -> Option<&'static str> {
    static OVERRIDE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    super::env_override(&OVERRIDE, "TAPEGAN_CONV_BLOCKS")
}

/// Whether convolutions, transposed convolutions and weight gradients may run as implicit GEMMs
/// (`conv_gemm.rs`), and whether always: by default on GPUs where the product is large
/// enough; always with `TAPEGAN_CONV_BLOCKS=gemm` (any adapter, for the tests); never when
/// `gpu` or `cpu` blocks are forced or on CPU adapters, where barriers are coroutine switches.
pub(super) fn gemm_mode(gpu: &crate::gpu::Gpu) -> Option<bool> {
    match forced_family() {
        Some("gemm") => Some(true),
        Some("gpu") | Some("cpu") => None,
        _ => (!gpu.is_cpu()).then_some(false),
    }
}

/// Whether a convolution whose window covers its input runs as a matrix product: on GPUs, and
/// on CPU adapters when there are too few output channels to fill the gather kernel's block —
/// never when `TAPEGAN_CONV_BLOCKS` forces the gather kernels, so the tests reach them.
pub(super) fn dense_as_matmul(gpu: &crate::gpu::Gpu, out_channels: usize) -> bool {
    match forced_family() {
        Some("gpu") | Some("cpu") => false,
        _ => !gpu.is_cpu() || out_channels < 8,
    }
}

/// Whether a transposed convolution runs as a product and a column sum (`conv_col2im.rs`):
/// on CPU adapters when it has too few output channels to fill the gather kernel's channel
/// block (the last layer on lavapipe, forward: dcgan-28's 32 → 1 24 → 8 ms, dcgan-64's
/// 64 → 1 245 → 55 ms) — not when
/// `TAPEGAN_CONV_BLOCKS` forces the gather kernels, or when the columns (`cols_bytes`) would
/// not fit one storage binding.
pub(super) fn through_columns(gpu: &crate::gpu::Gpu, out_channels: usize, cols_bytes: u64) -> bool {
    forced_family().is_none()
        && gpu.is_cpu()
        && out_channels < super::conv_col2im::FEW_CHANNELS
        && cols_bytes <= gpu.adapter().max_storage_binding
}
