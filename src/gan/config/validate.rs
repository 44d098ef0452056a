//! Checks of a [`TrainConfig`]: ranges that keep a run finite and on the adapter, and
//! combinations that cannot work or would silently do nothing.

use super::{differs, LossKind, TrainConfig};
use crate::error::{Error, Result};

/// Largest `n_critic`: a step runs all its critic updates before an interrupt is seen.
const MAX_N_CRITIC: usize = 1000;
/// Largest `z_dim` and `hidden`.
const MAX_WIDTH: usize = 1 << 16;
/// Largest sample grid written during training (a 50 × 50 grid), and the most points in a
/// toy preset's scatter plot.
const MAX_SAMPLE_IMAGES: usize = 2500;
const MAX_SAMPLE_POINTS: usize = 20_000;

impl TrainConfig {
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
        let critic = self.loss.trains_a_critic();
        let data = self.data.split(':').next().unwrap_or("");
        let digits = matches!(data, "mnist" | "mnist-test");
        let points = matches!(data, "grid25" | "ring8");
        // Only the toy presets' MLPs take their width from `hidden`; the others are fixed.
        let toy = crate::models::presets::image_side(&self.preset).is_none();
        // The value that means "off" where a setting has one: setting it is never refused.
        let off = |v: &str| Some(v.to_string());
        for (key, applies, neutral, scope) in [
            (
                "n_critic",
                critic,
                off("1"),
                "the WGAN losses (wgan, wgan-gp)",
            ),
            (
                "same_real_batch",
                critic,
                off("true"),
                "the WGAN losses (wgan, wgan-gp)",
            ),
            (
                "shared_forward",
                !critic,
                off("false"),
                "losses other than wgan and wgan-gp",
            ),
            (
                "gp_lambda",
                self.loss == LossKind::WganGp,
                None,
                "loss = wgan-gp",
            ),
            (
                "gp_epsilon",
                self.loss == LossKind::WganGp,
                None,
                "loss = wgan-gp",
            ),
            (
                "label_noise",
                self.loss == LossKind::Bce,
                off("false"),
                "loss = bce",
            ),
            ("digits", digits, off("[]"), "MNIST data"),
            ("toy_std", points, None, "the 2-D mixtures (grid25, ring8)"),
            (
                "toy_scale",
                points,
                None,
                "the 2-D mixtures (grid25, ring8)",
            ),
            (
                "hidden",
                toy,
                None,
                "the toy presets (toy-wgan-clip, toy-wgan-gp)",
            ),
        ] {
            let value = mine.get(key).map(ToString::to_string);
            if differs(mine.get(key), default.get(key)) && value != neutral && !applies {
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

    /// Checks a new run's settings: [`TrainConfig::check_values`], and that no setting was
    /// changed where it would do nothing.
    pub fn validate(&self) -> Result<()> {
        self.check_values()?;
        self.refuse_ignored_settings()
    }

    /// Checks ranges and combinations that cannot work, with messages that name the setting.
    /// (Runs that already exist are held to this only: a setting their training ignored is
    /// history, not a mistake to refuse them for.)
    pub fn check_values(&self) -> Result<()> {
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
