//! What the benches share: row filters from the command line, the timing loop that ends
//! every timed region with a device synchronisation, process CPU time, and throughput
//! against the adapter's FMA peak.
#![allow(dead_code)] // each bench uses a part

use std::time::Instant;

use tapegan::gpu::measure_fma_peak;
use tapegan::{Gpu, Result};

/// What every kernel and layer bench starts from: the adapter, its measured FMA peak and the
/// row filters. Each bench adds its own `row` method.
pub struct Bench {
    pub gpu: Gpu,
    pub peak: f64,
    pub filters: Vec<String>,
}

impl Bench {
    /// Opens the adapter, prints it and measures its FMA peak (printed by the caller, with
    /// whatever else its header says).
    pub fn new() -> Result<Bench> {
        tapegan::gpu::quiet_platform_probes();
        let filters = filters();
        let gpu = Gpu::new()?;
        let a = gpu.adapter();
        println!("adapter: {} — driver: {}", a.describe(), a.driver);
        let peak = measure_fma_peak(&gpu)?;
        Ok(Bench { gpu, peak, filters })
    }
}

/// Row filters: every command-line argument that is not a flag (cargo passes `--bench`).
pub fn filters() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

/// True when a row labelled `label` should run (no filters, or one of them matches).
pub fn selected(filters: &[String], label: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
}

/// CPU time of this process (user + system, all threads) in seconds, where /proc has it.
/// On a CPU adapter it is the work done, unaffected by other processes sharing the machine
/// (wall time is not).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// Per-call figures of a timed loop.
pub struct Timing {
    /// Wall seconds per call.
    pub secs: f64,
    /// Process CPU seconds per call (NaN where /proc is missing).
    pub cpu: f64,
    /// Dispatches recorded per call.
    pub dispatches: f64,
}

/// Calls `f` back to back, each batch ended by `Gpu::synchronize` inside the timed region,
/// doubling the call count until `target_s` have passed (at least one call). The caller
/// warms up first (pipeline compilation, buffer pool).
pub fn time_calls(gpu: &Gpu, target_s: f64, f: &mut dyn FnMut() -> Result<()>) -> Result<Timing> {
    gpu.synchronize()?;
    let d0 = gpu.exec_stats().dispatches;
    let (mut calls, t0, c0) = (0usize, Instant::now(), cpu_seconds());
    while calls == 0 || t0.elapsed().as_secs_f64() < target_s {
        let reps = calls.max(1);
        for _ in 0..reps {
            f()?;
        }
        gpu.synchronize()?;
        calls += reps;
    }
    let n = calls as f64;
    Ok(Timing {
        secs: t0.elapsed().as_secs_f64() / n,
        cpu: c0.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| (b - a) / n),
        dispatches: (gpu.exec_stats().dispatches - d0) as f64 / n,
    })
}

/// What a row's throughput counts.
pub enum Work {
    /// Floating-point operations per call.
    Flops(f64),
    /// Bytes that must cross memory per call.
    Bytes(f64),
}

impl Work {
    /// (rate, unit, fraction of the FMA peak as text) for calls of `secs` seconds.
    pub fn rate(&self, secs: f64, peak: f64) -> (f64, &'static str, String) {
        match *self {
            Work::Flops(fl) => {
                let gf = fl / secs / 1e9;
                (gf, "GFLOP/s", format!("{:.1}%", 100.0 * gf / peak))
            }
            Work::Bytes(b) => (b / secs / 1e9, "GB/s", "-".to_string()),
        }
    }
}
