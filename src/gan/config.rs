//! Every hyper-parameter of a training run, with `--set key=value` overrides and TOML files.
//!
//! A preset supplies the defaults; the resolved configuration (after the config file and the
//! overrides) is written into the run directory and is all that is needed to rebuild the run.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    /// Generator updates to run; 0 = use `epochs`.
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
        for (k, v) in file {
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

    /// A setting changed from the preset's value where it has no effect would be silently
    /// ignored: refused instead, naming what it applies to.
    fn refuse_ignored_settings(&self) -> Result<()> {
        let Ok(preset) = crate::models::presets::find(&self.preset) else {
            return Ok(());
        };
        let (mine, default) = (
            toml::Table::try_from(self).map_err(|e| Error::Config(e.to_string()))?,
            toml::Table::try_from(&preset.config).map_err(|e| Error::Config(e.to_string()))?,
        );
        let critic = matches!(self.loss, LossKind::Wgan | LossKind::WganGp);
        let data = self.data.split(':').next().unwrap_or("");
        let digits = matches!(data, "mnist" | "mnist-test");
        let points = matches!(data, "grid25" | "ring8");
        for (key, applies, scope) in [
            ("n_critic", critic, "the WGAN losses (wgan, wgan-gp)"),
            ("same_real_batch", critic, "the WGAN losses (wgan, wgan-gp)"),
            (
                "shared_forward",
                !critic,
                "losses other than wgan and wgan-gp",
            ),
            ("gp_lambda", self.loss == LossKind::WganGp, "loss = wgan-gp"),
            (
                "gp_epsilon",
                self.loss == LossKind::WganGp,
                "loss = wgan-gp",
            ),
            ("label_noise", self.loss == LossKind::Bce, "loss = bce"),
            ("digits", digits, "MNIST data"),
            ("toy_std", points, "the 2-D mixtures (grid25, ring8)"),
            ("toy_scale", points, "the 2-D mixtures (grid25, ring8)"),
        ] {
            // Compared as text, so that NaN equals NaN here (other checks name it).
            let changed =
                mine.get(key).map(ToString::to_string) != default.get(key).map(ToString::to_string);
            if changed && !applies {
                return Err(Error::Config(format!(
                    "{key} would be ignored: it applies to {scope} only, and this {} run has \
                     loss = {} and data = {}",
                    self.preset,
                    self.loss.name(),
                    self.data
                )));
            }
        }
        Ok(())
    }

    fn max_samples(&self) -> usize {
        match crate::models::presets::image_side(&self.preset) {
            Some(_) => MAX_SAMPLE_IMAGES,
            None => MAX_SAMPLE_POINTS,
        }
    }

    /// Checks ranges and combinations, with messages that name the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if self.steps == 0 && self.epochs == 0 {
            return bad("set steps or epochs to a positive number".into());
        }
        for (k, v) in [("lr_g", self.lr_g), ("lr_d", self.lr_d)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{k} must be a finite non-negative number, got {v}"));
            }
        }
        for (k, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{k} must be in [0, 1), got {v}"));
            }
        }
        // Upper bounds keep one step finite and the networks within reach of an adapter; they
        // are far above any published setting (n_critic 5–100, z_dim ≤ 512, grids ≤ 100).
        for (k, v, max) in [
            ("n_critic", self.n_critic, MAX_N_CRITIC),
            ("z_dim", self.z_dim, MAX_WIDTH),
            ("hidden", self.hidden, MAX_WIDTH),
            ("samples", self.samples, self.max_samples()),
        ] {
            if v == 0 || v > max {
                let hint = if k == "samples" {
                    "; `tapegan sample --n N` draws more"
                } else {
                    ""
                };
                return bad(format!("{k} must be between 1 and {max}, got {v}{hint}"));
            }
        }
        if crate::models::presets::find(&self.preset).is_ok() {
            let side = crate::models::presets::image_side(&self.preset);
            match side {
                Some(s) if self.image_size != 0 && self.image_size != s => {
                    return bad(format!(
                        "image_size = {} does not fit {}, whose networks take {s}×{s} images; \
                         set image_size to {s} or 0 (images are resized to {s}×{s})",
                        self.image_size, self.preset
                    ))
                }
                None if self.image_size != 0 => {
                    return bad(format!(
                        "image_size applies to image presets only; {} trains on 2-D points",
                        self.preset
                    ))
                }
                _ => {}
            }
        }
        for (k, v) in [
            ("clip", self.clip),
            ("gp_lambda", self.gp_lambda),
            ("decay", self.decay),
            ("toy_std", self.toy_std),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{k} must be a finite non-negative number, got {v}"));
            }
        }
        for (k, v) in [("adam_eps", self.adam_eps), ("toy_scale", self.toy_scale)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{k} must be a finite positive number, got {v}"));
            }
        }
        self.refuse_ignored_settings()?;
        if self.critic_sigmoid && self.preset != "wgan-gp-28" {
            return bad(format!(
                "critic_sigmoid (--critic-sigmoid) applies to wgan-gp-28 only, not {}",
                self.preset
            ));
        }
        if self.channels != 1 && self.channels != 3 {
            return bad(format!("channels must be 1 or 3, got {}", self.channels));
        }
        if let Some(d) = self.digits.iter().find(|&&d| d > 9) {
            return bad(format!("digits: {d} is not a digit"));
        }
        Ok(())
    }
}

/// Largest `n_critic`: a step runs all its critic updates before an interrupt is seen.
const MAX_N_CRITIC: usize = 1000;
/// Largest `z_dim` and `hidden`.
const MAX_WIDTH: usize = 1 << 16;
/// Largest sample grid written during training (a 50 × 50 grid), and the most points in a
/// toy preset's scatter plot.
const MAX_SAMPLE_IMAGES: usize = 2500;
const MAX_SAMPLE_POINTS: usize = 20_000;

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
