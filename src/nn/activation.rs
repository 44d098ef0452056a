//! Activations and reshapes as layers, so they can sit in a [`super::Sequential`].

use super::{Ctx, Module, Named};
use crate::error::Result;
use crate::ops::FusedAct;
use crate::tensor::Tensor;

/// The activation functions the presets use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu(f32),
    Elu(f32),
    Tanh,
    Sigmoid,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Identity => Ok(x.clone()),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu(a) => x.leaky_relu(a),
            Activation::Elu(a) => x.elu(a),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
        }
    }

    /// The slope when this is a ReLU (0) or a leaky ReLU with a finite slope ≥ 0: the
    /// activations a normalisation can fuse ([`Tensor::normalize_leaky_relu`]).
    pub fn leaky_slope(self) -> Option<f32> {
        match self {
            Activation::Relu => Some(0.0),
            Activation::LeakyRelu(a) if a.is_finite() && a >= 0.0 => Some(a),
            _ => None,
        }
    }

    /// The activations a product kernel applies in its store (`Tensor::linear_fused`): ReLU,
    /// leaky ReLU with a finite slope ≥ 0, ELU with a finite α ≥ 0.
    pub(crate) fn fused(self) -> Option<FusedAct> {
        match self {
            Activation::Elu(a) if a.is_finite() && a >= 0.0 => Some(FusedAct::Elu(a)),
            _ => self.leaky_slope().map(FusedAct::Leaky),
        }
    }
}

/// An activation as a layer.
pub struct Act(pub Activation);

impl Module for Act {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        self.0.apply(x)
    }

    fn collect(&self, _prefix: &str, _out: &mut Vec<Named>) {}

    fn per_sample(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("{:?}", self.0)
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.0)
    }
}

/// Reshapes each sample (the batch dimension is kept): `Reshape(vec![1024, 4, 4])`,
/// or `Reshape(vec![])`-style flattening with [`Reshape::flatten`].
pub struct Reshape(pub Vec<usize>);

impl Reshape {
    /// Flattens everything after the batch dimension.
    pub fn flatten() -> Reshape {
        Reshape(Vec::new())
    }
}

impl Module for Reshape {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Result<Tensor> {
        if self.0.is_empty() {
            return x.flatten_from(1);
        }
        let mut shape = vec![x.shape().first().copied().unwrap_or(1)];
        shape.extend_from_slice(&self.0);
        x.reshape(&shape)
    }

    fn collect(&self, _prefix: &str, _out: &mut Vec<Named>) {}

    fn per_sample(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        if self.0.is_empty() {
            "Flatten".into()
        } else {
            format!("Reshape({:?})", self.0)
        }
    }
}
