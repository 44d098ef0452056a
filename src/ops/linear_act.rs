//! A fully connected layer followed by a ReLU or leaky ReLU, as one differentiable op whose
//! activation runs in the product kernel's store (`activate` in `matmul_strided.wgsl`).
//!
//! Forward, the activation costs no pass of its own over the output. Backward, the gradient
//! is first taken through the activation with the mask read from the output (y > 0 exactly
//! where x·Wᵀ + b > 0, for slopes ≥ 0), then through the layer as `linear` does. The masked
//! gradient is the op leaky ReLU records, linear in g, so the rule differentiates again and
//! the WGAN-GP critics can use it.

use super::elementwise_ops::leaky_relu_grad;
use super::matmul::{linear_grads, matmul_bias_act_raw};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

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
        const OP: &str = "linear_leaky_relu";
        if !(slope.is_finite() && slope >= 0.0) {
            return Err(Error::Config(format!(
                "{OP}: slope {slope} must be a finite number ≥ 0 (use linear and leaky_relu)"
            )));
        }
        if self.rank() != 2 || w.rank() != 2 {
            return Err(Error::shape(
                OP,
                format!(
                    "expects x [batch, in] and W [out, in], got {:?} and {:?}",
                    self.shape(),
                    w.shape()
                ),
            ));
        }
        let out = matmul_bias_act_raw(self, w, false, true, bias, Some(slope))?;
        let mut inputs = vec![self, w];
        inputs.extend(bias);
        Ok(out.record(OP, &inputs, move |bw| {
            // Through the activation first, then through the layer.
            linear_grads(bw, &leaky_relu_grad(bw.output, bw.grad, slope)?)
        }))
    }
}
