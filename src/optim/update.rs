//! The optimizer: configuration, state (moment buffers and step count) and the fused update.

use super::fused;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// The update rule and its constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Algorithm {
    /// Adam. `keras_eps`: ε added to √v rather than to the bias-corrected √v̂ (Keras).
    Adam {
        beta1: f32,
        beta2: f32,
        eps: f32,
        keras_eps: bool,
    },
    /// RMSprop (PyTorch's α is Keras' ρ).
    RmsProp {
        alpha: f32,
        eps: f32,
        momentum: f32,
    },
    Sgd {
        momentum: f32,
    },
}

impl Algorithm {
    /// `torch.optim.Adam` defaults with the given betas.
    pub fn adam(beta1: f32, beta2: f32) -> Algorithm {
        Algorithm::Adam {
            beta1,
            beta2,
            eps: 1e-8,
            keras_eps: false,
        }
    }

    /// Keras' Adam with the given betas (ε 1e-7, ε outside the bias correction).
    pub fn adam_keras(beta1: f32, beta2: f32) -> Algorithm {
        Algorithm::Adam {
            beta1,
            beta2,
            eps: 1e-7,
            keras_eps: true,
        }
    }
}

/// Everything that defines an optimizer besides its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub algorithm: Algorithm,
    pub lr: f32,
    /// Keras time decay: the step t (1-based) uses lr / (1 + decay·(t − 1)).
    pub decay: f32,
    /// L2 weight decay added to the gradient (PyTorch's `weight_decay`).
    pub weight_decay: f32,
    /// Clamp every parameter to [−c, c] after each update (WGAN weight clipping).
    pub clip: Option<f32>,
}

impl OptimConfig {
    pub fn new(algorithm: Algorithm, lr: f32) -> OptimConfig {
        OptimConfig {
            algorithm,
            lr,
            decay: 0.0,
            weight_decay: 0.0,
            clip: None,
        }
    }
}

/// An optimizer over named parameters.
pub struct Optimizer {
    pub config: OptimConfig,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    steps: u64,
}

impl Optimizer {
    pub fn new(params: Vec<(String, Tensor)>, config: OptimConfig) -> Result<Optimizer> {
        if !(config.lr.is_finite() && config.lr >= 0.0) {
            return Err(Error::Config(format!(
                "learning rate {} must be a finite non-negative number",
                config.lr
            )));
        }
        // One dispatch updates many tensors in place; a tensor listed twice would be two
        // racing writers (PyTorch refuses a parameter in two groups likewise).
        for (i, (name, p)) in params.iter().enumerate() {
            if let Some((other, _)) = params[..i].iter().find(|(_, q)| q.shares_storage(p)) {
                return Err(Error::Config(format!(
                    "optimizer: parameters '{other}' and '{name}' are the same tensor; list each parameter once"
                )));
            }
        }
        let mut m = Vec::with_capacity(params.len());
        let mut v = Vec::with_capacity(params.len());
        for (_, p) in &params {
            m.push(p.zeros_like()?);
            v.push(p.zeros_like()?);
        }
        Ok(Optimizer {
            config,
            params,
            m,
            v,
            steps: 0,
        })
    }

    /// Updates completed so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The parameters, in the order `step` expects their gradients.
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(|(_, p)| p.clone()).collect()
    }

    /// Learning rate the next step uses (after time decay).
    pub fn current_lr(&self) -> f32 {
        (self.config.lr as f64 / (1.0 + self.config.decay as f64 * self.steps as f64)) as f32
    }

    /// Applies one update with `grads[i]` for parameter i.
    pub fn step(&mut self, grads: &[Tensor]) -> Result<()> {
        if grads.len() != self.params.len() {
            return Err(Error::Config(format!(
                "optimizer step: {} gradients for {} parameters",
                grads.len(),
                self.params.len()
            )));
        }
        let t = self.steps + 1;
        let lr = self.current_lr() as f64;
        let (kind, step, b1, b2, eps, vscale, momentum) = match self.config.algorithm {
            Algorithm::Adam {
                beta1,
                beta2,
                eps,
                keras_eps,
            } => {
                let bc1 = 1.0 - (beta1 as f64).powi(t as i32);
                let bc2 = 1.0 - (beta2 as f64).powi(t as i32);
                if keras_eps {
                    (0, lr * bc2.sqrt() / bc1, beta1, beta2, eps, 1.0, 0.0)
                } else {
                    (0, lr / bc1, beta1, beta2, eps, 1.0 / bc2.sqrt(), 0.0)
                }
            }
            Algorithm::RmsProp {
                alpha,
                eps,
                momentum,
            } => (1, lr, 0.0, alpha, eps, 1.0, momentum),
            Algorithm::Sgd { momentum } => (2, lr, 0.0, 0.0, 0.0, 1.0, momentum),
        };
        // Every gradient is checked before anything is written, so a bad call changes nothing.
        for ((name, p), g) in self.params.iter().zip(grads) {
            g.expect_dtype("optimizer step", DType::F32)?;
            // The update writes parameters and moments in place, possibly several tensors per
            // dispatch; a gradient stored in one of those buffers would be read while written.
            let mut written = self
                .params
                .iter()
                .map(|(_, q)| q)
                .chain(&self.m)
                .chain(&self.v);
            if written.any(|w| w.shares_storage(g)) {
                return Err(Error::Config(format!(
                    "optimizer step: the gradient for '{name}' is stored in a parameter or \
                     optimizer buffer; pass gradients computed by grad() (or copies)"
                )));
            }
            if g.shape() != p.shape() {
                return Err(Error::shape(
                    "optimizer step",
                    format!(
                        "gradient {:?} for parameter '{name}' of shape {:?}",
                        g.shape(),
                        p.shape()
                    ),
                ));
            }
        }
        let rule = fused::Rule {
            kind,
            first: t == 1,
            clip: self.config.clip,
            step: step as f32,
            b1,
            b2,
            eps,
            vscale: vscale as f32,
            momentum,
            weight_decay: self.config.weight_decay,
        };
        let slots: Vec<fused::Slot> = (0..self.params.len())
            .map(|i| [&self.params[i].1, &grads[i], &self.m[i], &self.v[i]])
            .collect();
        if let Some((_, p)) = self.params.first() {
            fused::update(p.gpu(), &rule, &slots)?;
        }
        self.steps = t;
        Ok(())
    }

    /// Moment buffers under `{param}.exp_avg` / `{param}.exp_avg_sq` (PyTorch's names).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len());
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("{name}.exp_avg"), self.m[i].clone()));
            out.push((format!("{name}.exp_avg_sq"), self.v[i].clone()));
        }
        out
    }

    /// Restores the step count (moment buffers are written through [`Optimizer::state`]).
    pub fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }
}
