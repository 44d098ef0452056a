//! Adapter discovery and choice.
//!
//! Every adapter wgpu can see is listed; the default choice prefers real GPUs over software
//! ones (discrete > integrated > virtual > CPU) and native APIs over GL. `TAPEGAN_ADAPTER`
//! (or `--adapter`) narrows the choice by backend name (`vulkan`, `metal`, `dx12`, `gl`), by
//! the index printed by `tapegan devices`, or by a case-insensitive substring of the name.

use crate::error::{Error, Result};

/// The environment variable that selects an adapter.
pub const ADAPTER_ENV: &str = "TAPEGAN_ADAPTER";

/// What to do when no adapter exists at all.
pub const NO_ADAPTER_HELP: &str =
    "no GPU adapter found: install your GPU's driver, or for a CPU fallback install Mesa's \
     software Vulkan driver (Debian/Ubuntu: `apt-get install -y mesa-vulkan-drivers`)";

/// The facts about one adapter that matter for compute.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    pub backend: wgpu::Backend,
    pub device_type: wgpu::DeviceType,
    pub driver: String,
    pub max_storage_binding: u64,
    pub max_workgroup_storage: u32,
    pub max_invocations: u32,
    pub max_storage_buffers: u32,
    pub timestamps: bool,
    /// Subgroup size when the adapter supports subgroup operations with one fixed size.
    pub subgroup: Option<u32>,
}

impl AdapterSummary {
    fn of(index: usize, adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let driver = format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string();
        AdapterSummary {
            index,
            name: info.name,
            backend: info.backend,
            device_type: info.device_type,
            driver,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            max_workgroup_storage: limits.max_compute_workgroup_storage_size,
            max_invocations: limits.max_compute_invocations_per_workgroup,
            max_storage_buffers: limits.max_storage_buffers_per_shader_stage,
            timestamps: adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroup: (adapter.features().contains(wgpu::Features::SUBGROUP)
                && info.subgroup_min_size == info.subgroup_max_size)
                .then_some(info.subgroup_min_size),
        }
    }

    /// True for software rasterisers running on the CPU (lavapipe, llvmpipe, WARP, SwiftShader).
    pub fn is_cpu(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// Higher is better: device class first, then API.
    fn score(&self) -> u32 {
        let class = match self.device_type {
            wgpu::DeviceType::DiscreteGpu => 4,
            wgpu::DeviceType::IntegratedGpu => 3,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 1,
            wgpu::DeviceType::Other => 0,
        };
        let api = match self.backend {
            wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 1,
            _ => 0,
        };
        class * 2 + api
    }

    /// One line for listings and logs.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {})",
            self.name,
            backend_name(self.backend),
            type_name(self.device_type)
        )
    }
}

/// Lower-case backend name as users type it.
pub fn backend_name(b: wgpu::Backend) -> &'static str {
    match b {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        _ => "noop",
    }
}

fn type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Cpu => "CPU",
        wgpu::DeviceType::Other => "other",
    }
}

/// Creates the wgpu instance with every native backend enabled.
pub(crate) fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends =
        wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12 | wgpu::Backends::GL;
    // Validation layers are a debugging aid; they slow every dispatch down.
    desc.flags = wgpu::InstanceFlags::empty();
    wgpu::Instance::new(desc)
}

/// Every adapter, in wgpu's enumeration order.
pub(crate) fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .filter(|a| a.get_info().backend != wgpu::Backend::Noop)
        .collect()
}

/// Summaries of every adapter, for `tapegan devices`.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let inst = instance();
    enumerate(&inst)
        .iter()
        .enumerate()
        .map(|(i, a)| AdapterSummary::of(i, a))
        .collect()
}

/// Picks an adapter: the best one, or the one `selector` names.
pub(crate) fn choose(
    adapters: Vec<wgpu::Adapter>,
    selector: Option<&str>,
) -> Result<(wgpu::Adapter, AdapterSummary)> {
    if adapters.is_empty() {
        return Err(Error::NoAdapter(NO_ADAPTER_HELP.to_string()));
    }
    let summaries: Vec<AdapterSummary> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| AdapterSummary::of(i, a))
        .collect();
    let candidates: Vec<usize> = match selector.map(str::trim).filter(|s| !s.is_empty()) {
        None => (0..summaries.len()).collect(),
        Some(sel) => {
            let sel_l = sel.to_lowercase();
            let matched: Vec<usize> = if let Ok(idx) = sel.parse::<usize>() {
                (idx < summaries.len()).then_some(idx).into_iter().collect()
            } else if ["vulkan", "metal", "dx12", "gl"].contains(&sel_l.as_str()) {
                summaries
                    .iter()
                    .filter(|s| backend_name(s.backend) == sel_l)
                    .map(|s| s.index)
                    .collect()
            } else {
                summaries
                    .iter()
                    .filter(|s| s.name.to_lowercase().contains(&sel_l))
                    .map(|s| s.index)
                    .collect()
            };
            if matched.is_empty() {
                let have: Vec<String> = summaries
                    .iter()
                    .map(|s| format!("[{}] {}", s.index, s.describe()))
                    .collect();
                return Err(Error::NoAdapter(format!(
                    "no adapter matches '{sel}' (by backend, index or name); available: {}",
                    have.join("; ")
                )));
            }
            matched
        }
    };
    let best = candidates
        .into_iter()
        .max_by_key(|&i| (summaries[i].score(), std::cmp::Reverse(i)))
        .expect("candidates is non-empty");
    let summary = summaries[best].clone();
    let adapter = adapters
        .into_iter()
        .nth(best)
        .expect("index from enumeration");
    Ok((adapter, summary))
}

/// Keeps windowing-system probes quiet on headless machines: Mesa's Vulkan drivers try to
/// reach a Wayland compositor while enumerating and print an error when `XDG_RUNTIME_DIR` is
/// unset. Pointing it at the temp directory makes the probe fail silently. Call this early,
/// before other threads start (it sets an environment variable).
pub fn quiet_platform_probes() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}
