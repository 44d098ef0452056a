//! `tapegan profile`: where a training step spends its GPU time, per kernel, plus a Chrome
//! trace (open it in Perfetto or chrome://tracing).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tapegan::gan::Trainer;
use tapegan::gpu::DispatchTime;
use tapegan::{Error, Gpu, Result};

#[derive(Args)]
pub struct ProfileArgs {
    /// Preset to profile.
    #[arg(long)]
    preset: String,
    /// Training iterations to time (after one untimed warm-up iteration).
    #[arg(long, allow_negative_numbers = true, default_value_t = 3)]
    steps: u64,
    /// Override a setting (repeatable), e.g. --set batch=32.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Where to write the trace (default: profile-<preset>.json).
    #[arg(long)]
    trace: Option<PathBuf>,
}

struct Row {
    kernel: String,
    count: usize,
    total_us: f64,
    flops: f64,
}

pub fn profile(gpu: &Gpu, a: ProfileArgs) -> Result<ExitCode> {
    if a.steps == 0 {
        return Err(Error::Config("--steps must be at least 1".into()));
    }
    let mut cfg = tapegan::models::find(&a.preset)?.config.clone();
    for s in &a.sets {
        // The profiled length is --steps alone: a steps or epochs setting would be ignored.
        let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
        if key == "steps" || key == "epochs" {
            return Err(Error::Config(format!(
                "--set {s}: profile runs --steps N steps; give that instead"
            )));
        }
        cfg.set(s)?;
    }
    cfg.steps = a.steps + 1;
    cfg.epochs = 0;
    cfg.sample_every = 0;
    cfg.checkpoint_every = 0;
    // Never within the profiled steps (the largest value config.toml can hold).
    cfg.log_every = i64::MAX as u64;
    let dir = std::env::temp_dir().join(format!(
        "tapegan-profile-{}-{}",
        a.preset,
        std::process::id()
    ));
    let trace = a
        .trace
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("profile-{}.json", a.preset)));
    super::check_writable(&trace)?;
    let _ = std::fs::remove_dir_all(&dir);
    // The scratch run is removed on Ctrl-C (or SIGTERM) too; a profile has nothing to keep.
    let scratch = dir.clone();
    let _ = ctrlc::set_handler(move || {
        let _ = std::fs::remove_dir_all(&scratch);
        eprintln!("\ninterrupted: profile abandoned");
        std::process::exit(130);
    });
    let measured = (|| {
        let mut t = Trainer::new(gpu, cfg, &dir)?;
        t.set_scratch();
        // Warm-up: compiles every pipeline of the step.
        t.step_once()?;
        t.flush_log()?;
        let before = gpu.exec_stats();
        let wall = std::time::Instant::now();
        gpu.profile_start()?;
        for _ in 0..a.steps {
            t.step_once()?;
        }
        let times = gpu.profile_stop()?;
        let wall_ms = wall.elapsed().as_secs_f64() * 1e3 / a.steps as f64;
        let after = gpu.exec_stats();
        t.flush_log()?;
        Ok::<_, tapegan::Error>((times, wall_ms, before, after))
    })();
    // The scratch run goes whether or not the profile succeeded.
    let _ = std::fs::remove_dir_all(&dir);
    let (times, wall_ms, before, after) = measured?;

    // The trace first: the table may go to a reader that stops early (see main.rs).
    tapegan::io::write_atomic(&trace, chrome_trace(&times).as_bytes())?;
    let rows = aggregate(&times);
    let total: f64 = rows.iter().map(|r| r.total_us).sum();
    let steps = a.steps as f64;
    println!(
        "{}: {} steps on {}; GPU time {:.1} ms per step, wall {:.1} ms per step (timing adds overhead), {:.0} dispatches and {:.1} submits per step",
        a.preset,
        a.steps,
        gpu.adapter().describe(),
        total / 1e3 / steps,
        wall_ms,
        (after.dispatches - before.dispatches) as f64 / steps,
        (after.submits - before.submits) as f64 / steps
    );
    println!(
        "{:<58} {:>7} {:>10} {:>7} {:>9}",
        "kernel", "count", "ms/step", "share", "GFLOP/s"
    );
    for r in &rows {
        let gflops = if r.flops > 0.0 {
            format!("{:.2}", r.flops / (r.total_us * 1e3))
        } else {
            "-".into()
        };
        println!(
            "{:<58} {:>7.0} {:>10.3} {:>6.1}% {:>9}",
            truncate(&r.kernel, 58),
            r.count as f64 / steps,
            r.total_us / 1e3 / steps,
            100.0 * r.total_us / total.max(1e-9),
            gflops
        );
    }
    println!("trace of all {} steps: {}", a.steps, trace.display());
    Ok(ExitCode::SUCCESS)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Totals per pipeline label, largest first.
fn aggregate(times: &[DispatchTime]) -> Vec<Row> {
    let mut map: HashMap<&str, Row> = HashMap::new();
    for t in times {
        let r = map.entry(t.label.as_str()).or_insert_with(|| Row {
            kernel: t.label.clone(),
            count: 0,
            total_us: 0.0,
            flops: 0.0,
        });
        r.count += 1;
        r.total_us += t.duration_us;
        r.flops += t.flops;
    }
    let mut rows: Vec<Row> = map.into_values().collect();
    rows.sort_by(|a, b| b.total_us.total_cmp(&a.total_us));
    rows
}

/// Chrome trace-event JSON: one complete event per dispatch.
fn chrome_trace(times: &[DispatchTime]) -> String {
    let events: Vec<serde_json::Value> = times
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.label.split('|').next().unwrap_or(&t.label),
                "cat": "kernel",
                "ph": "X",
                "ts": t.start_us,
                "dur": t.duration_us,
                "pid": 1,
                "tid": 1,
                "args": { "variant": t.label, "gflop": t.flops / 1e9 },
            })
        })
        .collect();
    serde_json::json!({ "traceEvents": events, "displayTimeUnit": "ms" }).to_string()
}
