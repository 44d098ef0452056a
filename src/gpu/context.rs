//! The GPU context: one wgpu device and queue, the pipeline cache, the buffer pool and the
//! command recorder. Cheap to clone (an `Arc`); shared by every tensor made on it.

use std::sync::{Arc, Mutex};

use super::adapter::{self, AdapterSummary};
use super::exec::Recorder;
use super::pipeline::PipelineCache;
use super::pool::{BufferPool, PoolStats};
use crate::error::{Error, Result};

pub(crate) struct GpuInner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub pipelines: PipelineCache,
    pub pool: BufferPool,
    pub recorder: Mutex<Recorder>,
    /// Validation or device errors reported asynchronously by wgpu, surfaced at the next flush.
    pub errors: Arc<Mutex<Vec<String>>>,
    /// The subgroup size the load-sharing kernels use, once probed (`ops::subgroup_probe`).
    pub sharing: std::sync::OnceLock<Option<usize>>,
    /// The submission of the last [`Gpu::pace`] call, which the next one waits for.
    pub paced: Mutex<Option<wgpu::SubmissionIndex>>,
}

/// A handle to one GPU device. Clone freely.
#[derive(Clone)]
pub struct Gpu(pub(crate) Arc<GpuInner>);

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.0.summary.describe())
    }
}

impl Gpu {
    /// Opens the best adapter, or the one named by `TAPEGAN_ADAPTER`.
    pub fn new() -> Result<Gpu> {
        let sel = std::env::var(adapter::ADAPTER_ENV).ok();
        Gpu::with_selector(sel.as_deref())
    }

    /// Opens the adapter matched by `selector` (backend, index or name substring), or the best.
    pub fn with_selector(selector: Option<&str>) -> Result<Gpu> {
        let instance = adapter::instance();
        let adapters = adapter::enumerate(&instance);
        let (adapter, summary) = adapter::choose(adapters, selector)?;
        crate::ops::check_kernel_overrides(summary.max_workgroup_storage)?;
        let features = adapter.features()
            & (wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
                | wgpu::Features::SUBGROUP);
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tapegan"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Device(format!("could not open {}: {e}", summary.describe())))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let recorder = Recorder::new(&device, &limits);
        Ok(Gpu(Arc::new(GpuInner {
            pool: BufferPool::new(device.clone()),
            device,
            queue,
            summary,
            limits,
            features,
            pipelines: PipelineCache::default(),
            recorder: Mutex::new(recorder),
            errors,
            sharing: std::sync::OnceLock::new(),
            paced: Mutex::new(None),
        })))
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.0.summary
    }

    /// True when the adapter is a CPU rasteriser (lavapipe, llvmpipe, WARP).
    pub fn is_cpu(&self) -> bool {
        self.0.summary.is_cpu()
    }

    /// A one-line hint for slow fallbacks, if one applies.
    pub fn hint(&self) -> Option<&'static str> {
        let s = &self.0.summary;
        (s.backend == wgpu::Backend::Gl && s.is_cpu()).then_some(
            "note: running on GL llvmpipe; Mesa's Vulkan lavapipe is 2-3x faster \
             (apt-get install -y mesa-vulkan-drivers)",
        )
    }

    /// Subgroup size, when subgroup operations are available with a fixed size.
    pub fn subgroup_size(&self) -> Option<u32> {
        self.0
            .summary
            .subgroup
            .filter(|_| self.0.features.contains(wgpu::Features::SUBGROUP))
    }

    /// The wgpu device and queue, for work outside tapegan's kernels (experiments, benches
    /// such as `benches/operand_loads.rs`). Work recorded there is not ordered with tapegan's
    /// own recorded work: call [`Gpu::synchronize`] first.
    pub fn raw_device(&self) -> (&wgpu::Device, &wgpu::Queue) {
        (&self.0.device, &self.0.queue)
    }

    /// Storage buffers one kernel may bind (kernels that take a variable number of tensors
    /// size their batches by it).
    pub(crate) fn max_storage_buffers(&self) -> u32 {
        let limits = &self.0.limits;
        // One binding of a group is the uniform block.
        limits
            .max_storage_buffers_per_shader_stage
            .min(limits.max_bindings_per_bind_group.saturating_sub(1))
    }

    /// Largest buffer one binding may address.
    pub fn max_binding_bytes(&self) -> u64 {
        self.0.limits.max_storage_buffer_binding_size
    }

    /// Memory figures of the buffer pool.
    pub fn pool_stats(&self) -> PoolStats {
        self.0.pool.stats()
    }

    /// Returns every free pooled buffer and operand texture to the driver.
    pub fn trim_pool(&self) {
        self.0.pool.trim()
    }

    /// Number of pipelines compiled so far.
    pub fn pipelines_compiled(&self) -> usize {
        self.0.pipelines.len()
    }

    /// True when two handles are the same device.
    pub fn same(&self, other: &Gpu) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn take_errors(&self) -> Result<()> {
        let mut errs = self.0.errors.lock().unwrap();
        if errs.is_empty() {
            Ok(())
        } else {
            let msg = errs.join("; ");
            errs.clear();
            Err(Error::Device(msg))
        }
    }
}
