//! Reverse-mode automatic differentiation with gradients of gradients.
//!
//! While gradient recording is on (the default; see [`no_grad`]), every differentiable op whose
//! inputs include a tensor that requires grad attaches a [`Node`] to its output: the op's name,
//! its inputs, and its backward rule. The nodes form the tape of the computation; it lives as
//! long as the tensors that reach it.
//!
//! [`grad`] walks the tape backwards from the outputs. Every backward rule is written in tensor
//! ops, so the walk is itself ordinary computation: with `create_graph = false` it runs with
//! recording off, with `create_graph = true` it is recorded like any forward pass and can be
//! differentiated again — the mechanism behind `torch.autograd.grad(..., create_graph=True)`
//! and the WGAN-GP gradient penalty.

mod tape;

use std::cell::Cell;

pub use tape::{grad, grad_with, GradOptions};

use crate::error::Result;
use crate::tensor::Tensor;

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(true) };
}

/// True when differentiable ops on this thread record graph nodes.
pub fn is_recording() -> bool {
    RECORDING.with(|r| r.get())
}

/// Restores the previous recording mode when dropped.
pub struct RecordingGuard(bool);

impl Drop for RecordingGuard {
    fn drop(&mut self) {
        RECORDING.with(|r| r.set(self.0));
    }
}

/// Turns recording on or off for this thread until the guard drops.
pub fn set_recording(on: bool) -> RecordingGuard {
    RecordingGuard(RECORDING.with(|r| r.replace(on)))
}

/// Runs `f` without recording graph nodes (like `torch.no_grad()`).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = set_recording(false);
    f()
}

/// What a backward rule receives.
pub struct Backward<'a> {
    /// The op's inputs, in the order they were recorded.
    pub inputs: &'a [Tensor],
    /// The op's output (part of the graph: using it keeps second-order gradients exact).
    pub output: &'a Tensor,
    /// Gradient of the differentiated quantity with respect to `output`.
    pub grad: &'a Tensor,
    /// `needs[i]` is false when no gradient for `inputs[i]` is wanted; rules may skip it.
    pub needs: &'a [bool],
}

/// A backward rule: gradients for each input (None where not needed or not differentiable).
pub type BackwardFn = Box<dyn Fn(&Backward<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// One recorded op.
pub struct Node {
    pub op: &'static str,
    pub inputs: Vec<Tensor>,
    pub backward: BackwardFn,
}

impl Tensor {
    /// Attaches a graph node to a freshly computed `self` if recording is on and any input
    /// requires grad; otherwise returns `self` unchanged.
    pub(crate) fn record(
        mut self,
        op: &'static str,
        inputs: &[&Tensor],
        backward: impl Fn(&Backward<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        if !is_recording() || !inputs.iter().any(|t| t.requires_grad()) {
            return self;
        }
        let node = Node {
            op,
            inputs: inputs.iter().map(|t| (*t).clone()).collect(),
            backward: Box::new(backward),
        };
        match std::sync::Arc::get_mut(&mut self.0) {
            Some(inner) => {
                inner.node = Some(node);
                inner
                    .requires_grad
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self
            }
            None => {
                // The output is already shared (an alias); give the node to a new handle.
                let t = self.alias(self.shape());
                let mut t = t;
                let inner = std::sync::Arc::get_mut(&mut t.0).expect("fresh alias is unique");
                inner.node = Some(node);
                inner
                    .requires_grad
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                t
            }
        }
    }

    /// The node that produced this tensor, if it was recorded.
    pub fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }
}
