//! Every hyper-parameter of a training run, with `--set key=value` overrides and TOML files.
//!
//! A preset supplies the defaults; the resolved configuration (after the config file and the
//! overrides) is written into the run directory and is all that is needed to rebuild the run.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod validate;

/// Distribution of the generator's input noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    /// U(−1, 1), as the Keras tutorials draw it.
    Uniform,
    /// N(0, 1).
    Normal,
}

/// The adversarial objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Two-way softmax with sparse categorical cross-entropy (real → class 1).
    SoftmaxCe,
    /// Binary cross-entropy on a logit (non-saturating generator loss).
    Bce,
    /// Wasserstein loss; with `clip` > 0 the critic's weights are clipped.
    Wgan,
    /// Wasserstein loss with a gradient penalty.
    WganGp,
    /// Hinge loss (SAGAN).
    Hinge,
}

impl LossKind {
    /// The Wasserstein losses, trained with a critic loop of `n_critic` updates.
    pub fn trains_a_critic(self) -> bool {
        matches!(self, LossKind::Wgan | LossKind::WganGp)
    }

    /// The name used in config files and `--set loss=…` (serde's, so the two cannot differ).
    pub fn name(self) -> String {
        match toml::Value::try_from(self) {
            Ok(toml::Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
    }
}

/// Where the gradient penalty's interpolation weight ε is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GpEpsilon {
    /// One ε per sample (the WGAN-GP paper).
    PerSample,
    /// One ε per element (the tutorial's TensorFlow code).
    PerElement,
}

/// The resolved configuration of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub preset: String,
    /// Data set spec: `mnist[:DIR]`, `mnist-test[:DIR]`, `images:DIR`, `grid25`, `ring8`.
    pub data: String,
    pub seed: u64,
    pub batch: usize,
    /// Generator updates to run; 0 = use `epochs` (what setting `epochs` or `--epochs` writes;
    /// `steps = 0` given alone is refused, as `--steps 0` is).
    pub steps: u64,
    /// Passes over the data (used when `steps` is 0).
    pub epochs: u64,
    pub z_dim: usize,
    pub noise: Noise,
    pub lr_g: f32,
    pub lr_d: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub adam_eps: f32,
    /// Keras' Adam: ε added to √v rather than to the bias-corrected √v̂.
    pub keras_adam: bool,
    /// Keras time decay of both learning rates: lr / (1 + decay·t).
    pub decay: f32,
    pub loss: LossKind,
    /// Both updates from one forward pass (the Keras tutorials) instead of a D step then a G step.
    pub shared_forward: bool,
    /// Critic updates per generator update.
    pub n_critic: usize,
    /// Critic updates of one iteration reuse one real batch.
    pub same_real_batch: bool,
    pub gp_lambda: f32,
    pub gp_epsilon: GpEpsilon,
    /// Clip every critic parameter to [−clip, clip] after each critic update; 0 = off.
    pub clip: f32,
    /// Noisy labels: real 1 + 0.5·U(−1, 1), fake 0.25·U(0, 1) (dcgan-celeba).
    pub label_noise: bool,
    /// Keep the book's sigmoid on the WGAN critic's output.
    pub critic_sigmoid: bool,
    /// Side of the images served to the models (0 = as stored).
    pub image_size: usize,
    pub channels: usize,
    /// Keep only these digit classes (empty = all).
    pub digits: Vec<u32>,
    /// Keep at most this many samples (0 = all).
    pub limit: usize,
    pub toy_std: f32,
    pub toy_scale: f32,
    /// Hidden units of the toy MLPs.
    pub hidden: usize,
    pub sample_every: u64,
    pub log_every: u64,
    pub checkpoint_every: u64,
    /// Compute quality metrics (`metrics.csv`, `metrics.png`) every N steps and after the last
    /// one; 0 = never during training (`tapegan eval --run DIR` measures a run afterwards).
    pub eval_every: u64,
    /// Images in a sample grid.
    pub samples: usize,
}

impl TrainConfig {
    /// Names of every key, in declaration order.
    pub fn keys() -> Vec<String> {
        let t = toml::Table::try_from(TrainConfig::placeholder()).expect("config serialises");
        t.keys().cloned().collect()
    }

    fn placeholder() -> TrainConfig {
        crate::models::presets::find("mlp-gan")
            .expect("built-in preset")
            .config
            .clone()
    }

    /// Applies `key=value`; the value is parsed as the key's type.
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("--set expects key=value, got '{assignment}'")))?;
        let (key, value) = (key.trim(), value.trim());
        let mut table = toml::Table::try_from(self.clone())
            .map_err(|e| Error::Config(format!("config: {e}")))?;
        let old = table.get(key).ok_or_else(|| {
            Error::Config(format!(
                "unknown setting '{key}'; valid settings: {}",
                TrainConfig::keys().join(", ")
            ))
        })?;
        let new = parse_like(old, value).ok_or_else(|| {
            Error::Config(format!(
                "'{value}' is not a valid value for {key} (expected {}){}",
                kind(old),
                if matches!(old, toml::Value::Integer(_)) && value.parse::<u64>().is_ok() {
                    format!(", at most {}", i64::MAX)
                } else {
                    String::new()
                }
            ))
        })?;
        self.check_preset_unchanged(key, &new, "--set")?;
        // steps = 0 only stands for "train by epochs": alone it would silently do that.
        if key == "steps" && new.as_integer() == Some(0) {
            return Err(zero_steps("--set steps=0", "use --epochs N"));
        }
        // Asking for epochs is asking to train by them, even on a preset that counts steps
        // (toy-wgan-gp), where they would otherwise be ignored.
        if key == "epochs" {
            table.insert("steps".into(), toml::Value::Integer(0));
        }
        table.insert(key.to_string(), new);
        *self = table.try_into().map_err(|e: toml::de::Error| {
            Error::Config(format!("{key}={value}: {}", e.message()))
        })?;
        Ok(())
    }

    /// Applies the keys of a TOML file (any subset of the settings).
    pub fn merge_toml(&mut self, text: &str, origin: &str) -> Result<()> {
        let file: toml::Table = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        let mut table =
            toml::Table::try_from(self.clone()).map_err(|e| Error::Config(e.to_string()))?;
        // A file tapegan wrote says steps = 0 beside the epochs it trained by; steps = 0 alone
        // would silently train by the preset's epochs.
        let by_epochs = file.contains_key("epochs");
        for (k, v) in file {
            if k == "steps" && v.as_integer() == Some(0) && !by_epochs {
                return Err(zero_steps(
                    &format!("{origin}: steps = 0"),
                    "set epochs = N",
                ));
            }
            if !table.contains_key(&k) {
                return Err(Error::Config(format!(
                    "{origin}: unknown setting '{k}'; valid settings: {}",
                    TrainConfig::keys().join(", ")
                )));
            }
            self.check_preset_unchanged(&k, &v, origin)?;
            // `digits = 7` means the one-digit list, as `--set digits=7` does.
            let v = match v {
                toml::Value::Integer(_) if k == "digits" => toml::Value::Array(vec![v]),
                v => v,
            };
            table.insert(k.clone(), v);
            // Converted key by key, so that a wrong type names its key.
            table
                .clone()
                .try_into::<TrainConfig>()
                .map_err(|e| Error::Config(format!("{origin}: {k}: {}", e.message())))?;
        }
        *self = table
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("{origin}: {}", e.message())))?;
        Ok(())
    }

    /// A preset's settings are its defaults, so a later `preset = OTHER` would label a run
    /// with one preset's name and another's settings: refused.
    fn check_preset_unchanged(&self, key: &str, value: &toml::Value, origin: &str) -> Result<()> {
        match value.as_str() {
            Some(p) if key == "preset" && p != self.preset => Err(Error::Config(format!(
                "{origin}: preset = \"{p}\" conflicts with preset {}; a run's preset is \
                 chosen once, when it starts (--preset NAME or preset in a config file)",
                self.preset
            ))),
            _ => Ok(()),
        }
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// The configuration of the run in `run_dir` (its `config.toml`).
    pub fn read_run(run_dir: &std::path::Path) -> Result<TrainConfig> {
        let path = run_dir.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let what = if run_dir.is_dir() {
                    "has no config.toml"
                } else {
                    "does not exist"
                };
                return Err(Error::Config(format!(
                    "{} is not a tapegan run directory ({what}); give the directory \
                     `tapegan train` wrote (--out, default runs/<preset>)",
                    run_dir.display()
                )));
            }
            r => r.map_err(|e| Error::io(&path, e))?,
        };
        TrainConfig::from_toml(&text, &path.display().to_string())
    }

    /// Parses a configuration written by [`TrainConfig::to_toml`].
    pub fn from_toml(text: &str, origin: &str) -> Result<TrainConfig> {
        toml::from_str(text).map_err(|e| toml_error(origin, text, &e))
    }
}

/// The error for a lone `steps = 0`, worded as `--steps 0`'s bound; `instead` says how to ask
/// for epochs where it was given.
fn zero_steps(given: &str, instead: &str) -> Error {
    Error::Config(format!(
        "{given}: steps must be at least 1; to train by epochs instead, {instead}"
    ))
}

/// Whether two settings' values differ, compared as text so that NaN equals NaN (the range
/// checks say what is wrong with a NaN; a comparison should not).
pub(crate) fn differs(a: Option<&toml::Value>, b: Option<&toml::Value>) -> bool {
    a.map(ToString::to_string) != b.map(ToString::to_string)
}

/// A TOML error as one line: the origin, the line it points at and the message.
pub fn toml_error(origin: &str, text: &str, e: &toml::de::Error) -> Error {
    let at = e
        .span()
        .map(|s| {
            format!(
                " line {}",
                text[..s.start.min(text.len())].matches('\n').count() + 1
            )
        })
        .unwrap_or_default();
    Error::Config(format!("{origin}{at}: {}", e.message()))
}

fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Array(_) => "a comma-separated list",
        _ => "text",
    }
}

/// Parses `s` as a value of the same TOML type as `like`.
fn parse_like(like: &toml::Value, s: &str) -> Option<toml::Value> {
    Some(match like {
        toml::Value::Integer(_) => toml::Value::Integer(s.parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(s.parse().ok()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(match s {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return None,
        }),
        toml::Value::Array(_) => {
            let s = s.trim_start_matches('[').trim_end_matches(']');
            let items: Option<Vec<toml::Value>> = s
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| x.parse::<i64>().ok().map(toml::Value::Integer))
                .collect();
            toml::Value::Array(items?)
        }
        _ => toml::Value::String(s.to_string()),
    })
}
