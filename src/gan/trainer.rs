//! The training loop of a run directory: build or restore, iterate, log, sample, checkpoint.
//!
//! Invariants that make `N steps + resume + M steps` equal `N + M` steps on the same adapter:
//! every random draw of training comes from one GPU [`Generator`] whose offset is checkpointed;
//! initialisation and sample noise use separate streams; the data order is a function of
//! (seed, epoch) and the loader position is checkpointed; batch-norm statistics, spectral-norm
//! vectors and optimizer moments are all in the checkpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::checkpoint::{self, Progress};
use super::config::{LossKind, TrainConfig};
use super::outputs::{self, FixedInputs};
use super::run_dir;
use super::run_lock::RunLock;
use super::runlog::{Row, RunLog};
use super::step::{extra_names, Gan};
use crate::data::{self, DataLoader, DataOptions, DataSpec, HostData};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::metrics::{self, Evaluator, Report};
use crate::nn::named_parameters;
use crate::ops::Generator;
use crate::optim::{Algorithm, OptimConfig, Optimizer};

mod resume;
pub use resume::RESUMABLE_KEYS;

const INIT_STREAM: u64 = 0x494E_4954;
const TRAIN_STREAM: u64 = 0x54_5241_494E;

/// A progress callback, called with the latest log row.
pub type LogHook = Box<dyn FnMut(&Row, &Trainer)>;

/// How a call to [`Trainer::run`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    /// Stopped by the user (Ctrl-C) after saving a checkpoint.
    Interrupted,
}

pub struct Trainer {
    pub gpu: Gpu,
    pub cfg: TrainConfig,
    pub gan: Gan,
    pub run_dir: PathBuf,
    loader: DataLoader,
    rng: Generator,
    pub step: u64,
    pub total: u64,
    log: RunLog,
    fixed: FixedInputs,
    centres: Option<Vec<[f32; 2]>>,
    started: Instant,
    /// Seconds of earlier sessions of this run (resume).
    offset_seconds: f64,
    /// Called at each log point with the latest row (progress display).
    pub on_log: Option<LogHook>,
    /// Quality metrics (`eval_every` > 0), prepared before the first step so that a missing
    /// classifier stops the run at once rather than at the first evaluation.
    evaluator: Option<Evaluator>,
    /// Held while the trainer lives: one process per run directory.
    lock: Option<RunLock>,
    /// A scratch run that never checkpoints (`tapegan profile`): a divergence is reported
    /// without naming checkpoints.
    scratch: bool,
}

/// Loads the data set a configuration names.
pub fn load_data(cfg: &TrainConfig) -> Result<HostData> {
    let spec: DataSpec = cfg.data.parse()?;
    let side = crate::models::presets::image_side(&cfg.preset);
    let opts = DataOptions {
        image_size: if cfg.image_size > 0 {
            cfg.image_size
        } else {
            side.unwrap_or(0)
        },
        channels: cfg.channels,
        digits: (!cfg.digits.is_empty()).then(|| cfg.digits.clone()),
        limit: (cfg.limit > 0).then_some(cfg.limit),
        toy_std: cfg.toy_std,
        toy_scale: cfg.toy_scale,
        toy_per_mode: 4000,
        seed: cfg.seed,
    };
    let data = data::load(&spec, &opts)?;
    match (side, data.sample_shape.as_slice()) {
        (None, [2]) => Ok(data),
        (Some(s), [c, h, w]) if *h == s && *w == s && *c == cfg.channels => Ok(data),
        _ => Err(Error::Config(format!(
            "preset {} cannot train on {} ({}); choose a matching --data",
            cfg.preset,
            cfg.data,
            data.describe()
        ))),
    }
}

fn optimizer(
    params: Vec<(String, crate::Tensor)>,
    cfg: &TrainConfig,
    lr: f32,
    clip: Option<f32>,
) -> Result<Optimizer> {
    let algorithm = Algorithm::Adam {
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.adam_eps,
        keras_eps: cfg.keras_adam,
    };
    let mut oc = OptimConfig::new(algorithm, lr);
    oc.decay = cfg.decay;
    oc.clip = clip;
    Optimizer::new(params, oc)
}

impl Trainer {
    /// Starts a new run in `run_dir`: a missing or empty folder, or a run that stopped before
    /// its first checkpoint (see `run_dir.rs`); a failed start leaves nothing behind.
    pub fn new(gpu: &Gpu, mut cfg: TrainConfig, run_dir: &Path) -> Result<Trainer> {
        cfg.validate()?;
        // config.toml must name the data wherever the run is resumed from.
        cfg.data = data::absolute_spec(&cfg.data)?;
        if let DataSpec::Images { dir } = cfg.data.parse()? {
            run_dir::refuse_inside_data(run_dir, &dir)?;
        }
        if checkpoint::checkpoint_dir(run_dir).is_ok() {
            return Err(Error::Config(format!(
                "{} already holds a run; use --resume {} to continue it or choose another --out",
                run_dir.display(),
                run_dir.display()
            )));
        }
        let dir = run_dir::prepare(run_dir)?;
        match Trainer::build(gpu, cfg, run_dir, None).and_then(|t| t.write_config().map(|_| t)) {
            Ok(mut t) => {
                t.lock = Some(dir.into_lock());
                Ok(t)
            }
            Err(e) => {
                dir.abandon();
                Err(e)
            }
        }
    }

    fn build(gpu: &Gpu, cfg: TrainConfig, run_dir: &Path, resuming: Option<()>) -> Result<Trainer> {
        crate::models::find(&cfg.preset)?;
        let mut init = Generator::new(cfg.seed).fork(INIT_STREAM);
        let (g, d) = crate::models::build(gpu, &cfg, &mut init)?;
        // A two-way softmax needs two logits and the other losses one: the wrong pairing would
        // train (on a loss of 0, or broadcast targets) rather than fail.
        let outputs = if cfg.loss == LossKind::SoftmaxCe {
            2
        } else {
            1
        };
        if d.out_shape != [outputs] {
            return Err(Error::Config(format!(
                "loss = {} needs a discriminator with {outputs} output(s), but {}'s has {:?}; \
                 keep the preset's loss or choose a preset built for it",
                cfg.loss.name(),
                cfg.preset,
                d.out_shape
            )));
        }
        // A conditional model fed unlabelled data would fail at its first forward pass, after
        // the run had started: said here, before the data is read.
        if g.classes() > 0 && !matches!(cfg.data.parse()?, DataSpec::Mnist { .. }) {
            return Err(Error::Config(format!(
                "{} is conditional and needs labelled data; {} has no labels (use --data mnist \
                 or mnist:DIR)",
                cfg.preset, cfg.data
            )));
        }
        let data = load_data(&cfg)?;
        // Settings such as channels or image_size shape both the data and the networks; a
        // mismatch is a settings error, said before any step rather than by a layer.
        if data.sample_len() != d.in_shape.iter().product::<usize>() {
            return Err(Error::Config(format!(
                "the data's samples have shape {:?} but {}'s discriminator takes {:?}; check \
                 channels and image_size",
                data.sample_shape, cfg.preset, d.in_shape
            )));
        }
        let clip = (cfg.clip > 0.0).then_some(cfg.clip);
        let opt_g = optimizer(named_parameters(&g), &cfg, cfg.lr_g, None)?;
        let opt_d = optimizer(named_parameters(&d), &cfg, cfg.lr_d, clip)?;
        let loader = DataLoader::new(gpu, &data, cfg.batch, cfg.seed)?;
        // Real batches drawn per generator step: one, except in a critic loop drawing afresh.
        let per_iteration = if cfg.loss.trains_a_critic() && !cfg.same_real_batch {
            cfg.n_critic as u64
        } else {
            1
        };
        let total = if cfg.steps > 0 {
            cfg.steps
        } else {
            let batches = loader.batches_per_epoch() as u64;
            let total = cfg.epochs.checked_mul(batches).ok_or_else(|| {
                Error::Config(format!(
                    "epochs = {} at {batches} batches each is more steps than can be counted; \
                     give fewer epochs or --steps",
                    cfg.epochs
                ))
            })?;
            (total / per_iteration).max(1)
        };
        let gan = Gan::new(gpu, g, d, opt_g, opt_d, &cfg)?;
        let fixed = outputs::fixed_inputs(gpu, &cfg, &gan.g)?;
        let keep = if resuming.is_some() { u64::MAX } else { 0 };
        let log = RunLog::open(run_dir, &extra_names(&cfg), keep)?;
        let evaluator = match cfg.eval_every {
            0 => None,
            _ => Some(Evaluator::new(gpu, &cfg)?),
        };
        Ok(Trainer {
            gpu: gpu.clone(),
            rng: Generator::new(cfg.seed).fork(TRAIN_STREAM),
            cfg,
            gan,
            run_dir: run_dir.to_path_buf(),
            loader,
            step: 0,
            total,
            log,
            fixed,
            centres: data.centres.clone(),
            started: Instant::now(),
            offset_seconds: 0.0,
            on_log: None,
            evaluator,
            lock: None,
            scratch: false,
        })
    }

    fn write_config(&self) -> Result<()> {
        let header = format!(
            "# tapegan {} run of preset {}\n# adapter: {}\n# seed: {}\n",
            env!("CARGO_PKG_VERSION"),
            self.cfg.preset,
            self.gpu.adapter().describe(),
            self.cfg.seed
        );
        let text = format!("{header}{}", self.cfg.to_toml());
        crate::io::write_atomic(&self.run_dir.join("config.toml"), text.as_bytes())
    }

    /// Runs one iteration and queues its losses for the log.
    pub fn step_once(&mut self) -> Result<()> {
        let losses = self.gan.iteration(&mut self.loader, &mut self.rng)?;
        self.gpu.pace()?;
        self.step += 1;
        let secs = self.offset_seconds + self.started.elapsed().as_secs_f64();
        self.log
            .push(self.step, self.loader.state().0, secs, &losses);
        Ok(())
    }

    /// Reads back queued losses; a NaN/Inf stops training with the last checkpoint kept.
    pub fn flush_log(&mut self) -> Result<Option<Row>> {
        let (offset, started) = (self.offset_seconds, self.started);
        let flushed = self.log.flush(|| offset + started.elapsed().as_secs_f64());
        self.diverged(flushed)
    }

    /// Marks this run as scratch work that is never checkpointed (a profile): its errors do
    /// not speak of checkpoints.
    pub fn set_scratch(&mut self) {
        self.scratch = true;
    }

    /// A NaN/Inf found in `r` (losses or weights) as the error that ends training, naming
    /// the checkpoint that survives.
    fn diverged<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(Error::NonFinite(what)) => {
                let kept = match checkpoint::checkpoint_dir(&self.run_dir) {
                    _ if self.scratch => String::new(),
                    Ok(d) => format!(", the last good checkpoint is kept in {}", d.display()),
                    Err(_) => ", no checkpoint was written before it".into(),
                };
                Err(Error::NonFinite(format!(
                    "training diverged: {what}; stopped{kept}; try lower learning rates (lr_g, lr_d)"
                )))
            }
            other => other,
        }
    }

    /// Saves a checkpoint after checking that the losses so far are finite.
    pub fn save_checkpoint(&mut self) -> Result<()> {
        self.flush_log()?;
        let (data_epoch, data_pos) = self.loader.state();
        let saved = checkpoint::save(
            &self.run_dir,
            &self.gan,
            &Progress {
                step: self.step,
                data_epoch,
                data_pos,
                data_count: Some(self.loader.count()),
                rng: self.rng,
            },
        );
        self.diverged(saved)
    }

    /// Writes the sample figures under `tag`.
    pub fn write_samples(&self, tag: &str) -> Result<()> {
        outputs::write_samples(
            &self.run_dir,
            tag,
            &self.cfg,
            &self.gan.g,
            &self.gan.d,
            &self.fixed,
            self.centres.as_deref(),
        )
    }

    /// Computes the quality metrics of the current generator and records them in the run
    /// directory (`metrics.csv`, `metrics.json`, charts); see [`crate::metrics`].
    pub fn evaluate(&mut self) -> Result<Report> {
        if self.evaluator.is_none() {
            self.evaluator = Some(Evaluator::new(&self.gpu, &self.cfg)?);
        }
        let ev = self.evaluator.as_ref().expect("set above");
        let report = ev.evaluate(
            &self.gpu,
            &self.cfg,
            &self.gan.g,
            self.step,
            None,
            self.cfg.seed,
        )?;
        metrics::record(&self.run_dir, &report)?;
        Ok(report)
    }

    /// Trains until `total` steps or until `stop` is set (then checkpoints and returns).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<Outcome> {
        if self.step == 0 {
            self.write_samples("step_000000")?;
        }
        while self.step < self.total {
            if stop.load(Ordering::Relaxed) {
                self.save_checkpoint()?;
                return Ok(Outcome::Interrupted);
            }
            self.step_once()?;
            let s = self.step;
            if s.is_multiple_of(self.cfg.log_every.max(1)) || s == self.total {
                if let Some(row) = self.flush_log()? {
                    if let Some(mut f) = self.on_log.take() {
                        f(&row, self);
                        self.on_log = Some(f);
                    }
                }
            }
            if self.cfg.sample_every > 0 && s.is_multiple_of(self.cfg.sample_every) {
                self.write_samples(&format!("step_{s:06}"))?;
            }
            if self.cfg.checkpoint_every > 0 && s.is_multiple_of(self.cfg.checkpoint_every) {
                self.save_checkpoint()?;
            }
            if self.cfg.eval_every > 0 && s.is_multiple_of(self.cfg.eval_every) {
                self.evaluate()?;
            }
        }
        self.save_checkpoint()?;
        self.write_samples(&format!("step_{:06}", self.step))?;
        self.write_samples("final")?;
        if self.cfg.eval_every > 0 && !self.step.is_multiple_of(self.cfg.eval_every) {
            self.evaluate()?;
        }
        outputs::finish(&self.run_dir, &self.log, &self.cfg)?;
        Ok(Outcome::Finished)
    }

    /// Rows logged so far.
    pub fn rows(&self) -> &[Row] {
        &self.log.rows
    }

    /// Names of the logged value columns.
    pub fn columns(&self) -> &[String] {
        self.log.columns()
    }
}
