//! Resuming a run: its saved settings (only [`RESUMABLE_KEYS`] may change), the lock, the
//! checkpoint, and the position in the data, so that the run continues exactly.

use std::path::Path;

use super::{checkpoint, extra_names, Trainer};
use crate::error::{Error, Result};
use crate::gan::config::differs;
use crate::gan::run_lock::RunLock;
use crate::gan::runlog::RunLog;
use crate::gan::TrainConfig;
use crate::gpu::Gpu;

/// Settings that may differ between a run and its resumption.
pub const RESUMABLE_KEYS: &[&str] = &[
    "steps",
    "epochs",
    "sample_every",
    "log_every",
    "checkpoint_every",
    "eval_every",
    "samples",
];

/// A setting's value as the user wrote it: floats are f32 settings, so shown as f32
/// (1e-4, not 0.00009999999747378752).
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(f) => (*f as f32).to_string(),
        other => other.to_string(),
    }
}

impl Trainer {
    /// Continues the run in `run_dir`; `overrides` may change only [`RESUMABLE_KEYS`].
    pub fn resume(gpu: &Gpu, run_dir: &Path, overrides: &[String]) -> Result<Trainer> {
        let saved = TrainConfig::read_run(run_dir)?;
        let lock = RunLock::acquire(run_dir)?;
        let mut cfg = saved.clone();
        for o in overrides {
            cfg.set(o)?;
        }
        let (a, b) = (
            toml::Table::try_from(&saved).map_err(|e| Error::Config(e.to_string()))?,
            toml::Table::try_from(&cfg).map_err(|e| Error::Config(e.to_string()))?,
        );
        for (k, v) in &b {
            if differs(a.get(k), Some(v)) && !RESUMABLE_KEYS.contains(&k.as_str()) {
                return Err(Error::Config(format!(
                    "cannot resume with {k} = {}: the run was trained with {k} = {}; only {} may change",
                    show(v),
                    a.get(k).map(show).unwrap_or_default(),
                    RESUMABLE_KEYS.join(", ")
                )));
            }
        }
        cfg.check_values().map_err(|e| match saved.check_values() {
            // A run written by an older tapegan may hold settings that are checked now.
            Err(_) => Error::Config(format!(
                "{}: {e} (edit the file to resume this run)",
                run_dir.join("config.toml").display()
            )),
            Ok(()) => e,
        })?;
        let mut t = Trainer::build(gpu, cfg, run_dir, Some(()))?;
        let p = checkpoint::load(run_dir, &t.cfg.preset, &mut t.gan)?;
        // --steps counts from the start: asking for no more than is done trains nothing.
        // (Resuming a finished run as it is only rewrites its final outputs, and is allowed.)
        let asks_for_length = overrides.iter().any(|o| {
            o.split_once('=')
                .is_some_and(|(k, _)| matches!(k.trim(), "steps" | "epochs"))
        });
        if p.step > t.total || (p.step == t.total && asks_for_length) {
            return Err(Error::Config(format!(
                "the run is at step {} and its total is {} steps: pass --steps with a total \
                 above {} (or --epochs) to train further",
                p.step, t.total, p.step
            )));
        }
        t.lock = Some(lock);
        t.step = p.step;
        t.rng = p.rng;
        // The data set is read afresh: a folder that gained or lost files since is another
        // data set, and the saved position in it means nothing.
        if let Some(count) = p.data_count.filter(|&c| c != t.loader.count()) {
            return Err(Error::Data(format!(
                "{} holds {} samples now, but the run in {} was trained on {count}; resume with \
                 the data it was trained on",
                t.cfg.data,
                t.loader.count(),
                run_dir.display()
            )));
        }
        t.loader.restore(p.data_epoch, p.data_pos)?;
        t.log = RunLog::open(run_dir, &extra_names(&t.cfg), p.step)?;
        t.offset_seconds = t.log.rows.last().map_or(0.0, |r| r.seconds);
        t.write_config()?;
        Ok(t)
    }
}
