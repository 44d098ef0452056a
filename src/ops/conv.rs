//! 2-D convolution as three primitive ops, closed under differentiation:
//! `conv2d`, `conv_transpose2d` and `conv2d_weight_grad` (NCHW, f32, no groups/dilation).
//!
//! All three share one resolved geometry (`ConvDims`): big position `o·s − p + k` meets small
//! position `o` at tap `k`. With `C` = conv2d (big x → small y, weight `[Co, Ci, K]`),
//! `T` = conv_transpose2d (small → big, weight `[Cs, Cb, K]`, PyTorch's layout) and
//! `Wg(X, G)[co, ci, k] = Σ_{n,o} G[n, co, o]·X[n, ci, o·s − p + k]`, the backward rules are
//! (each derived by writing the op as a sum over the same index triples and reading off the
//! coefficient of the differentiated variable):
//! - `y = C(x, w) + b`:  dx = T(g, w),  dw = Wg(x, g),  db = Σ_{n,h,w} g.
//! - `y = T(x, w) + b`:  dx = C(g, w),  dw = Wg(g, x),  db = Σ_{n,h,w} g.
//! - `y = Wg(X, G)`, incoming H (weight-shaped): dX = T(G, H),  dG = C(X, H).
//!
//! Each rule is again made of these ops, carried out with the same `ConvDims`, so gradients of
//! gradients (WGAN-GP through conv layers) need nothing more. Kernels: the gather form of
//! conv and transposed conv (`conv_launch.rs`, with subgroup sharing in `conv_sg.rs`), the
//! weight gradient (`conv_wgrad.rs`, `conv_sg_wgrad.rs`), implicit GEMMs on GPUs
//! (`conv_gemm.rs`) and narrow transposed convs through columns on CPU adapters
//! (`conv_col2im.rs`); geometry in `conv_geom.rs`.
//!
//! `act(C(x, w) + b)` for a ReLU, leaky ReLU or ELU is one op as well (`conv2d_leaky_relu`,
//! `conv2d_elu`): the activation runs in the conv kernel's store where it has one, and its
//! backward takes g through the activation (the derivative read from the output, as
//! `linear_act.rs` does) before the rules above.

use super::conv_channels_last::SourceCopy;
use super::conv_geom::{Conv2dGeom, ConvDims};
use super::conv_launch::{gather_raw, nchw};
use super::conv_wgrad::{reads_copies, wgrad_raw};
use super::linear_act::FusedAct;
use crate::autograd::is_recording;
use crate::error::{Error, Result};
use crate::tensor::{fmt_shape, Tensor};

/// The channels-last copy of a conv's source `x` to keep for its weight gradient: the one the
/// forward pass made, when a weight gradient can follow (the weight needs one and the graph
/// is recorded) and will read it (`conv_wgrad::reads_copies`), else none, so that no copy
/// outlives its use.
fn keep_for_weight_grad(
    x: &Tensor,
    w: &Tensor,
    d: &ConvDims,
    transposed: bool,
    copy: SourceCopy,
) -> SourceCopy {
    // Wg(big, small): the conv's source is its big side, a transposed conv's its small side.
    let (n, cx, cw) = (
        x.shape()[0],
        x.shape()[1],
        w.shape()[if transposed { 1 } else { 0 }],
    );
    let (cb, cs) = if transposed { (cw, cx) } else { (cx, cw) };
    if w.requires_grad() && is_recording() && reads_copies(x.gpu(), n, cb, cs, d) {
        copy
    } else {
        SourceCopy::default()
    }
}

/// `C(x, w) + b`, or `T(x, w) + b` when `transposed`, recorded as `conv2d` /
/// `conv_transpose2d`. `x_copy` offers, and receives, the channels-last copy of `x`.
fn plain_op(
    transposed: bool,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: ConvDims,
    x_copy: &mut SourceCopy,
) -> Result<Tensor> {
    let op = if transposed {
        "conv_transpose2d"
    } else {
        "conv2d"
    };
    gather_op(op, transposed, x, w, bias, d, x_copy, None)
}

/// `act(C(x, w) + b)`, or `act(T(x, w) + b)` when `transposed`, recorded as `op` (without
/// `act`: [`plain_op`]). The backward rules of the module doc: dx is the other
/// of C and T applied to g, dw the weight gradient with x on its own side.
#[allow(clippy::too_many_arguments)]
fn gather_op(
    op: &'static str,
    transposed: bool,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    d: ConvDims,
    x_copy: &mut SourceCopy,
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let y = gather_raw(op, x, w, bias, &d, transposed, x_copy, act)?;
    let kept = keep_for_weight_grad(x, w, &d, transposed, x_copy.clone());
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    Ok(y.record(op, &inputs, move |bw| {
        // Through the activation first (its derivative read from the output), then the conv.
        let g = &match act {
            Some(a) => a.grad(bw.output, bw.grad)?,
            None => bw.grad.clone(),
        };
        let (x, w) = (&bw.inputs[0], &bw.inputs[1]);
        // Both gradients read g channels last: one copy serves both.
        let (mut x_copy, mut g_copy) = (kept.clone(), SourceCopy::default());
        let mut grads = vec![
            bw.needs[0]
                .then(|| plain_op(!transposed, g, w, None, d, &mut g_copy))
                .transpose()?,
            bw.needs[1]
                .then(|| match transposed {
                    true => wgrad_op(g, x, d, [&mut g_copy, &mut x_copy]),
                    false => wgrad_op(x, g, d, [&mut x_copy, &mut g_copy]),
                })
                .transpose()?,
        ];
        if bw.inputs.len() == 3 {
            grads.push(bw.needs[2].then(|| g.sum(&[0, 2, 3], false)).transpose()?);
        }
        Ok(grads)
    }))
}

/// `Wg(big, small)`, recorded; `copies` offer channels-last copies of `big` and `small`.
fn wgrad_op(
    big: &Tensor,
    small: &Tensor,
    d: ConvDims,
    copies: [&mut SourceCopy; 2],
) -> Result<Tensor> {
    let y = wgrad_raw("conv2d_weight_grad", big, small, &d, copies)?;
    Ok(y.record("conv2d_weight_grad", &[big, small], move |bw| {
        let (big, small, h) = (&bw.inputs[0], &bw.inputs[1], bw.grad);
        Ok(vec![
            bw.needs[0]
                .then(|| plain_op(true, small, h, None, d, &mut SourceCopy::default()))
                .transpose()?,
            bw.needs[1]
                .then(|| plain_op(false, big, h, None, d, &mut SourceCopy::default()))
                .transpose()?,
        ])
    }))
}

/// The resolved geometry of `conv2d(x, weight, geom)` (or, `transposed`,
/// `conv_transpose2d`), after checking that the weight's input channels match x's.
fn conv_dims(
    op: &'static str,
    x: &Tensor,
    weight: &Tensor,
    geom: &Conv2dGeom,
    transposed: bool,
) -> Result<ConvDims> {
    let [_, ci, h, w] = nchw(op, "input", x)?;
    let ws = nchw(op, "weight", weight)?;
    let (cin_axis, layout) = if transposed {
        (0, "[Cin, Cout, KH, KW]")
    } else {
        (1, "[Cout, Cin, KH, KW]")
    };
    if ws[cin_axis] != ci {
        return Err(Error::shape(
            op,
            format!(
                "input {} has {ci} channels but weight {} expects {} (layout {layout})",
                fmt_shape(x.shape()),
                fmt_shape(weight.shape()),
                ws[cin_axis]
            ),
        ));
    }
    if transposed {
        geom.resolve_transpose(op, [h, w], [ws[2], ws[3]])
    } else {
        geom.resolve_conv(op, [h, w], [ws[2], ws[3]])
    }
}

impl Tensor {
    /// 2-D convolution of `self` `[N, Ci, H, W]` with `weight` `[Co, Ci, KH, KW]` plus an
    /// optional `bias` `[Co]`: `[N, Co, OH, OW]` (cross-correlation, as in PyTorch).
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geom: &Conv2dGeom,
    ) -> Result<Tensor> {
        let d = conv_dims("conv2d", self, weight, geom, false)?;
        plain_op(false, self, weight, bias, d, &mut SourceCopy::default())
    }

    /// `leaky_relu(conv2d(self, weight, bias, geom), slope)` (slope 0: ReLU), the activation
    /// applied in the conv kernel's store where it has one. `slope` must be finite and ≥ 0
    /// (the backward reads the activation's mask from the output).
    pub fn conv2d_leaky_relu(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geom: &Conv2dGeom,
        slope: f32,
    ) -> Result<Tensor> {
        self.conv2d_fused(weight, bias, geom, FusedAct::Leaky(slope))
    }

    /// `elu(conv2d(self, weight, bias, geom), alpha)`, the activation applied in the conv
    /// kernel's store where it has one. `alpha` must be finite and ≥ 0.
    pub fn conv2d_elu(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geom: &Conv2dGeom,
        alpha: f32,
    ) -> Result<Tensor> {
        self.conv2d_fused(weight, bias, geom, FusedAct::Elu(alpha))
    }

    /// `act(conv2d(self, weight, bias, geom))` as one op.
    pub(crate) fn conv2d_fused(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geom: &Conv2dGeom,
        act: FusedAct,
    ) -> Result<Tensor> {
        let op = match act {
            FusedAct::Leaky(_) => "conv2d_leaky_relu",
            FusedAct::Elu(_) => "conv2d_elu",
        };
        act.check(op, "conv2d")?;
        let d = conv_dims(op, self, weight, geom, false)?;
        gather_op(
            op,
            false,
            self,
            weight,
            bias,
            d,
            &mut SourceCopy::default(),
            Some(act),
        )
    }

    /// 2-D transposed convolution of `self` `[N, Ci, H, W]` with `weight` `[Ci, Co, KH, KW]`
    /// (PyTorch's `ConvTranspose2d` layout) plus an optional `bias` `[Co]`: the adjoint of
    /// [`Tensor::conv2d`] with the same geometry, `[N, Co, OH, OW]`.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        geom: &Conv2dGeom,
    ) -> Result<Tensor> {
        let d = conv_dims("conv_transpose2d", self, weight, geom, true)?;
        plain_op(true, self, weight, bias, d, &mut SourceCopy::default())
    }

    /// dL/dW `[Co, Ci, KH, KW]` of `conv2d(self, W, geom)` for `self` `[N, Ci, H, W]` and
    /// output gradient `grad_out` `[N, Co, OH, OW]`. Differentiable.
    ///
    /// For a transposed convolution's weight `[Ci, Co, KH, KW]`, pass its output gradient as
    /// `self` and its input as `grad_out`, with the transposed convolution's own `geom`
    /// (`output_padding` is ignored here: the sizes of `self` already fix it).
    pub fn conv2d_weight_grad(
        &self,
        grad_out: &Tensor,
        geom: &Conv2dGeom,
        kernel: [usize; 2],
    ) -> Result<Tensor> {
        const OP: &str = "conv2d_weight_grad";
        let [_, _, h, w] = nchw(OP, "input", self)?;
        let geom = Conv2dGeom {
            output_padding: [0, 0],
            ..*geom
        };
        let d = geom.resolve_conv(OP, [h, w], kernel)?;
        let fresh = || SourceCopy::default();
        wgrad_op(self, grad_out, d, [&mut fresh(), &mut fresh()])
    }
}
