//! Operands read through textures: a kernel may read a storage buffer's contents as the
//! texels of an rgba32float texture holding a copy of it, through `textureLoad`.
//!
//! Why: on lavapipe (Mesa 22.3) every storage-buffer load is a scalar loop over the SIMD
//! lanes, while a texel load with per-lane addresses is one branch-free gather
//! (docs/PERFORMANCE.md, "Where operands come from"). A kernel that does many FMAs per loaded
//! element gains from the cheaper load even though the operand is copied first (a memcpy on
//! a CPU adapter).
//!
//! Layout: the buffer's bytes fill the texture row by row, 1024 rgba32float texels (16 KiB)
//! per row, so vec4 q of the buffer is texel (q mod 1024, q / 1024) — a mask and a shift in
//! the kernel ([`texel_wgsl`]). Only kernels that read vec4s gain: the conv gather kernel
//! reading its scalar operands through r32float copies ran 10–35 % slower than from its
//! buffers on lavapipe (docs/PERFORMANCE.md).
//!
//! Textures come from the buffer pool (`pool.rs`, [`PooledTexture`]): one is owned by the launch
//! that copied into it and goes back to the pool when dropped, after the dispatches reading it
//! are recorded. The next copy into it is recorded after them, so wgpu orders it after their
//! reads; and no other thread can copy into a texture a launch still holds (one shared texture
//! per slot was wrong exactly there).

use super::context::Gpu;
use super::pool::{PooledTexture, Storage};

/// Texels per texture row: 16 KiB, a multiple of the 256-byte row alignment of copies.
const TEXELS_PER_ROW: u32 = 1024;
const ROW_BYTES: u64 = TEXELS_PER_ROW as u64 * 16;

/// WGSL declaring `var {name}: texture_2d<f32>` at `binding` and `fn {load}(q: u32)`
/// returning vec4 q of the copied buffer.
pub(crate) fn texel_wgsl(binding: u32, name: &str, load: &str) -> String {
    format!(
        "@group(0) @binding({binding}) var {name}: texture_2d<f32>;\n\
         fn {load}(q: u32) -> vec4<f32> {{\n    \
         return textureLoad({name}, vec2<u32>(q & {}u, q >> {}u), 0);\n}}\n",
        TEXELS_PER_ROW - 1,
        TEXELS_PER_ROW.trailing_zeros()
    )
}

impl Gpu {
    /// Records a copy of `s` (its requested bytes, rounded up to whole texels) into a texture
    /// and returns it; None when the data needs more rows than the adapter's textures have
    /// (the caller reads the buffer instead).
    pub(crate) fn operand_texture(&self, s: &Storage) -> Option<PooledTexture> {
        let inner = &self.0;
        let bytes = s.bytes().div_ceil(16).max(1) * 16;
        let rows = bytes.div_ceil(ROW_BYTES);
        let height = rows.next_power_of_two();
        if height > inner.limits.max_texture_dimension_2d as u64 {
            return None;
        }
        let height = height as u32;
        let texture = inner.pool.texture(height as u64 * ROW_BYTES, || {
            let t = inner.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("tapegan.operand"),
                size: wgpu::Extent3d {
                    width: TEXELS_PER_ROW,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = t.create_view(&Default::default());
            (t, view)
        });
        let full = bytes / ROW_BYTES;
        let rest = (bytes % ROW_BYTES) / 16;
        let mut rec = inner.recorder.lock().unwrap();
        rec.end_pass();
        let enc = rec.encoder(&inner.device);
        let mut copy = |offset: u64, y: u32, width: u32, height: u32| {
            enc.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: s.buffer(),
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(ROW_BYTES as u32),
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: texture.texture(),
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
            );
        };
        if full > 0 {
            copy(0, 0, TEXELS_PER_ROW, full as u32);
        }
        if rest > 0 {
            copy(full * ROW_BYTES, full as u32, rest as u32, 1);
        }
        rec.stats.texture_copies += 1;
        Some(texture)
    }
}
