//! Command recording, submission and readback.
//!
//! Ops do not submit: each launch appends one dispatch to a compute pass that stays open across
//! launches, inside one command encoder that is submitted only when results are read back, when
//! data is uploaded, when [`Gpu::flush`] is called, or when the parameter arena is full. A whole
//! training step is therefore a handful of submits.
//!
//! Kernel parameters (shapes, scalars) go into a parameter arena: a CPU byte vector with one
//! aligned slot per dispatch, written to one uniform buffer right before the submit. Every slot
//! is distinct within a submission, so no dispatch can see another's parameters.

use std::sync::Arc;
use std::time::Duration;

use super::context::Gpu;
use super::pipeline::{Compiled, Kernel};
use super::pool::Storage;
use crate::error::{Error, Result};

/// Bytes of the parameter arena; a submission holds at most this / alignment dispatches.
const ARENA_BYTES: u64 = 1 << 20;

/// How long a readback waits for the device before giving up with an error.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// Counters of recorded work, for benchmarks and the profiler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    pub dispatches: u64,
    pub submits: u64,
    pub readbacks: u64,
    pub uploads: u64,
    /// Buffer-to-texture copies of operands read through textures (`texture_operands.rs`).
    pub texture_copies: u64,
}

/// One resource bound to a kernel: a storage buffer or a texture view.
#[derive(Clone, Copy)]
pub(crate) enum Bind<'a> {
    Buffer(&'a Storage),
    Texture(&'a wgpu::TextureView),
}

pub(crate) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    arena: Vec<u8>,
    arena_buf: wgpu::Buffer,
    align: usize,
    pub stats: ExecStats,
    pub profiler: Option<super::profile::Profiler>,
    /// FLOPs of the next dispatch, for the profiler (set by ops that know them).
    next_flops: f64,
}

impl Recorder {
    pub fn new(device: &wgpu::Device, limits: &wgpu::Limits) -> Self {
        Recorder {
            encoder: None,
            pass: None,
            arena: Vec::with_capacity(ARENA_BYTES as usize),
            arena_buf: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tapegan.params"),
                size: ARENA_BYTES,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            align: limits.min_uniform_buffer_offset_alignment.max(16) as usize,
            stats: ExecStats::default(),
            profiler: None,
            next_flops: 0.0,
        }
    }

    pub(super) fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("tapegan.step"),
            })
        })
    }

    pub(super) fn end_pass(&mut self) {
        self.pass = None;
    }

    /// Submits everything recorded so far. Returns the submission index, if any.
    fn submit(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Option<wgpu::SubmissionIndex> {
        self.end_pass();
        let mut encoder = self.encoder.take()?;
        if let Some(p) = self.profiler.as_mut() {
            p.resolve(&mut encoder, device);
        }
        if !self.arena.is_empty() {
            queue.write_buffer(&self.arena_buf, 0, &self.arena);
            self.arena.clear();
        }
        self.stats.submits += 1;
        Some(queue.submit([encoder.finish()]))
    }
}

/// Dispatch grid for `threads` invocations in workgroups of `wg`: x is capped at 65535 and the
/// rest goes to y. Kernels recover the linear index with `linear_id` from `common.wgsl`.
pub fn grid(threads: u64, wg: u32) -> [u32; 3] {
    let groups = threads.div_ceil(wg as u64).max(1);
    if groups <= 65535 {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(65535);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}

impl Gpu {
    /// Records one dispatch of `kernel` specialised by `defs`, with `params` as its uniform
    /// block and `buffers` bound at 1, 2, … in order.
    pub(crate) fn launch(
        &self,
        kernel: &Kernel,
        defs: &[(&str, &str)],
        params: &[u8],
        buffers: &[&Storage],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let compiled = self.0.pipelines.get(&self.0.device, kernel, defs)?;
        self.dispatch(
            &compiled,
            params,
            buffers.iter().map(|s| Bind::Buffer(s)),
            groups,
        )
    }

    /// Like [`Gpu::launch`] for a kernel whose source is generated: `key` names the variant
    /// (and labels it), `make_source` is called once, on the first launch of that key.
    pub(crate) fn launch_generated(
        &self,
        key: &str,
        make_source: impl FnOnce() -> String,
        params: &[u8],
        buffers: &[&Storage],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let compiled = self.generated(key, make_source)?;
        self.launch_compiled(&compiled, params, buffers, groups)
    }

    /// The generated kernel `key`, compiled now if it is not cached, without recording
    /// anything: for an op that launches several variants and must not record some of them
    /// and then fail to compile a later one. Launch it with [`Gpu::launch_compiled`].
    pub(crate) fn generated(
        &self,
        key: &str,
        make_source: impl FnOnce() -> String,
    ) -> Result<Arc<Compiled>> {
        self.0
            .pipelines
            .get_generated(&self.0.device, key, make_source)
    }

    /// Records one dispatch of a kernel from [`Gpu::generated`].
    pub(crate) fn launch_compiled(
        &self,
        compiled: &Compiled,
        params: &[u8],
        buffers: &[&Storage],
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch(
            compiled,
            params,
            buffers.iter().map(|s| Bind::Buffer(s)),
            groups,
        )
    }

    /// Like [`Gpu::launch_compiled`] with textures among the bindings: `binds` are bound
    /// at 1, 2, … in order.
    pub(crate) fn launch_bound(
        &self,
        compiled: &Compiled,
        params: &[u8],
        binds: &[Bind],
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch(compiled, params, binds.iter().copied(), groups)
    }

    fn dispatch<'b>(
        &self,
        compiled: &Compiled,
        params: &[u8],
        binds: impl ExactSizeIterator<Item = Bind<'b>>,
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(()); // nothing to run (an empty tensor)
        }
        let inner = &self.0;
        let mut rec = inner.recorder.lock().unwrap();
        let slot = params.len().max(16).div_ceil(16) * 16;
        let offset = rec.arena.len().div_ceil(rec.align) * rec.align;
        let profiler_full = rec.profiler.as_ref().is_some_and(|p| p.full());
        if (offset + slot) as u64 > ARENA_BYTES || profiler_full {
            rec.submit(&inner.device, &inner.queue);
        }
        let offset = rec.arena.len().div_ceil(rec.align) * rec.align;
        rec.arena.resize(offset, 0);
        rec.arena.extend_from_slice(params);
        rec.arena.resize(offset + slot, 0);

        let mut entries = Vec::with_capacity(binds.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &rec.arena_buf,
                offset: offset as u64,
                size: wgpu::BufferSize::new(slot as u64),
            }),
        });
        for (i, b) in binds.enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: match b {
                    Bind::Buffer(s) => s.buffer().as_entire_binding(),
                    Bind::Texture(v) => wgpu::BindingResource::TextureView(v),
                },
            });
        }
        let bind_group = inner.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&compiled.label),
            layout: &compiled.layout,
            entries: &entries,
        });
        if rec.pass.is_none() {
            let encoder = rec.encoder(&inner.device);
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("tapegan.kernels"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            rec.pass = Some(pass);
        }
        let flops = std::mem::take(&mut rec.next_flops);
        let Recorder { pass, profiler, .. } = &mut *rec;
        let pass = pass.as_mut().expect("pass opened above");
        if let Some(p) = profiler.as_mut() {
            p.before(pass, &compiled.label, flops);
        }
        pass.set_pipeline(&compiled.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        if let Some(p) = profiler.as_mut() {
            p.after(pass);
        }
        rec.stats.dispatches += 1;
        if rec.profiler.as_ref().is_some_and(|p| !p.in_pass()) {
            // No in-pass timestamps: time this dispatch alone, submit to completion.
            let timer = super::profile::WallTimer::start();
            let idx = rec.submit(&inner.device, &inner.queue);
            drop(rec);
            if let Some(idx) = idx {
                self.wait(idx)?;
            }
            let secs = timer.seconds();
            if let Some(p) = inner.recorder.lock().unwrap().profiler.as_mut() {
                p.record_wall(&compiled.label, secs, flops);
            }
        }
        Ok(())
    }

    /// Declares the arithmetic of the next dispatch (for the profiler's GFLOP/s column).
    pub(crate) fn note_flops(&self, flops: f64) {
        self.0.recorder.lock().unwrap().next_flops = flops;
    }

    /// Records a buffer-to-buffer copy of `bytes` bytes.
    pub(crate) fn copy(
        &self,
        src: &Storage,
        src_offset: u64,
        dst: &Storage,
        dst_offset: u64,
        bytes: u64,
    ) {
        if bytes == 0 {
            return;
        }
        let inner = &self.0;
        let mut rec = inner.recorder.lock().unwrap();
        rec.end_pass();
        rec.encoder(&inner.device).copy_buffer_to_buffer(
            src.buffer(),
            src_offset,
            dst.buffer(),
            dst_offset,
            bytes,
        );
    }

    /// Submits all recorded work; the submission's index, None when nothing was recorded.
    fn submit_recorded(&self) -> Option<wgpu::SubmissionIndex> {
        let inner = &self.0;
        inner
            .recorder
            .lock()
            .unwrap()
            .submit(&inner.device, &inner.queue)
    }

    /// Submits all recorded work without waiting for it.
    pub fn flush(&self) -> Result<()> {
        self.submit_recorded();
        self.take_errors()
    }

    /// Submits all recorded work, then waits until the work submitted by the previous `pace`
    /// call has finished. Called once per training step, it keeps the host at most one step
    /// ahead of the device: the device never idles between steps, yet wall-clock times, the
    /// progress bar and Ctrl-C follow the device instead of running ahead of it.
    pub fn pace(&self) -> Result<()> {
        let idx = self.submit_recorded();
        let previous = std::mem::replace(&mut *self.0.paced.lock().unwrap(), idx);
        if let Some(previous) = previous {
            self.wait(previous)?;
        }
        self.take_errors()
    }

    /// Submits all recorded work and waits until the device has finished it.
    pub fn synchronize(&self) -> Result<()> {
        if let Some(idx) = self.submit_recorded() {
            self.wait(idx)?;
        }
        self.take_errors()
    }

    fn wait(&self, idx: wgpu::SubmissionIndex) -> Result<()> {
        self.0
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(idx),
                timeout: Some(WAIT_LIMIT),
            })
            .map(|_| ())
            .map_err(|e| {
                // A failed wait usually follows a rejected submission; report why it was rejected.
                let why = self
                    .0
                    .errors
                    .lock()
                    .map(|mut v| std::mem::take(&mut *v).join("; "))
                    .unwrap_or_default();
                Error::Device(format!("waiting for the GPU failed: {e} {why}"))
            })
    }

    /// Writes `data` into `dst` at byte `offset`, ordered after all work recorded so far.
    pub(crate) fn upload(&self, dst: &Storage, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let inner = &self.0;
        {
            // queue.write_buffer runs before the commands of the next submit, so everything
            // already recorded (which may still read `dst`'s previous owner) is submitted first.
            let mut rec = inner.recorder.lock().unwrap();
            if rec.encoder.is_some() {
                rec.submit(&inner.device, &inner.queue);
            }
            rec.stats.uploads += 1;
        }
        if data.len().is_multiple_of(4) {
            inner.queue.write_buffer(dst.buffer(), offset, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(data.len().div_ceil(4) * 4, 0);
            inner.queue.write_buffer(dst.buffer(), offset, &padded);
        }
        Ok(())
    }

    /// Copies the first `bytes` of each storage back to the host, in one round trip.
    pub(crate) fn read_many(&self, items: &[(&Storage, u64)]) -> Result<Vec<Vec<u8>>> {
        let inner = &self.0;
        let total: u64 = items.iter().map(|(_, b)| b.div_ceil(4) * 4).sum();
        if total == 0 {
            return Ok(items.iter().map(|_| Vec::new()).collect());
        }
        let staging = inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tapegan.readback"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let idx = {
            let mut rec = inner.recorder.lock().unwrap();
            rec.end_pass();
            let enc = rec.encoder(&inner.device);
            let mut off = 0;
            for (s, b) in items {
                let b4 = b.div_ceil(4) * 4;
                if b4 > 0 {
                    enc.copy_buffer_to_buffer(s.buffer(), 0, &staging, off, b4);
                }
                off += b4;
            }
            rec.stats.readbacks += 1;
            rec.submit(&inner.device, &inner.queue)
        };
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        if let Some(idx) = idx {
            self.wait(idx)?;
        }
        // The map callback fires during poll; a final poll catches the no-submit case.
        let _ = inner.device.poll(wgpu::PollType::wait_indefinitely());
        rx.recv()
            .map_err(|_| Error::Device("readback was cancelled".into()))?
            .map_err(|e| Error::Device(format!("readback failed: {e}")))?;
        self.take_errors()?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| Error::Device(format!("readback mapping failed: {e}")))?;
        let mut out = Vec::with_capacity(items.len());
        let mut off = 0usize;
        for (_, b) in items {
            out.push(data[off..off + *b as usize].to_vec());
            off += (b.div_ceil(4) * 4) as usize;
        }
        drop(data);
        staging.unmap();
        Ok(out)
    }

    /// Counters of recorded work since the context was created.
    pub fn exec_stats(&self) -> ExecStats {
        self.0.recorder.lock().unwrap().stats
    }
}
