//! Saving and restoring a run: `checkpoint/generator.safetensors` and
//! `checkpoint/discriminator.safetensors` hold the networks in PyTorch `state_dict` layout;
//! `checkpoint/training.safetensors` holds the optimizers' moment buffers and, in its
//! metadata, the step, the data position and the random-number state — everything needed
//! for a resumed run to continue exactly as an uninterrupted one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::step::Gan;
use crate::error::{Error, Result};
use crate::io::{latest_checkpoint_dir, read_state, save_checkpoint_dir};
use crate::nn::{load_state_dict, state_dict, HostValue, Module};
use crate::ops::Generator;
use crate::optim::Optimizer;
use crate::tensor::Tensor;

pub const GENERATOR: &str = "generator.safetensors";
pub const DISCRIMINATOR: &str = "discriminator.safetensors";
pub const TRAINING: &str = "training.safetensors";

/// Position of a run besides its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub step: u64,
    pub data_epoch: u64,
    pub data_pos: usize,
    /// Samples in the data set (absent from checkpoints of tapegan 0.1 before it was kept).
    pub data_count: Option<usize>,
    pub rng: Generator,
}

fn optimizer_entries(prefix: &str, opt: &Optimizer) -> Result<Vec<(String, HostValue)>> {
    let state = opt.state();
    let tensors: Vec<&Tensor> = state.iter().map(|(_, t)| t).collect();
    let data = Tensor::read_all(&tensors)?;
    Ok(state
        .iter()
        .zip(data)
        .map(|((name, t), data)| {
            (
                format!("{prefix}{name}"),
                HostValue::F32 {
                    shape: t.shape().to_vec(),
                    data,
                },
            )
        })
        .collect())
}

/// A checkpoint file names the preset it was written for (files without the metadata, such as
/// state dicts saved by PyTorch, are taken as they are).
fn check_written_for(path: &Path, meta: &BTreeMap<String, String>, preset: &str) -> Result<()> {
    match meta.get("preset").filter(|p| p.as_str() != preset) {
        Some(p) => Err(Error::Data(format!(
            "{}: written by a {p} run, but this run is {preset}",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// The first name, in name order, of a tensor with a NaN or infinite value.
fn first_non_finite<'a>(
    values: impl Iterator<Item = (&'a String, &'a HostValue)>,
) -> Option<&'a String> {
    values
        .filter(|(_, v)| match v {
            HostValue::F32 { data, .. } => data.iter().any(|x| !x.is_finite()),
            HostValue::Int(_) => false,
        })
        .map(|(k, _)| k)
        .min()
}

/// NaN or infinite values come from a diverged run; loaded, they would surface later as a
/// "diverged" loss blamed on the learning rates.
fn check_finite(path: &Path, values: &HashMap<String, HostValue>) -> Result<()> {
    match first_non_finite(values.iter()) {
        None => Ok(()),
        Some(name) => Err(Error::Data(format!(
            "{}: '{name}' holds NaN or infinite values (a diverged run's weights); resume from \
             an earlier copy of the checkpoint or start a new run",
            path.display()
        ))),
    }
}

fn restore_optimizer(
    path: &Path,
    prefix: &str,
    opt: &mut Optimizer,
    values: &HashMap<String, HostValue>,
    steps: u64,
) -> Result<()> {
    for (name, t) in opt.state() {
        let key = format!("{prefix}{name}");
        match values.get(&key) {
            Some(HostValue::F32 { shape, data }) if shape.as_slice() == t.shape() => {
                t.write(data)?
            }
            Some(_) => {
                return Err(Error::Data(format!(
                    "{}: '{key}' has the wrong shape",
                    path.display()
                )))
            }
            None => {
                return Err(Error::Data(format!(
                    "{}: '{key}' is missing",
                    path.display()
                )))
            }
        }
    }
    opt.set_steps(steps);
    Ok(())
}

fn meta(preset: &str, step: u64) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".into(), "tapegan-checkpoint-1".into()),
        ("preset".into(), preset.into()),
        ("step".into(), step.to_string()),
        ("tapegan_version".into(), env!("CARGO_PKG_VERSION").into()),
    ])
}

/// Writes the whole run state atomically (all files or none).
pub fn save(run_dir: &Path, gan: &Gan, p: &Progress) -> Result<()> {
    let preset = gan.cfg.preset.as_str();
    let mut train = optimizer_entries("g.", &gan.opt_g)?;
    train.extend(optimizer_entries("d.", &gan.opt_d)?);
    let mut m = meta(preset, p.step);
    for (k, v) in [
        ("data_epoch", p.data_epoch.to_string()),
        ("data_pos", p.data_pos.to_string()),
        ("data_count", p.data_count.unwrap_or(0).to_string()),
        ("rng_seed", p.rng.seed.to_string()),
        ("rng_offset", p.rng.offset.to_string()),
        ("opt_g_steps", gan.opt_g.steps().to_string()),
        ("opt_d_steps", gan.opt_d.steps().to_string()),
    ] {
        m.insert(k.into(), v);
    }
    let (g, d) = (state_dict(&gan.g)?, state_dict(&gan.d)?);
    // Finite losses do not prove finite weights (the update after the last logged loss may
    // have overflowed); a checkpoint of NaN weights must not replace the last good one.
    // The optimizer's moments too: a checkpoint that cannot be resumed is no good either.
    for (what, values) in [
        ("generator's", &g),
        ("discriminator's", &d),
        ("optimizer state's", &train),
    ] {
        if let Some(name) = first_non_finite(values.iter().map(|(k, v)| (k, v))) {
            return Err(Error::NonFinite(format!(
                "the {what} {name} is not finite at step {}",
                p.step
            )));
        }
    }
    save_checkpoint_dir(
        run_dir,
        &[
            (GENERATOR, g, meta(preset, p.step)),
            (DISCRIMINATOR, d, meta(preset, p.step)),
            (TRAINING, train, m),
        ],
    )
}

/// The checkpoint directory of a run, or a clear error.
pub fn checkpoint_dir(run_dir: &Path) -> Result<std::path::PathBuf> {
    latest_checkpoint_dir(run_dir).ok_or_else(|| {
        Error::Data(format!(
            "{}: no checkpoint in this run directory (checkpoint/ is missing)",
            run_dir.display()
        ))
    })
}

/// Loads one network's weights from a checkpoint file of a `preset` run (a file without that
/// metadata, such as a state dict saved by PyTorch, is taken as it is).
pub fn load_net(dir: &Path, file: &str, net: &dyn Module, preset: &str) -> Result<()> {
    let path = dir.join(file);
    let (values, meta) = read_state(&path)?;
    check_written_for(&path, &meta, preset)?;
    check_finite(&path, &values)?;
    load_state_dict(net, &values).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
}

/// Restores everything [`save`] wrote, for a run of `preset`. The files must agree with each
/// other and with the run on the preset and step they record (a file without that metadata,
/// such as a state dict saved by PyTorch, is taken as it is); that is checked before any
/// weight is loaded, so a wrong file is named as such rather than by a shape mismatch.
pub fn load(run_dir: &Path, preset: &str, gan: &mut Gan) -> Result<Progress> {
    let dir = checkpoint_dir(run_dir)?;
    let read = |file: &str| read_state(&dir.join(file));
    let (g_values, g_meta) = read(GENERATOR)?;
    let (d_values, d_meta) = read(DISCRIMINATOR)?;
    let path = dir.join(TRAINING);
    let (values, m) = read_state(&path)?;
    for (file, meta) in [
        (GENERATOR, &g_meta),
        (DISCRIMINATOR, &d_meta),
        (TRAINING, &m),
    ] {
        check_written_for(&dir.join(file), meta, preset)?;
        if let (Some(a), Some(b)) = (meta.get("step"), m.get("step")) {
            if a != b {
                return Err(Error::Data(format!(
                    "{}: the checkpoint mixes steps: {file} is from step {a}, {TRAINING} from \
                     step {b}",
                    dir.display()
                )));
            }
        }
    }
    // Strict, like the networks' state dicts: a moment buffer this run has no parameter for
    // means the file belongs to other networks.
    let expected: Vec<String> = [("g.", &gan.opt_g), ("d.", &gan.opt_d)]
        .iter()
        .flat_map(|(prefix, opt)| {
            opt.state()
                .into_iter()
                .map(move |(n, _)| format!("{prefix}{n}"))
        })
        .collect();
    if let Some(extra) = values.keys().filter(|k| !expected.contains(k)).min() {
        return Err(Error::Data(format!(
            "{}: unexpected tensor '{extra}': this run's optimizers have no such parameter",
            path.display()
        )));
    }
    check_finite(&dir.join(GENERATOR), &g_values)?;
    check_finite(&dir.join(DISCRIMINATOR), &d_values)?;
    check_finite(&path, &values)?;
    for (file, net, values) in [
        (GENERATOR, &gan.g, &g_values),
        (DISCRIMINATOR, &gan.d, &d_values),
    ] {
        load_state_dict(net, values)
            .map_err(|e| Error::Data(format!("{}: {e}", dir.join(file).display())))?;
    }
    let get = |k: &str| -> Result<u64> {
        m.get(k).and_then(|v| v.parse().ok()).ok_or_else(|| {
            Error::Data(format!(
                "{}: metadata '{k}' is missing or not a number",
                path.display()
            ))
        })
    };
    // Adam's bias correction raises β to the step count as an i32.
    let steps = |k: &str| -> Result<u64> {
        let v = get(k)?;
        if v > i32::MAX as u64 {
            return Err(Error::Data(format!(
                "{}: metadata '{k}' = {v} is out of range (at most {})",
                path.display(),
                i32::MAX
            )));
        }
        Ok(v)
    };
    restore_optimizer(&path, "g.", &mut gan.opt_g, &values, steps("opt_g_steps")?)?;
    restore_optimizer(&path, "d.", &mut gan.opt_d, &values, steps("opt_d_steps")?)?;
    Ok(Progress {
        step: get("step")?,
        data_epoch: get("data_epoch")?,
        data_pos: get("data_pos")? as usize,
        data_count: m
            .get("data_count")
            .and_then(|v| v.parse().ok())
            .filter(|&c| c > 0),
        rng: Generator {
            seed: get("rng_seed")?,
            offset: get("rng_offset")?,
        },
    })
}
