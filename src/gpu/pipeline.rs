//! Kernel sources and the pipeline cache.
//!
//! Each kernel family is one WGSL file in `shaders/`, compiled into the binary with
//! `include_str!`. A family may be specialised by text substitution: every `{{KEY}}` in the
//! source is replaced by a value (an expression, a constant, a type). Each distinct
//! (family, variant) pair is compiled once per device and cached. Binding convention, shared
//! by every kernel: `@binding(0)` is the kernel's uniform parameter block, `@binding(1..)` its
//! storage buffers in the order the launch passes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Helpers prepended to every kernel (index arithmetic shared by all families).
const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// A kernel family: a name for labels and the cache, and its WGSL template.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    pub name: &'static str,
    pub source: &'static str,
}

/// Declares a kernel family whose source is `shaders/<file>`, optionally preceded by prefix
/// files that several kernels share (parameters, bindings, helpers), in the order given.
#[macro_export]
#[doc(hidden)]
macro_rules! kernel {
    ($name:literal, $($file:literal),+) => {
        $crate::gpu::Kernel {
            name: $name,
            source: concat!($(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file))),+),
        }
    };
}

/// A compiled pipeline with its bind-group layout.
pub(crate) struct Compiled {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub label: String,
}

/// Fills a template: `{{KEY}}` → value for each pair.
pub fn render(source: &str, defs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(COMMON.len() + source.len() + 64);
    out.push_str(COMMON);
    out.push('\n');
    out.push_str(&substitute(source, defs));
    out
}

/// `{{KEY}}` → value for each pair, without the shared helpers (for pieces of a generated
/// kernel that [`render`] has already given them).
pub fn substitute(source: &str, defs: &[(&str, &str)]) -> String {
    let mut s = source.to_string();
    for (k, v) in defs {
        s = s.replace(&format!("{{{{{k}}}}}"), v);
    }
    s
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    map: Mutex<HashMap<String, Arc<Compiled>>>,
}

impl PipelineCache {
    /// The pipeline for `kernel` specialised by `defs`, compiled on first use.
    pub fn get(
        &self,
        device: &wgpu::Device,
        kernel: &Kernel,
        defs: &[(&str, &str)],
    ) -> Result<Arc<Compiled>> {
        let mut key = String::with_capacity(64);
        key.push_str(kernel.name);
        for (k, v) in defs {
            key.push('|');
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        if let Some(c) = self.map.lock().unwrap().get(&key) {
            return Ok(c.clone());
        }
        let compiled = Arc::new(compile(
            device,
            &render(kernel.source, defs),
            &label(kernel, defs),
        )?);
        self.map.lock().unwrap().insert(key, compiled.clone());
        Ok(compiled)
    }

    /// The pipeline cached under `key`, built from `make_source()` (a complete WGSL module,
    /// e.g. from [`render`]) on first use. For kernels whose source is generated.
    pub fn get_generated(
        &self,
        device: &wgpu::Device,
        key: &str,
        make_source: impl FnOnce() -> String,
    ) -> Result<Arc<Compiled>> {
        if let Some(c) = self.map.lock().unwrap().get(key) {
            return Ok(c.clone());
        }
        let compiled = Arc::new(compile(device, &make_source(), key)?);
        self.map
            .lock()
            .unwrap()
            .insert(key.to_string(), compiled.clone());
        Ok(compiled)
    }

    /// Number of distinct pipelines compiled so far.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// A readable pipeline label: generated code values are abbreviated to a short hash.
fn label(kernel: &Kernel, defs: &[(&str, &str)]) -> String {
    let mut label = kernel.name.to_string();
    for (k, v) in defs {
        if v.len() > 48 || v.contains('\n') {
            let h = v.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            label.push_str(&format!("|{k}=#{:08x}", h as u32));
        } else {
            label.push_str(&format!("|{k}={v}"));
        }
    }
    label
}

/// The bindings a kernel declares: (binding, kind) for every `@binding(n) var<…>` line.
/// The layout lists every declared binding, used or not, so that variants of one kernel which
/// skip a binding still take the same buffers.
fn declared_bindings(source: &str) -> Vec<(u32, wgpu::BindingType)> {
    let mut out = Vec::new();
    for line in source.lines() {
        let Some(at) = line.find("@binding(") else {
            continue;
        };
        let rest = &line[at + 9..];
        let Some(n) = rest
            .split(')')
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let ty = if line.contains("var<uniform>") {
            wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            }
        } else if line.contains("read_write") {
            wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: false },
                has_dynamic_offset: false,
                min_binding_size: None,
            }
        } else if line.contains("var<storage") {
            wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            }
        } else if line.contains("texture_2d<f32>") {
            wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            }
        } else {
            continue;
        };
        out.push((n, ty));
    }
    out
}

fn compile(device: &wgpu::Device, source: &str, label: &str) -> Result<Compiled> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.to_string().into()),
    });
    let entries: Vec<wgpu::BindGroupLayoutEntry> = declared_bindings(source)
        .into_iter()
        .map(|(binding, ty)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        })
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    if let Some(err) = pollster::block_on(scope.pop()) {
        return Err(Error::Device(format!(
            "kernel '{label}' failed to compile: {err}"
        )));
    }
    Ok(Compiled {
        pipeline,
        layout,
        label: label.to_string(),
    })
}
