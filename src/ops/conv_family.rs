//! Which convolution kernels run on an adapter: subgroup sharing, register blocks sized for a
//! CPU or a GPU, implicit GEMMs (`conv_gemm.rs`), a matrix product for windows that cover
//! their input, or columns for narrow transposed convs (`conv_col2im.rs`). By adapter class,
//! unless `TAPEGAN_CONV_BLOCKS=gemm|gpu|cpu|columns` forces a family so that the tests can
//! check every one on one machine; results never depend on the choice. The values `vec4`
//! and `scalar` keep the family and force how the subgroup-sharing kernels read their
//! operands (`conv_sg::vec4_pays`), for the tests and for comparing the two; `winograd`
//! forces the Winograd products of 4 × 4 stride-2 layers (`conv_winograd.rs`) wherever their
//! geometry allows.

/// Output channels below which a CPU adapter's gather kernel cannot share its loads across
/// channels (one subgroup of lanes holds 8 channels on AVX2 lavapipe): a window covering the
/// input runs as a matmul, a transposed conv through columns.
const FEW_CHANNELS: usize = 8;

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
/// `gpu` or `cpu` (register-blocked only; `gemm` and `columns` leave these and force their
/// own path). The override exists so the tests can check every configuration on one machine;
/// results never depend on it.
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

/// The value of `TAPEGAN_CONV_BLOCKS`, if set (read once).
fn forced() -> Option<&'static str> {
    static OVERRIDE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    super::env_override(&OVERRIDE, "TAPEGAN_CONV_BLOCKS")
}

/// The kernel family `TAPEGAN_CONV_BLOCKS` forces, if any.
pub(super) fn forced_family() -> Option<&'static str> {
    forced().filter(|v| !matches!(*v, "vec4" | "scalar" | "winograd"))
}

/// Whether `TAPEGAN_CONV_BLOCKS` forces the Winograd products (`conv_winograd.rs`) on
/// (`winograd`: wherever the geometry allows, any size and adapter) or off (any other
/// value, so that the forced family or way of reading is what runs).
pub(super) fn forced_winograd() -> Option<bool> {
    forced().map(|v| v == "winograd")
}

/// Whether `TAPEGAN_CONV_BLOCKS` forces the subgroup-sharing kernels' vec4 reads on
/// (`vec4`: wherever the channel counts allow) or off (`scalar`).
pub(super) fn forced_vec4() -> Option<bool> {
    match forced() {
        Some("vec4") => Some(true),
        Some("scalar") => Some(false),
        _ => None,
    }
}

/// Whether convolutions, transposed convolutions and weight gradients may run as implicit GEMMs
/// (`conv_gemm.rs`), and whether always: by default on GPUs where the product is large
/// enough; always with `TAPEGAN_CONV_BLOCKS=gemm` (any adapter, for the tests); never when
/// another family is forced or on CPU adapters, where barriers are coroutine switches.
pub(super) fn gemm_mode(gpu: &crate::gpu::Gpu) -> Option<bool> {
    match forced_family() {
        Some("gemm") => Some(true),
        Some(_) => None,
        _ => (!gpu.is_cpu()).then_some(false),
    }
}

/// Whether a convolution whose window covers its input runs as a matrix product: on GPUs, and
/// on CPU adapters when there are too few output channels to fill the gather kernel's block —
/// never when `TAPEGAN_CONV_BLOCKS` forces the gather kernels, so the tests reach them.
pub(super) fn dense_as_matmul(gpu: &crate::gpu::Gpu, out_channels: usize) -> bool {
    match forced_family() {
        Some("gpu") | Some("cpu") => false,
        _ => !gpu.is_cpu() || out_channels < FEW_CHANNELS,
    }
}

/// Whether a transposed convolution of `n` images with `pixels` input pixels, `out_channels`
/// output channels and `taps` kernel taps runs as a product and a column sum
/// (`conv_col2im.rs`): on CPU adapters when it has too few output channels to share the
/// gather kernel's loads (measured in docs/PERFORMANCE.md), on any adapter with
/// `TAPEGAN_CONV_BLOCKS=columns` (for the tests), never when another family is forced — and
/// only when the columns (n·Co·taps·pixels floats) fit one storage binding and the product one
/// dispatch grid (batch and pixel tiles ≤ 65,535), else the gather kernel takes it.
pub(super) fn through_columns(
    gpu: &crate::gpu::Gpu,
    [n, pixels, out_channels, taps]: [usize; 4],
) -> bool {
    let wanted = match forced_family() {
        Some("columns") => true,
        Some(_) => false,
        None => gpu.is_cpu() && out_channels < FEW_CHANNELS,
    };
    let cols_bytes = [n, pixels, out_channels, taps, 4]
        .iter()
        .map(|&v| v as u64)
        .product::<u64>();
    wanted && cols_bytes <= gpu.max_binding_bytes() && n <= 65_535 && pixels.div_ceil(8) <= 65_535
}
