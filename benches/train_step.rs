//! `cargo bench --bench train_step [-- FILTER]`: milliseconds per training iteration of every
//! preset at its configured batch size, with process CPU milliseconds, dispatches and submits
//! per iteration.
//!
//! Each preset is warmed up by one iteration (pipeline compilation), then timed over enough
//! iterations for about two seconds (at least two), with a device synchronisation at the end
//! of the timed region so that queued GPU work is counted. On a CPU adapter the CPU column
//! is the work done and is unaffected by other processes sharing the machine; compare
//! builds with it where wall time is noisy.

mod common;

use std::time::Instant;

use tapegan::gan::Trainer;
use tapegan::Gpu;

fn main() {
    tapegan::gpu::quiet_platform_probes();
    let filters = common::filters();
    let gpu = Gpu::new().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    println!(
        "adapter: {} — driver: {}",
        gpu.adapter().describe(),
        gpu.adapter().driver
    );
    println!(
        "{:<15} {:>6} {:>10} {:>10} {:>11} {:>9} {:>8}",
        "preset", "batch", "ms/iter", "CPU ms", "iterations", "dispatch", "submits"
    );
    for p in tapegan::models::presets() {
        if !common::selected(&filters, p.name) {
            continue;
        }
        let mut cfg = p.config.clone();
        // The largest values config.toml can hold (TOML integers are i64).
        cfg.steps = i64::MAX as u64;
        cfg.sample_every = 0;
        cfg.checkpoint_every = 0;
        cfg.log_every = i64::MAX as u64;
        let dir =
            std::env::temp_dir().join(format!("tapegan-bench-{}-{}", p.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = match Trainer::new(&gpu, cfg.clone(), &dir) {
            Ok(t) => t,
            Err(e) => {
                println!("{:<15} error: {e}", p.name);
                continue;
            }
        };
        t.step_once()
            .and_then(|_| t.flush_log().map(|_| ()))
            .expect("warm-up iteration");
        let start = Instant::now();
        let cpu_start = common::cpu_seconds();
        let before = gpu.exec_stats();
        let mut n = 0u64;
        while n < 2 || (start.elapsed().as_secs_f64() < 2.0 && n < 200) {
            t.step_once().expect("iteration");
            n += 1;
            if n.is_multiple_of(10) {
                t.flush_log().expect("finite losses");
            }
        }
        t.flush_log().expect("finite losses");
        gpu.synchronize().expect("device");
        let ms = start.elapsed().as_secs_f64() * 1e3 / n as f64;
        let cpu_ms = match (cpu_start, common::cpu_seconds()) {
            (Some(a), Some(b)) => (b - a) * 1e3 / n as f64,
            _ => f64::NAN,
        };
        let after = gpu.exec_stats();
        println!(
            "{:<15} {:>6} {:>10.1} {:>10.1} {:>11} {:>9.0} {:>8.1}",
            p.name,
            cfg.batch,
            ms,
            cpu_ms,
            n,
            (after.dispatches - before.dispatches) as f64 / n as f64,
            (after.submits - before.submits) as f64 / n as f64
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
