//! Buffer pool: GPU storage buffers are recycled, never allocated per dispatch.
//!
//! Requests are rounded up to a size class (multiples of 256 bytes for small buffers, then
//! quarter steps between powers of two, so at most 25 % is wasted). A dropped [`Storage`] goes
//! back to its class's free list. Reuse is safe without fences because every write into a
//! pooled buffer is a command recorded on the one queue after the commands that last read it
//! (uploads flush pending work first; see `exec.rs`). The operand textures of
//! `texture_operands.rs` are recycled the same way ([`PooledTexture`]), on their own free lists
//! and in the same memory figures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Usage of every pooled buffer: bound as storage, copied from (readback) and to (upload).
const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Rounds a byte count up to its size class.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(16);
    if bytes <= 4096 {
        return bytes.div_ceil(256) * 256;
    }
    let p = 63 - bytes.leading_zeros() as u64; // floor(log2)
    let step = (1u64 << p) / 4;
    bytes.div_ceil(step) * step
}

#[derive(Default)]
struct Stats {
    allocated: AtomicU64,
    in_use: AtomicU64,
    peak_in_use: AtomicU64,
    creations: AtomicU64,
}

impl Stats {
    /// Counts an object of `class` bytes taken from the pool (`created`: a new one).
    fn take(&self, class: u64, created: bool) {
        if created {
            self.creations.fetch_add(1, Ordering::Relaxed);
            self.allocated.fetch_add(class, Ordering::Relaxed);
        }
        let now = self.in_use.fetch_add(class, Ordering::Relaxed) + class;
        self.peak_in_use.fetch_max(now, Ordering::Relaxed);
    }

    /// Counts an object of `class` bytes given back to the pool.
    fn give(&self, class: u64) {
        self.in_use.fetch_sub(class, Ordering::Relaxed);
    }
}

/// Free objects by size class.
struct FreeLists<T>(Mutex<HashMap<u64, Vec<T>>>);

impl<T> Default for FreeLists<T> {
    fn default() -> Self {
        FreeLists(Mutex::default())
    }
}

impl<T> FreeLists<T> {
    fn take(&self, class: u64) -> Option<T> {
        self.0.lock().unwrap().get_mut(&class).and_then(Vec::pop)
    }

    fn put(&self, class: u64, item: T) {
        if let Ok(mut free) = self.0.lock() {
            free.entry(class).or_default().push(item);
        }
    }

    /// Drops every free object; returns their bytes.
    fn clear(&self) -> u64 {
        let mut free = self.0.lock().unwrap();
        let bytes = free.iter().map(|(c, list)| c * list.len() as u64).sum();
        free.clear();
        bytes
    }
}

pub(crate) struct PoolInner {
    device: wgpu::Device,
    /// The device's largest storage binding (buffers are bound whole).
    max_binding: u64,
    free: FreeLists<wgpu::Buffer>,
    textures: FreeLists<(wgpu::Texture, wgpu::TextureView)>,
    stats: Stats,
}

/// A recycling allocator of storage buffers.
#[derive(Clone)]
pub(crate) struct BufferPool(Arc<PoolInner>);

/// Memory figures of a pool (buffers and operand textures together).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    /// Bytes held in GPU buffers and textures, free or in use.
    pub allocated: u64,
    /// Bytes in buffers owned by tensors and textures held by a launch.
    pub in_use: u64,
    /// Largest `in_use` seen.
    pub peak_in_use: u64,
    /// Number of buffers and textures created so far.
    pub creations: u64,
}

impl BufferPool {
    pub fn new(device: wgpu::Device) -> Self {
        BufferPool(Arc::new(PoolInner {
            max_binding: device.limits().max_storage_buffer_binding_size,
            device,
            free: FreeLists::default(),
            textures: FreeLists::default(),
            stats: Stats::default(),
        }))
    }

    /// A buffer of at least `bytes` bytes; contents are whatever the last user left.
    pub fn get(&self, bytes: u64) -> Storage {
        // The whole buffer is bound, so a class above the binding limit would fail validation
        // for a tensor that itself fits: such tensors get a buffer of their own size.
        let limit = self.0.max_binding;
        let class = match size_class(bytes) {
            c if c > limit && bytes <= limit => bytes.div_ceil(256) * 256,
            c => c,
        };
        let reused = self.0.free.take(class);
        self.0.stats.take(class, reused.is_none());
        let buffer = reused.unwrap_or_else(|| {
            self.0.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tapegan.pool"),
                size: class,
                usage: USAGE,
                mapped_at_creation: false,
            })
        });
        Storage {
            buffer: Some(buffer),
            bytes,
            class,
            pool: self.0.clone(),
        }
    }

    /// A texture of `bytes` bytes (its size class: one per texture shape), recycled if one is
    /// free, else made by `create` (with the view kernels bind).
    pub fn texture(
        &self,
        bytes: u64,
        create: impl FnOnce() -> (wgpu::Texture, wgpu::TextureView),
    ) -> PooledTexture {
        let reused = self.0.textures.take(bytes);
        self.0.stats.take(bytes, reused.is_none());
        PooledTexture {
            texture: Some(reused.unwrap_or_else(create)),
            class: bytes,
            pool: self.0.clone(),
        }
    }

    /// Releases every free buffer and texture back to the driver.
    pub fn trim(&self) {
        let released = self.0.free.clear() + self.0.textures.clear();
        self.0
            .stats
            .allocated
            .fetch_sub(released, Ordering::Relaxed);
    }

    pub fn stats(&self) -> PoolStats {
        let s = &self.0.stats;
        PoolStats {
            allocated: s.allocated.load(Ordering::Relaxed),
            in_use: s.in_use.load(Ordering::Relaxed),
            peak_in_use: s.peak_in_use.load(Ordering::Relaxed),
            creations: s.creations.load(Ordering::Relaxed),
        }
    }
}

/// A pooled GPU buffer owned by one or more tensors; returns to the pool when dropped.
pub struct Storage {
    buffer: Option<wgpu::Buffer>,
    /// Bytes requested (the buffer may be larger).
    bytes: u64,
    class: u64,
    pool: Arc<PoolInner>,
}

impl Storage {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.buffer
            .as_ref()
            .expect("storage buffer present until drop")
    }

    /// Bytes requested for this storage.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(buf) = self.buffer.take() {
            self.pool.stats.give(self.class);
            self.pool.free.put(self.class, buf);
        }
    }
}

/// A pooled texture and its view, held by one launch; returns to the pool when dropped.
pub(crate) struct PooledTexture {
    texture: Option<(wgpu::Texture, wgpu::TextureView)>,
    class: u64,
    pool: Arc<PoolInner>,
}

impl PooledTexture {
    pub(crate) fn texture(&self) -> &wgpu::Texture {
        &self.texture.as_ref().expect("texture present until drop").0
    }

    pub(crate) fn view(&self) -> &wgpu::TextureView {
        &self.texture.as_ref().expect("texture present until drop").1
    }
}

impl Drop for PooledTexture {
    fn drop(&mut self) {
        if let Some(t) = self.texture.take() {
            self.pool.stats.give(self.class);
            self.pool.textures.put(self.class, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_and_waste_little() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 512);
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 5120);
        for bytes in [5000u64, 123_456, 940_800, 33_554_433] {
            let c = size_class(bytes);
            assert!(
                c >= bytes && (c as f64) <= bytes as f64 * 1.25 + 1.0,
                "{bytes} -> {c}"
            );
        }
    }
}
