//! The GPU runtime: adapter choice, device context, buffer pool, pipeline cache, command
//! recording and readback. Everything above this module speaks in tensors; everything in it
//! speaks wgpu.

mod adapter;
mod context;
mod exec;
mod peak;
mod pipeline;
mod pool;
mod profile;
mod texture_operands;

pub use adapter::{
    backend_name, list_adapters, quiet_platform_probes, AdapterSummary, ADAPTER_ENV,
    NO_ADAPTER_HELP,
};
pub use context::Gpu;
pub(crate) use exec::Bind;
pub use exec::{grid, ExecStats};
pub use peak::measure_fma_peak;
pub(crate) use pipeline::Compiled;
pub use pipeline::{render, substitute, Kernel};
pub(crate) use pool::PooledTexture;
pub use pool::{PoolStats, Storage};
pub use profile::DispatchTime;
pub(crate) use texture_operands::texel_wgsl;
