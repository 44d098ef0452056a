//! A fully connected layer followed by a ReLU, leaky ReLU or ELU, as one differentiable op
//! whose activation runs in the product kernel's store (`activate` in `matmul_strided.wgsl`).
//!
//! Forward, the activation costs no pass of its own over the output. Backward, the gradient
//! is first taken through the activation with what it needs read from the output (for slopes
//! and α ≥ 0, y > 0 exactly where x·Wᵀ + b > 0, and an ELU's derivative below 0 is y + α),
//! then through the layer as `linear` does. Both rules differentiate again (the leaky ReLU's
//! as the masked gradient the op leaky ReLU records, the ELU's through y), so the WGAN-GP
//! critics can use them.

use super::elementwise::{elu_raw, leaky_relu_raw};
use super::elementwise_ops::{elu_grad_from_output, leaky_relu_grad};
use super::matmul::{linear_grads, matmul_bias_act_raw};
use super::matmul_sg::{ACTIVATE, ELU};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// An activation a product kernel applies in its store: a leaky ReLU of a slope (0: ReLU) or
/// an ELU of α. Both need their parameter finite and ≥ 0 (the backward reads from the output).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FusedAct {
    Leaky(f32),
    Elu(f32),
}

impl FusedAct {
    /// The slope or α (the parameter block's `alpha`).
    pub fn alpha(self) -> f32 {
        match self {
            FusedAct::Leaky(a) | FusedAct::Elu(a) => a,
        }
    }

    /// The parameter block's flags that select this activation.
    pub fn flags(self) -> u32 {
        match self {
            FusedAct::Leaky(_) => ACTIVATE,
            FusedAct::Elu(_) => ACTIVATE | ELU,
        }
    }

    /// Refuses a slope or α the backward rules cannot read from the output (negative or not
    /// finite), naming `op` and the unfused ops (`layer`, then the activation) to use instead.
    pub(crate) fn check(self, op: &str, layer: &str) -> Result<()> {
        let (param, plain) = match self {
            FusedAct::Leaky(_) => ("slope", "leaky_relu"),
            FusedAct::Elu(_) => ("alpha", "elu"),
        };
        let a = self.alpha();
        if a.is_finite() && a >= 0.0 {
            return Ok(());
        }
        Err(Error::Config(format!(
            "{op}: {param} {a} must be a finite number ≥ 0 (use {layer} and {plain})"
        )))
    }

    /// The activation as a pass of its own, without recording (kernels with no epilogue).
    pub fn apply_raw(self, t: &Tensor) -> Result<Tensor> {
        match self {
            FusedAct::Leaky(s) => leaky_relu_raw(t, s),
            FusedAct::Elu(a) => elu_raw(t, a),
        }
    }

    /// The gradient `g` of the output `y` taken back through the activation.
    pub(crate) fn grad(self, y: &Tensor, g: &Tensor) -> Result<Tensor> {
        match self {
            FusedAct::Leaky(s) => leaky_relu_grad(y, g, s),
            FusedAct::Elu(a) => elu_grad_from_output(y, g, a),
        }
    }
}

impl Tensor {
    /// `leaky_relu(x·Wᵀ + b, slope)` (slope 0: ReLU) with W `[out, in]`, the activation
    /// applied by the product kernel. `slope` must be finite and ≥ 0 (the backward reads the
    /// activation's mask from the output).
    pub fn linear_leaky_relu(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        slope: f32,
    ) -> Result<Tensor> {
        self.linear_fused(w, bias, FusedAct::Leaky(slope))
    }

    /// `elu(x·Wᵀ + b, alpha)` with W `[out, in]`, the activation applied by the product
    /// kernel. `alpha` must be finite and ≥ 0 (the backward reads the derivative from the
    /// output).
    pub fn linear_elu(&self, w: &Tensor, bias: Option<&Tensor>, alpha: f32) -> Result<Tensor> {
        self.linear_fused(w, bias, FusedAct::Elu(alpha))
    }

    /// `act(x·Wᵀ + b)` with W `[out, in]`, the activation applied by the product kernel.
    pub(crate) fn linear_fused(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        act: FusedAct,
    ) -> Result<Tensor> {
        let op = match act {
            FusedAct::Leaky(_) => "linear_leaky_relu",
            FusedAct::Elu(_) => "linear_elu",
        };
        act.check(op, "linear")?;
        if self.rank() != 2 || w.rank() != 2 {
            return Err(Error::shape(
                op,
                format!(
                    "expects x [batch, in] and W [out, in], got {:?} and {:?}",
                    self.shape(),
                    w.shape()
                ),
            ));
        }
        let out = matmul_bias_act_raw(self, w, false, true, bias, Some(act))?;
        let mut inputs = vec![self, w];
        inputs.extend(bias);
        Ok(out.record(op, &inputs, move |bw| {
            // Through the activation first, then through the layer.
            linear_grads(bw, &act.grad(bw.output, bw.grad)?)
        }))
    }
}
