//! Kernel benchmarks: `cargo bench --bench kernels [-- FILTER ...]`.
//!
//! Prints the adapter, its measured FMA peak (`tapegan::gpu::measure_fma_peak`), then one row
//! per kernel and shape: wall time per call, throughput (GFLOP/s for compute-bound kernels,
//! GB/s of compulsory memory traffic for memory-bound ones), the fraction of the FMA peak,
//! and dispatches per call. A FILTER keeps the rows whose "kernel shape" text contains it.
//!
//! Timing: a warm-up call (pipeline compilation, buffer pool), a calibration that picks N so
//! that one measurement takes ~0.3 s, then the best of two runs of N calls recorded back to
//! back and ended by `Gpu::synchronize` inside the timed region — so the time covers the
//! device work, not just the recording. Calls slower than a second are measured once. The
//! "calls" column is the N of the reported measurement. Nothing here asserts a timing.

mod common;

use std::time::Instant;

use common::{Bench, Work};
use tapegan::{Generator, Gpu, Result, Tensor};

/// Target wall time of one measurement.
const TARGET_S: f64 = 0.3;
/// Measurements per row; the fastest is reported.
const RUNS: usize = 2;

impl Bench {
    /// Times `f` (one call = one kernel invocation of the op under test) and prints a row.
    fn row(
        &self,
        kernel: &str,
        shape: &str,
        work: Work,
        f: &mut dyn FnMut() -> Result<Tensor>,
    ) -> Result<()> {
        let label = format!("{kernel} {shape}");
        if !common::selected(&self.filters, &label) {
            return Ok(());
        }
        let g = &self.gpu;
        // One batch: `k` calls recorded back to back, then a device synchronisation, all timed.
        // Returns (seconds per call, dispatches per call).
        let mut batch = |k: usize| -> Result<(f64, f64)> {
            let before = g.exec_stats().dispatches;
            let t = Instant::now();
            for _ in 0..k {
                drop(f()?);
            }
            g.synchronize()?;
            let secs = t.elapsed().as_secs_f64() / k as f64;
            Ok((secs, (g.exec_stats().dispatches - before) as f64 / k as f64))
        };
        // Warm-up: compiles the pipelines (unless an earlier row did) and fills the buffer pool.
        let compiled = g.pipelines_compiled();
        let (first, first_dispatches) = batch(1)?;
        // Calibration: double the call count until a batch takes ≥ 20 ms. A first call that
        // compiled nothing and took that long already is a valid measurement of its own.
        let (mut per_call, mut dispatches) = (first, first_dispatches);
        if g.pipelines_compiled() != compiled || first < 0.02 {
            let mut k = 1usize;
            loop {
                (per_call, dispatches) = batch(k)?;
                if per_call * k as f64 >= 0.02 || k >= 1 << 16 {
                    break;
                }
                k *= 2;
            }
        }
        // Measurement: the best of RUNS batches of ~TARGET_S (fewer for calls over a second,
        // where the calibration batch already is one).
        let n = ((TARGET_S / per_call).ceil() as usize).clamp(1, 1 << 17);
        let mut best = per_call;
        let runs = if per_call > 1.0 { 0 } else { RUNS };
        for _ in 0..runs {
            let (s, d) = batch(n)?;
            best = best.min(s);
            dispatches = d;
        }
        let n = if runs == 0 { 1 } else { n };
        let (rate, unit, pct) = work.rate(best, self.peak);
        println!(
            "{kernel:<22} {shape:<16} {:>10.3} {rate:>9.2} {unit:<8} {pct:>7} {dispatches:>6.1} {n:>7}",
            best * 1e3
        );
        Ok(())
    }
}

/// Uniform random f32 tensor of `shape` made on the device.
fn rand(gpu: &Gpu, gen: &mut Generator, shape: &[usize]) -> Result<Tensor> {
    gen.uniform(gpu, shape, -1.0, 1.0)
}

fn main() -> Result<()> {
    let b = Bench::new()?;
    let (gpu, peak) = (b.gpu.clone(), b.peak);
    println!("FMA peak: {peak:.1} GFLOP/s (pure-FMA kernel, FMA = 2 FLOPs, best of 3 runs)");
    println!();
    println!(
        "{:<22} {:<16} {:>10} {:>18} {:>7} {:>6} {:>7}",
        "kernel", "shape", "ms/call", "throughput", "% peak", "disp", "calls"
    );
    let mut gen = Generator::new(7);
    let g = &gpu;

    // Matrix products. m×k×n: A is m×k, B is k×n (as stored when not transposed).
    // 2048³ and 4096³ only on GPUs: a CPU adapter needs tens of seconds per 4096³ call.
    let squares: &[usize] = if gpu.is_cpu() {
        &[64, 128, 256, 512, 1024]
    } else {
        &[64, 128, 256, 512, 1024, 2048, 4096]
    };
    for &s in squares {
        let (x, y) = (rand(g, &mut gen, &[s, s])?, rand(g, &mut gen, &[s, s])?);
        let fl = 2.0 * (s * s * s) as f64;
        b.row(
            "matmul",
            &format!("{s}×{s}×{s}"),
            Work::Flops(fl),
            &mut || x.matmul(&y),
        )?;
    }
    // The GAN's linear layers (batch 300, 784 ↔ 128). nn::Linear keeps W as [out, in] and runs
    // y = x·Wᵀ; its backward runs dx = g·W (NN) and dW = gᵀ·x (TN).
    let gan = [(300usize, 784usize, 128usize), (300, 128, 784)];
    for (m, k, n) in gan {
        let (x, w) = (rand(g, &mut gen, &[m, k])?, rand(g, &mut gen, &[k, n])?);
        let fl = 2.0 * (m * k * n) as f64;
        b.row(
            "matmul",
            &format!("{m}×{k}×{n}"),
            Work::Flops(fl),
            &mut || x.matmul(&w),
        )?;
    }
    for (m, k, n) in gan {
        // Forward of Linear(k → n): x [m, k] · W[n, k]ᵀ.
        let (x, w) = (rand(g, &mut gen, &[m, k])?, rand(g, &mut gen, &[n, k])?);
        let fl = 2.0 * (m * k * n) as f64;
        b.row(
            "matmul_t(x,W,F,T) fwd",
            &format!("{m}×{k}×{n}"),
            Work::Flops(fl),
            &mut || x.matmul_t(&w, false, true),
        )?;
    }
    for (m, k, n) in gan {
        // Backward of Linear(k → n), upstream gradient G [m, n]: dx = G·W, dW = Gᵀ·x.
        let (gr, w, x) = (
            rand(g, &mut gen, &[m, n])?,
            rand(g, &mut gen, &[n, k])?,
            rand(g, &mut gen, &[m, k])?,
        );
        let fl = 2.0 * (m * k * n) as f64;
        b.row(
            "matmul_t(G,W,F,F) dx",
            &format!("{m}×{n}×{k}"),
            Work::Flops(fl),
            &mut || gr.matmul_t(&w, false, false),
        )?;
        b.row(
            "matmul_t(G,x,T,F) dW",
            &format!("{n}×{m}×{k}"),
            Work::Flops(fl),
            &mut || gr.matmul_t(&x, true, false),
        )?;
        // The same product for a layer written x·W with W [k, n]: dW = xᵀ·G.
        b.row(
            "matmul_t(x,G,T,F) dW",
            &format!("{k}×{m}×{n}"),
            Work::Flops(fl),
            &mut || x.matmul_t(&gr, true, false),
        )?;
    }

    // Elementwise maps (memory-bound: 4 bytes per input and output element).
    for (name, shape) in [("300×784", vec![300usize, 784]), ("4M", vec![1usize << 22])] {
        let n: usize = shape.iter().product();
        let (x, y) = (rand(g, &mut gen, &shape)?, rand(g, &mut gen, &shape)?);
        b.row("tanh", name, Work::Bytes(8.0 * n as f64), &mut || x.tanh())?;
        b.row("add", name, Work::Bytes(12.0 * n as f64), &mut || x.add(&y))?;
    }
    // Baselines for the maps above: a pure store, and a load-store with no arithmetic.
    let n4 = 1usize << 22;
    b.row(
        "fill (Tensor::full)",
        "4M",
        Work::Bytes(4.0 * n4 as f64),
        &mut || Tensor::full(g, &[n4], 1.0),
    )?;
    let x = rand(g, &mut gen, &[n4])?;
    b.row("neg", "4M", Work::Bytes(8.0 * n4 as f64), &mut || x.neg())?;
    let (x, bias) = (rand(g, &mut gen, &[300, 784])?, rand(g, &mut gen, &[784])?);
    b.row(
        "add (bias broadcast)",
        "300×784 + 784",
        Work::Bytes(8.0 * 300.0 * 784.0),
        &mut || x.add(&bias),
    )?;

    // Reductions (memory-bound: the input read once, the output written once).
    let x = rand(g, &mut gen, &[300, 784])?;
    b.row(
        "sum axis 0",
        "300×784",
        Work::Bytes(4.0 * (300.0 * 784.0 + 784.0)),
        &mut || x.sum(&[0], false),
    )?;
    b.row(
        "sum axis 1",
        "300×784",
        Work::Bytes(4.0 * (300.0 * 784.0 + 300.0)),
        &mut || x.sum(&[1], false),
    )?;
    let x = rand(g, &mut gen, &[1 << 22])?;
    b.row(
        "sum all",
        "4M",
        Work::Bytes(4.0 * (1 << 22) as f64),
        &mut || x.sum_all(),
    )?;
    Ok(())
}
