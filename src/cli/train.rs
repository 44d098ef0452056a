//! `tapegan train` and the no-argument quick start.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tapegan::gan::{Outcome, TrainConfig, Trainer};
use tapegan::{Error, Gpu, Result};

use super::{fresh_run_dir, Quiet};

#[derive(Args)]
pub struct TrainArgs {
    /// Preset to train (`tapegan presets` lists them).
    #[arg(long)]
    preset: Option<String>,
    /// Data set: mnist, mnist:DIR, images:DIR, grid25, ring8.
    #[arg(long)]
    data: Option<String>,
    /// Generator updates to run.
    #[arg(
        long,
        allow_negative_numbers = true,
        conflicts_with = "epochs",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    steps: Option<u64>,
    /// Passes over the data set.
    #[arg(long, allow_negative_numbers = true)]
    epochs: Option<u64>,
    /// Samples per batch (default: the preset's).
    #[arg(long, allow_negative_numbers = true)]
    batch: Option<usize>,
    /// Seed of every random draw: weights, noise, data order (default 0).
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Run directory (default: runs/<preset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory.
    #[arg(long, conflicts_with_all = ["preset", "config", "out"])]
    resume: Option<PathBuf>,
    /// Write sample grids every N steps.
    #[arg(long, allow_negative_numbers = true)]
    sample_every: Option<u64>,
    /// Compute the quality metrics of `tapegan eval` every N steps and after the last one
    /// (metrics.csv and charts in the run directory).
    #[arg(long, allow_negative_numbers = true)]
    eval_every: Option<u64>,
    /// TOML file of settings (applied before --set).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a setting: --set lr_d=2e-4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Keep the sigmoid on the WGAN critic's output (wgan-gp-28, as the book does).
    #[arg(long)]
    critic_sigmoid: bool,
    /// Gradient-penalty interpolation: per-sample or per-element.
    #[arg(long)]
    gp_epsilon: Option<String>,
    #[command(flatten)]
    quiet: Quiet,
}

impl TrainArgs {
    /// The overrides given as flags, as `key=value` assignments, then `--set`s.
    fn assignments(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut put = |k: &str, val: Option<String>| {
            if let Some(val) = val {
                v.push(format!("{k}={val}"));
            }
        };
        put("data", self.data.clone());
        put("steps", self.steps.map(|s| s.to_string()));
        // Setting epochs also switches the run to train by them (steps = 0).
        put("epochs", self.epochs.map(|e| e.to_string()));
        put("batch", self.batch.map(|s| s.to_string()));
        put("seed", self.seed.map(|s| s.to_string()));
        put("sample_every", self.sample_every.map(|s| s.to_string()));
        put("eval_every", self.eval_every.map(|s| s.to_string()));
        put("critic_sigmoid", self.critic_sigmoid.then(|| "true".into()));
        put("gp_epsilon", self.gp_epsilon.clone());
        v.extend(self.sets.iter().cloned());
        v
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Ctrl-C, SIGTERM or SIGHUP asks the trainer to checkpoint and stop; a second one exits at
/// once. A SIGHUP that was ignored when tapegan started (`nohup`) stays ignored.
fn install_ctrl_c() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let hangup_ignored = hangup_ignored();
        static FIRST: OnceLock<std::time::Instant> = OnceLock::new();
        let _ = ctrlc::set_handler(|| {
            let first = *FIRST.get_or_init(std::time::Instant::now);
            if STOP.swap(true, Ordering::SeqCst) {
                // `timeout` and shells signal the process and then its group: a repeat within
                // a second is the same request, not a second one.
                if first.elapsed() < Duration::from_secs(1) {
                    return;
                }
                eprintln!("\ninterrupted again: exiting without a checkpoint");
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: saving a checkpoint (interrupt again to exit at once)");
        });
        if hangup_ignored {
            ignore_hangup();
        }
    });
}

#[cfg(unix)]
fn hangup_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current disposition into
    // `old`, a zeroed plain-data struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(unix)]
fn ignore_hangup() {
    // SAFETY: SIG_IGN is a valid disposition for SIGHUP; no handler code is involved.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

#[cfg(not(unix))]
fn hangup_ignored() -> bool {
    false
}

#[cfg(not(unix))]
fn ignore_hangup() {}

pub fn train(gpu: &Gpu, a: TrainArgs) -> Result<ExitCode> {
    let mut trainer = if let Some(dir) = &a.resume {
        Trainer::resume(gpu, dir, &a.assignments())?
    } else {
        let mut cfg = match (&a.preset, &a.config) {
            (Some(p), _) => tapegan::models::find(p)?.config.clone(),
            (None, Some(path)) => preset_from_file(path)?,
            (None, None) => {
                return Err(Error::Config(
                    "choose a preset with --preset NAME (see `tapegan presets`)".into(),
                ))
            }
        };
        if let Some(path) = &a.config {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            cfg.merge_toml(&text, &path.display().to_string())?;
        }
        for s in a.assignments() {
            cfg.set(&s)?;
        }
        let out = a.out.clone().unwrap_or_else(|| fresh_run_dir(&cfg.preset));
        Trainer::new(gpu, cfg, &out)?
    };
    run_trainer(&mut trainer, a.quiet.quiet)
}

/// The preset named inside a config file (so `--config FILE` alone is enough).
fn preset_from_file(path: &PathBuf) -> Result<TrainConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let t: toml::Table = toml::from_str(&text)
        .map_err(|e| tapegan::gan::toml_error(&path.display().to_string(), &text, &e))?;
    let name = match t.get("preset") {
        Some(toml::Value::String(name)) => name,
        Some(other) => {
            return Err(Error::Config(format!(
                "{}: preset = {other} is not a preset name; write preset = \"NAME\" (see \
                 `tapegan presets`)",
                path.display()
            )))
        }
        None => {
            return Err(Error::Config(format!(
                "{}: no preset given (add preset = \"NAME\" or pass --preset)",
                path.display()
            )))
        }
    };
    Ok(tapegan::models::find(name)?.config.clone())
}

/// Steps and batch of the quick start: dcgan-28 with batch 16 instead of the book's 64, so
/// that digits appear within about three minutes on a CPU adapter (lavapipe, 2 cores: ~0.3 s
/// per step, 2 min 45 s in all; strokes at step 400, digit shapes by 550).
const QUICKSTART_STEPS: u64 = 550;
const QUICKSTART_BATCH: usize = 16;

pub fn quickstart(gpu: &Gpu) -> Result<ExitCode> {
    let mut cfg = tapegan::models::find("dcgan-28")?.config.clone();
    cfg.steps = QUICKSTART_STEPS;
    cfg.batch = QUICKSTART_BATCH;
    cfg.sample_every = 100;
    cfg.checkpoint_every = 300;
    let out = fresh_run_dir("quickstart");
    eprintln!(
        "quick start: training dcgan-28 (batch {}) on the shipped MNIST subset for {} steps into {}",
        cfg.batch,
        cfg.steps,
        out.display()
    );
    eprintln!("(tapegan train --preset NAME trains any preset; tapegan --help lists the commands)");
    let mut trainer = Trainer::new(gpu, cfg, &out)?;
    run_trainer(&mut trainer, false)
}

fn run_trainer(trainer: &mut Trainer, quiet: bool) -> Result<ExitCode> {
    install_ctrl_c();
    let dir = trainer.run_dir.clone();
    eprintln!(
        "{}: {} steps (from step {}), adapter {}, seed {}, run directory {}",
        trainer.cfg.preset,
        trainer.total,
        trainer.step,
        trainer.gpu.adapter().describe(),
        trainer.cfg.seed,
        dir.display()
    );
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(trainer.total)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    bar.set_position(trainer.step);
    bar.enable_steady_tick(Duration::from_millis(500));
    let b = bar.clone();
    trainer.on_log = Some(Box::new(move |row, t| {
        let parts: Vec<String> = t
            .columns()
            .iter()
            .zip(&row.values)
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        b.set_position(row.step);
        b.set_message(parts.join("  "));
    }));
    let outcome = trainer.run(&STOP);
    bar.finish_and_clear();
    match outcome? {
        Outcome::Finished => {
            if let Some(last) = trainer.rows().last() {
                let parts: Vec<String> = trainer
                    .columns()
                    .iter()
                    .zip(&last.values)
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect();
                eprintln!("step {}: {}", last.step, parts.join(", "));
            }
            // Toy presets plot points (toy/) rather than writing sample grids (samples/).
            let toy = tapegan::models::presets::image_side(&trainer.cfg.preset).is_none();
            eprintln!(
                "done in {:.1} s: {} in {}, checkpoint in {}",
                trainer.rows().last().map_or(0.0, |r| r.seconds),
                if toy { "plots" } else { "samples" },
                dir.join(if toy { "toy" } else { "samples" }).display(),
                dir.join("checkpoint").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted => {
            eprintln!(
                "stopped at step {}; resume with: tapegan train --resume {}",
                trainer.step,
                dir.display()
            );
            Ok(ExitCode::from(130))
        }
    }
}
