//! `cargo bench --bench operand_loads`: how fast a matmul inner loop runs when its operands
//! come from a storage buffer, a uniform buffer or a texture — the three ways a WGSL kernel
//! can read memory. It explains the matmul and conv figures in docs/PERFORMANCE.md.
//!
//! The kernel is the same in all three: a 64×64×64 tile held entirely in cache (operands of
//! 16 KiB, within every adapter's uniform-buffer limit), each invocation accumulating an 8×8
//! block of C from two vec4 loads of A and two of B per k, the k loop repeated 16 times.
//! Only the declaration and load expression of the operands change, plus a storage and a
//! uniform row whose addresses are the same in every lane (a driver may then load once, not
//! per lane), and a row that loads nothing (operands computed from the loop counters: the
//! loop's own ceiling). On lavapipe a storage load is a loop over the SIMD lanes with a
//! bounds check per lane, while a uniform or texel load with per-lane addresses is one
//! branch-free gather — see the table in the docs.

mod common;

use std::time::Instant;

/// Workgroups per dispatch and invocations per workgroup.
const GROUPS: u32 = 2048;
const WG: u32 = 64;
/// FLOPs of one invocation: 16 repetitions × 64 k × 64 FMAs × 2.
const FLOPS_PER_INVOCATION: f64 = 16.0 * 64.0 * 64.0 * 2.0;

#[derive(Clone, Copy, PartialEq)]
enum Source {
    Storage,
    /// Storage again, but every lane of a workgroup loads the same addresses. Newer gallivm
    /// loads such an address once for all lanes; this row shows whether the driver does.
    StorageSameAddress,
    Uniform,
    UniformSameAddress,
    Texture,
    /// No loads at all: operands computed from the loop counters. The ceiling of the
    /// kernel's arithmetic and register pressure, against which the other rows read.
    Registers,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Storage => "storage buffer (var<storage>)",
            Source::StorageSameAddress => "storage, same address in all lanes",
            Source::Uniform => "uniform buffer (var<uniform>)",
            Source::UniformSameAddress => "uniform, same address in all lanes",
            Source::Texture => "texture (textureLoad, rgba32float)",
            Source::Registers => "none: operands computed in registers",
        }
    }

    /// Declarations of `a` and `b` and the expression loading vec4 `e` of row `k` of one.
    fn wgsl(self) -> String {
        let (decl, load) = match self {
            Source::Storage | Source::StorageSameAddress => (
                "var<storage, read> {}: array<vec4<f32>>;",
                "{}[k * 16u + e]",
            ),
            Source::Uniform | Source::UniformSameAddress => (
                "var<uniform> {}: array<vec4<f32>, 1024>;",
                "{}[k * 16u + e]",
            ),
            Source::Texture => (
                "var {}: texture_2d<f32>;",
                "textureLoad({}, vec2<u32>(e, k), 0)",
            ),
            Source::Registers => ("", "vec4<f32>(f32(k + e), f32(k), f32(e), 1.0) * 0.001"),
        };
        let mut s = String::new();
        for (i, name) in ["a", "b"].iter().enumerate() {
            if !decl.is_empty() {
                s += &format!("@group(0) @binding({i}) {}\n", decl.replace("{}", name));
            }
            s += &format!(
                "fn load_{name}(k: u32, e: u32) -> vec4<f32> {{ return {}; }}\n",
                load.replace("{}", name)
            );
        }
        // The invocation's rows and columns of the tile: from its index, or (same-address
        // variant) from the workgroup's, so the loads do not depend on the lane.
        let tile = match self {
            Source::StorageSameAddress | Source::UniformSameAddress => "wid.x % 64u",
            _ => "(wid.x * 64u + li) % 64u",
        };
        s + &r#"@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    // Each invocation owns rows 8r..8r+8 and columns 8q..8q+8 of the 64×64 tile.
    let t = TILE;
    let r = (t / 8u) * 2u;
    let q = (t % 8u) * 2u;
    var acc: array<vec4<f32>, 16>;
    for (var rep = 0u; rep < 16u; rep++) {
        for (var k = 0u; k < 64u; k++) {
            let a0 = load_a(k, r);
            let a1 = load_a(k, r + 1u);
            let b0 = load_b(k, q);
            let b1 = load_b(k, q + 1u);
            for (var i = 0u; i < 4u; i++) {
                acc[i] = fma(vec4<f32>(a0[i]), b0, acc[i]);
                acc[4u + i] = fma(vec4<f32>(a0[i]), b1, acc[4u + i]);
                acc[8u + i] = fma(vec4<f32>(a1[i]), b0, acc[8u + i]);
                acc[12u + i] = fma(vec4<f32>(a1[i]), b1, acc[12u + i]);
            }
        }
    }
    var sum = vec4<f32>(0.0);
    for (var i = 0u; i < 16u; i++) { sum += acc[i]; }
    c[wid.x * 64u + li] = sum;
}
"#
        .replace("TILE", tile)
    }
}

/// GFLOP/s of the kernel with operands from `source`, best of three timed runs.
fn measure(device: &wgpu::Device, queue: &wgpu::Queue, source: Source) -> f64 {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(source.name()),
        source: wgpu::ShaderSource::Wgsl(source.wgsl().into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(source.name()),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let operand: Vec<f32> = (0..4096).map(|i| (i % 13) as f32 * 0.01).collect();
    let buffer = |usage: wgpu::BufferUsages| {
        let b = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 16384,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&b, 0, bytemuck::cast_slice(&operand));
        b
    };
    let texture = || {
        let t = device.create_texture(&wgpu::TextureDescriptor {
            label: None,
            size: wgpu::Extent3d {
                width: 16,
                height: 64,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba32Float,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        queue.write_texture(
            t.as_image_copy(),
            bytemuck::cast_slice(&operand),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(256),
                rows_per_image: None,
            },
            t.size(),
        );
        t.create_view(&Default::default())
    };
    let usage = match source {
        Source::Uniform | Source::UniformSameAddress => wgpu::BufferUsages::UNIFORM,
        _ => wgpu::BufferUsages::STORAGE,
    };
    let (buffers, views) = match source {
        Source::Texture => (vec![], vec![texture(), texture()]),
        Source::Registers => (vec![], vec![]),
        _ => (vec![buffer(usage), buffer(usage)], vec![]),
    };
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: GROUPS as u64 * WG as u64 * 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let operand_entry = |i: usize| wgpu::BindGroupEntry {
        binding: i as u32,
        resource: match source {
            Source::Texture => wgpu::BindingResource::TextureView(&views[i]),
            _ => buffers[i].as_entire_binding(),
        },
    };
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 2,
        resource: out.as_entire_binding(),
    }];
    if source != Source::Registers {
        entries.extend([operand_entry(0), operand_entry(1)]);
    }
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    let run = |dispatches: usize| {
        let t = Instant::now();
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            for _ in 0..dispatches {
                pass.dispatch_workgroups(GROUPS, 1, 1);
            }
        }
        queue.submit([encoder.finish()]);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("device lost");
        let flops = FLOPS_PER_INVOCATION * (GROUPS * WG) as f64 * dispatches as f64;
        flops / t.elapsed().as_secs_f64() / 1e9
    };
    let first = run(1);
    let dispatches = ((0.3 * first * 1e9) / (FLOPS_PER_INVOCATION * (GROUPS * WG) as f64))
        .ceil()
        .clamp(1.0, 10_000.0) as usize;
    (0..3).map(|_| run(dispatches)).fold(0.0, f64::max)
}

fn main() -> tapegan::Result<()> {
    let common::Bench { gpu, peak, .. } = common::Bench::new()?;
    println!("FMA peak: {peak:.1} GFLOP/s\n");
    let (device, queue) = gpu.raw_device();
    println!("{:<40} {:>10} {:>8}", "operands from", "GFLOP/s", "% peak");
    for source in [
        Source::Storage,
        Source::StorageSameAddress,
        Source::Uniform,
        Source::UniformSameAddress,
        Source::Texture,
        Source::Registers,
    ] {
        let gf = measure(device, queue, source);
        println!(
            "{:<40} {:>10.2} {:>7.1}%",
            source.name(),
            gf,
            100.0 * gf / peak
        );
    }
    Ok(())
}
