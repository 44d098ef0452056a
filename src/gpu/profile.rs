//! Per-dispatch GPU timing.
//!
//! While a profiler is attached ([`Gpu::profile_start`]), every dispatch is bracketed by two
//! timestamp queries written inside the compute pass (on adapters with
//! `TIMESTAMP_QUERY_INSIDE_PASSES`), resolved at each submit and read back when profiling
//! stops. Adapters without in-pass timestamps are timed by wall clock instead: each dispatch
//! is submitted and waited for on its own, which measures it including submit overhead.

use std::time::Instant;

use super::context::Gpu;
use crate::error::{Error, Result};

/// Timestamp pairs per query set (wgpu allows 4096 queries per set); a submission with more
/// dispatches is split.
const CAPACITY: u32 = 2048;

/// One timed dispatch.
#[derive(Clone, Debug)]
pub struct DispatchTime {
    /// Pipeline label: `family|KEY=value…`.
    pub label: String,
    /// Start, relative to the first dispatch of the profile, in microseconds.
    pub start_us: f64,
    pub duration_us: f64,
    /// Arithmetic of the dispatch when its op declared it (matmul, conv), else 0.
    pub flops: f64,
}

struct Pending {
    readback: wgpu::Buffer,
    labels: Vec<(String, f64)>,
}

pub(crate) struct Profiler {
    query_set: Option<wgpu::QuerySet>,
    resolve: Option<wgpu::Buffer>,
    labels: Vec<(String, f64)>,
    pending: Vec<Pending>,
    /// Wall-clock mode: (label, seconds) per dispatch.
    wall: Vec<(String, f64, f64)>,
    period_ns: f64,
}

impl Profiler {
    fn new(gpu: &Gpu) -> Profiler {
        let inner = &gpu.0;
        let in_pass = inner
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);
        let (query_set, resolve) = if in_pass {
            let qs = inner.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("tapegan.profile"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * CAPACITY,
            });
            let rb = inner.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tapegan.profile.resolve"),
                size: 16 * CAPACITY as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (Some(qs), Some(rb))
        } else {
            (None, None)
        };
        Profiler {
            query_set,
            resolve,
            labels: Vec::new(),
            pending: Vec::new(),
            wall: Vec::new(),
            period_ns: inner.queue.get_timestamp_period() as f64,
        }
    }

    /// True when timestamps are taken inside passes (otherwise the recorder times by wall clock).
    pub fn in_pass(&self) -> bool {
        self.query_set.is_some()
    }

    /// True when the query set has no room for another dispatch.
    pub fn full(&self) -> bool {
        self.labels.len() as u32 >= CAPACITY
    }

    pub fn before(&mut self, pass: &mut wgpu::ComputePass<'static>, label: &str, flops: f64) {
        if let Some(qs) = &self.query_set {
            pass.write_timestamp(qs, 2 * self.labels.len() as u32);
            self.labels.push((label.to_string(), flops));
        }
    }

    pub fn after(&mut self, pass: &mut wgpu::ComputePass<'static>) {
        if let Some(qs) = &self.query_set {
            pass.write_timestamp(qs, 2 * self.labels.len() as u32 - 1);
        }
    }

    /// Called right before a submit: resolves this submission's timestamps into a readback buffer.
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder, device: &wgpu::Device) {
        let (Some(qs), Some(rb)) = (&self.query_set, &self.resolve) else {
            return;
        };
        if self.labels.is_empty() {
            return;
        }
        let n = self.labels.len() as u32;
        encoder.resolve_query_set(qs, 0..2 * n, rb, 0);
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tapegan.profile.readback"),
            size: 16 * n as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(rb, 0, &readback, 0, 16 * n as u64);
        self.pending.push(Pending {
            readback,
            labels: std::mem::take(&mut self.labels),
        });
    }

    pub fn record_wall(&mut self, label: &str, seconds: f64, flops: f64) {
        self.wall.push((label.to_string(), seconds, flops));
    }
}

impl Gpu {
    /// Starts timing every dispatch (replacing a profile in progress).
    pub fn profile_start(&self) -> Result<()> {
        self.synchronize()?;
        let p = Profiler::new(self);
        self.0.recorder.lock().unwrap().profiler = Some(p);
        Ok(())
    }

    /// Stops profiling and returns the dispatches in submission order.
    pub fn profile_stop(&self) -> Result<Vec<DispatchTime>> {
        self.synchronize()?;
        let Some(p) = self.0.recorder.lock().unwrap().profiler.take() else {
            return Err(Error::Config("profile_stop without profile_start".into()));
        };
        if !p.in_pass() {
            let mut t = 0.0;
            return Ok(p
                .wall
                .into_iter()
                .map(|(label, s, flops)| {
                    let d = DispatchTime {
                        label,
                        start_us: t,
                        duration_us: s * 1e6,
                        flops,
                    };
                    t += s * 1e6;
                    d
                })
                .collect());
        }
        let mut out = Vec::new();
        let mut origin: Option<u64> = None;
        for pending in p.pending {
            let slice = pending.readback.slice(..);
            let (tx, rx) = std::sync::mpsc::channel();
            slice.map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
            let _ = self.0.device.poll(wgpu::PollType::wait_indefinitely());
            rx.recv()
                .map_err(|_| Error::Device("profile readback was cancelled".into()))?
                .map_err(|e| Error::Device(format!("profile readback failed: {e}")))?;
            let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(
                &slice
                    .get_mapped_range()
                    .map_err(|e| Error::Device(e.to_string()))?,
            );
            pending.readback.unmap();
            for (i, (label, flops)) in pending.labels.into_iter().enumerate() {
                let (a, b) = (ticks[2 * i], ticks[2 * i + 1]);
                let o = *origin.get_or_insert(a);
                out.push(DispatchTime {
                    label,
                    start_us: a.saturating_sub(o) as f64 * p.period_ns / 1e3,
                    duration_us: b.saturating_sub(a) as f64 * p.period_ns / 1e3,
                    flops,
                });
            }
        }
        Ok(out)
    }
}

/// Wall-clock timing of one dispatch submitted on its own (profilers without timestamps).
pub(crate) struct WallTimer(Instant);

impl WallTimer {
    pub fn start() -> WallTimer {
        WallTimer(Instant::now())
    }

    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
