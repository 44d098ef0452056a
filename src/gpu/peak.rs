//! The FMA peak: the arithmetic throughput a compute-bound kernel can reach on this adapter,
//! measured with a pure-FMA kernel (`shaders/peak_fma.wgsl`). Benchmarks report each kernel's
//! GFLOP/s as a fraction of it.

use std::time::Instant;

use super::context::Gpu;
use super::pipeline::Kernel;
use super::pool::Storage;
use crate::error::Result;
use crate::kernel;

const PEAK: Kernel = kernel!("peak_fma", "peak_fma.wgsl");

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;
/// Workgroups per dispatch: 4096 × 64 = 262 144 invocations, enough to occupy every core of
/// a large GPU (an H100 holds ~270 k resident threads) and every thread of a CPU adapter.
const GROUPS: u32 = 4096;
/// Loop iterations × vec4 accumulators per invocation: every variant does the same work,
/// 512 · 32 FLOPs per invocation, ≈ 4.3 GFLOP per dispatch.
const ITERS_X_ACCS: u64 = 512;
/// Candidate numbers of vec4 accumulators (4 independent FMA chains each). On lavapipe
/// (2 cores, AVX2) 4 or more reach the plateau; GPUs hide latency with occupancy as well.
const CANDIDATES: [u64; 4] = [2, 4, 8, 16];
/// Wall time of a screening run (per candidate) and of a final run, in seconds.
const SCREEN_S: f64 = 0.1;
const RUN_S: f64 = 0.25;
/// Final timed runs of the best candidate; the best run is reported.
const RUNS: usize = 3;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PeakParams {
    iters: u32,
    pad: u32,
    m: f32,
    c: f32,
}

/// One variant of the kernel: `accs` vec4 accumulators.
struct Variant {
    decl: String,
    step: String,
    sum: String,
    params: PeakParams,
    /// FLOPs of one dispatch.
    flops: f64,
}

impl Variant {
    fn new(accs: u64) -> Variant {
        let iters = (ITERS_X_ACCS / accs).max(1);
        let names: Vec<String> = (0..accs).map(|j| format!("a{j}")).collect();
        Variant {
            decl: names
                .iter()
                .enumerate()
                .map(|(j, a)| format!("var {a} = seed + {j}.0;"))
                .collect::<Vec<_>>()
                .join(" "),
            step: names
                .iter()
                .map(|a| format!("{a} = fma({a}, m, c);"))
                .collect::<Vec<_>>()
                .join(" "),
            sum: names.join(" + "),
            params: PeakParams {
                iters: iters as u32,
                pad: 0,
                m: 0.999_9,
                c: 1e-4,
            },
            flops: (GROUPS as u64 * WG * iters * 4 * accs * 4 * 2) as f64,
        }
    }

    fn dispatch(&self, gpu: &Gpu, out: &Storage) -> Result<()> {
        gpu.launch(
            &PEAK,
            &[
                ("DECL", &self.decl),
                ("STEP", &self.step),
                ("SUM", &self.sum),
            ],
            bytemuck::bytes_of(&self.params),
            &[out],
            [GROUPS, 1, 1],
        )
    }

    /// GFLOP/s of `reps` back-to-back dispatches, timed up to a device synchronisation.
    fn run(&self, gpu: &Gpu, out: &Storage, reps: usize) -> Result<f64> {
        gpu.synchronize()?;
        let t = Instant::now();
        for _ in 0..reps {
            self.dispatch(gpu, out)?;
        }
        gpu.synchronize()?;
        Ok(self.flops * reps as f64 / t.elapsed().as_secs_f64() / 1e9)
    }

    /// Dispatches needed for a run of about `secs`, given a measured rate.
    fn reps_for(&self, secs: f64, gflops: f64) -> usize {
        ((secs * gflops * 1e9 / self.flops).ceil() as usize).clamp(1, 100_000)
    }
}

/// Measures the adapter's FMA throughput in GFLOP/s (an FMA counts as 2 FLOPs).
///
/// Each candidate number of independent FMA chains is compiled, warmed up and timed briefly;
/// the fastest is then timed in a few runs of back-to-back dispatches (each ended by a device
/// synchronisation inside the timed region), and the best run is reported.
pub fn measure_fma_peak(gpu: &Gpu) -> Result<f64> {
    let out = gpu.0.pool.get(GROUPS as u64 * WG * 4);
    let mut best: Option<(Variant, f64)> = None;
    for accs in CANDIDATES {
        let v = Variant::new(accs);
        v.run(gpu, &out, 1)?; // compiles the pipeline
        let first = v.run(gpu, &out, 1)?;
        let rate = v.run(gpu, &out, v.reps_for(SCREEN_S, first))?;
        if best.as_ref().is_none_or(|(_, r)| rate > *r) {
            best = Some((v, rate));
        }
    }
    let (v, mut rate) = best.expect("at least one candidate");
    let reps = v.reps_for(RUN_S, rate);
    for _ in 0..RUNS {
        rate = rate.max(v.run(gpu, &out, reps)?);
    }
    Ok(rate)
}
