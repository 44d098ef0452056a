//! Layers built from tape ops, with parameters and buffers named and shaped exactly as in a
//! PyTorch `state_dict` (Linear weight `[out, in]`, Conv `[out, in, kh, kw]`, ConvTranspose
//! `[in, out, kh, kw]`, BatchNorm `running_mean`/`running_var`/`num_batches_tracked`, spectral
//! norm `weight_orig`/`weight_u`/`weight_v`), so checkpoints load in PyTorch unchanged.
//!
//! A [`Module`] is a layer with one input. Models compose modules explicitly or with
//! [`Sequential`], which names its children `0`, `1`, … like `torch.nn.Sequential`.

mod activation;
mod attention;
mod batch_norm;
mod conv;
mod dropout;
mod embedding;
pub mod init;
mod instance_norm;
mod linear;
mod sequential;
mod spectral_norm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use activation::{Act, Activation, Reshape};
pub use attention::{AttentionMap, SelfAttention};
pub use batch_norm::{BatchNorm, NormConfig};
pub use conv::{Conv2d, ConvSpec, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use init::Init;
pub use instance_norm::InstanceNorm;
pub use linear::{Linear, Weight};
pub use sequential::Sequential;
pub use spectral_norm::SpectralNorm;

use crate::error::{Error, Result};
use crate::ops::Generator;
use crate::tensor::Tensor;

/// Per-call state of a forward pass.
pub struct Ctx<'a> {
    /// Training mode: batch statistics, dropout on, spectral-norm power iteration on.
    pub train: bool,
    /// Source of dropout masks.
    pub rng: &'a mut Generator,
    /// When set, self-attention blocks append their attention maps here.
    pub attention: Option<Vec<AttentionMap>>,
}

impl<'a> Ctx<'a> {
    pub fn train(rng: &'a mut Generator) -> Self {
        Ctx {
            train: true,
            rng,
            attention: None,
        }
    }

    pub fn eval(rng: &'a mut Generator) -> Self {
        Ctx {
            train: false,
            rng,
            attention: None,
        }
    }
}

/// What a named state entry is.
#[derive(Clone)]
pub enum Entry {
    /// A trainable parameter (requires grad).
    Param(Tensor),
    /// A persistent buffer updated by forward passes (running statistics, power-iteration vectors).
    Buffer(Tensor),
    /// A host-side integer buffer (`num_batches_tracked`, an int64 scalar in PyTorch).
    Counter(Arc<AtomicU64>),
}

/// A state entry with its PyTorch `state_dict` key.
#[derive(Clone)]
pub struct Named {
    pub name: String,
    pub entry: Entry,
}

/// A layer: a forward pass of one tensor and named state.
pub trait Module: Send + Sync {
    /// Applies the layer.
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor>;

    /// Appends this layer's parameters and buffers with `prefix` prepended to each key.
    fn collect(&self, prefix: &str, out: &mut Vec<Named>);

    /// One line for model summaries, e.g. `Linear(784 → 128)`.
    fn describe(&self) -> String;

    /// Whether a training forward computes each sample from that sample alone and keeps no
    /// state between calls, so that one call on two batches joined equals a call on each.
    /// Not so for batch norm (batch statistics), spectral norm (a power-iteration step per
    /// call) or attention (it records its maps per call). The trainers run a discriminator
    /// that says so once on real and fake samples together: half the dispatches.
    fn per_sample(&self) -> bool {
        false
    }

    /// The activation this layer applies, if it is an activation layer (so that the layer
    /// before it may fuse it).
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// This layer followed by `act`, as one fused op where the layer has one for it
    /// (training-mode batch norm and instance norm followed by a ReLU or a leaky ReLU with
    /// slope ≥ 0; Linear and Conv2d followed by those or an ELU with α ≥ 0);
    /// `None` where it has not, and the caller applies `act` itself.
    fn forward_activated(
        &self,
        _x: &Tensor,
        _ctx: &mut Ctx,
        _act: Activation,
    ) -> Option<Result<Tensor>> {
        None
    }

    /// Whether [`Module::forward_after`] would take `act` in (in training when `train`).
    /// `Sequential` asks before fusing `act` into the layer before it, so that an activation
    /// goes where it saves the most (into dropout, whose backward then stays one product).
    fn takes_activation(&self, _act: Activation, _train: bool) -> bool {
        false
    }

    /// `act` followed by this layer, as one fused op where this layer has one for it
    /// (training-mode dropout after a ReLU or leaky ReLU); `None` where it has not, and the
    /// caller applies `act` itself.
    fn forward_after(
        &self,
        _x: &Tensor,
        _ctx: &mut Ctx,
        _act: Activation,
    ) -> Option<Result<Tensor>> {
        None
    }
}

/// Every state entry of `m`, in registration order.
pub fn state_entries(m: &dyn Module) -> Vec<Named> {
    let mut v = Vec::new();
    m.collect("", &mut v);
    v
}

/// The trainable parameters of `m` with their names.
pub fn named_parameters(m: &dyn Module) -> Vec<(String, Tensor)> {
    state_entries(m)
        .into_iter()
        .filter_map(|n| match n.entry {
            Entry::Param(t) => Some((n.name, t)),
            _ => None,
        })
        .collect()
}

/// The trainable parameters of `m`.
pub fn parameters(m: &dyn Module) -> Vec<Tensor> {
    named_parameters(m).into_iter().map(|(_, t)| t).collect()
}

/// Number of trainable scalars in `m`.
pub fn parameter_count(m: &dyn Module) -> usize {
    parameters(m).iter().map(Tensor::numel).sum()
}

/// Host values of a state dict: f32 data with shape, or an integer counter.
#[derive(Clone, Debug, PartialEq)]
pub enum HostValue {
    F32 { shape: Vec<usize>, data: Vec<f32> },
    Int(i64),
}

/// Reads every entry of `m` to the host (one GPU round trip).
pub fn state_dict(m: &dyn Module) -> Result<Vec<(String, HostValue)>> {
    let entries = state_entries(m);
    let tensors: Vec<&Tensor> = entries
        .iter()
        .filter_map(|n| match &n.entry {
            Entry::Param(t) | Entry::Buffer(t) => Some(t),
            Entry::Counter(_) => None,
        })
        .collect();
    let mut data = Tensor::read_all(&tensors)?.into_iter();
    let mut out = Vec::with_capacity(entries.len());
    for n in entries {
        let v = match n.entry {
            Entry::Param(t) | Entry::Buffer(t) => HostValue::F32 {
                shape: t.shape().to_vec(),
                data: data.next().expect("one readback per tensor"),
            },
            Entry::Counter(c) => HostValue::Int(c.load(Ordering::Relaxed) as i64),
        };
        out.push((n.name, v));
    }
    Ok(out)
}

/// Writes host values into `m`'s parameters and buffers. Every key of `m` must be present
/// with the same shape; unknown keys are an error (like `load_state_dict(strict=True)`).
pub fn load_state_dict(m: &dyn Module, values: &HashMap<String, HostValue>) -> Result<()> {
    let entries = state_entries(m);
    let known: std::collections::HashSet<&str> = entries.iter().map(|n| n.name.as_str()).collect();
    if let Some(extra) = values.keys().find(|k| !known.contains(k.as_str())) {
        return Err(Error::Data(format!(
            "unexpected key '{extra}' in state dict (the model has: {})",
            entries
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for n in &entries {
        let v = values
            .get(&n.name)
            .ok_or_else(|| Error::Data(format!("missing key '{}' in state dict", n.name)))?;
        match (&n.entry, v) {
            (Entry::Param(t) | Entry::Buffer(t), HostValue::F32 { shape, data }) => {
                if shape.as_slice() != t.shape() {
                    return Err(Error::Data(format!(
                        "'{}' has shape {shape:?} in the state dict but {:?} in the model",
                        n.name,
                        t.shape()
                    )));
                }
                t.write(data)?;
            }
            (Entry::Counter(c), HostValue::Int(i)) => {
                c.store((*i).max(0) as u64, Ordering::Relaxed)
            }
            (Entry::Counter(_), HostValue::F32 { data, .. }) if data.len() == 1 => {
                // Accept a float scalar too (some exporters store counters as floats).
                if let Entry::Counter(c) = &n.entry {
                    c.store(data[0].max(0.0) as u64, Ordering::Relaxed)
                }
            }
            _ => {
                return Err(Error::Data(format!(
                    "'{}' has the wrong kind of value in the state dict",
                    n.name
                )))
            }
        }
    }
    Ok(())
}

/// `prefix` + `name`, the way PyTorch joins state-dict keys.
pub(crate) fn key(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}
