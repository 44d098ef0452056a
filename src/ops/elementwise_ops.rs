//! Elementwise ops on tensors, recorded with their gradients: activations, arithmetic with
//! broadcasting, comparisons and select. The kernels are in `elementwise.rs`.

use super::elementwise::{
    binary_raw, binary_raw_with, elu_raw, ternary_raw, unary_raw, LEAKY_RELU, LEAKY_RELU_BW,
    RELU_BW,
};
use crate::error::Result;
use crate::tensor::Tensor;

/// Elementwise comparisons; results are 1.0 where true, 0.0 where false, and carry no gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Compare {
    fn symbol(self) -> &'static str {
        match self {
            Compare::Gt => ">",
            Compare::Ge => ">=",
            Compare::Lt => "<",
            Compare::Le => "<=",
            Compare::Eq => "==",
            Compare::Ne => "!=",
        }
    }
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $expr:literal, |$b:ident| $bw:expr;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<Tensor> {
                    unary_raw(self, stringify!($name), $expr, 0.0, 0.0)?
                        .record(stringify!($name), &[self], |$b| Ok(vec![Some($bw?)]))
                        .pipe_ok()
                }
            )*
        }
    };
}

/// Tiny helper so the macro can end in an expression of type `Result<Tensor>`.
trait PipeOk: Sized {
    fn pipe_ok(self) -> Result<Self> {
        Ok(self)
    }
}
impl PipeOk for Tensor {}

unary_ops! {
    /// −x.
    neg => "-v", |b| b.grad.neg();
    /// eˣ. Backward: g·y.
    exp => "exp(v)", |b| b.grad.mul(b.output);
    /// Natural logarithm. Backward: g / x.
    log => "log(v)", |b| b.grad.div(&b.inputs[0]);
    /// √x. Backward: g / (2y).
    sqrt => "sqrt(v)", |b| b.grad.div(&b.output.mul_scalar(2.0)?);
    /// 1/√x. Backward: −g·y³/2.
    rsqrt => "inverseSqrt(v)", |b| b.grad.mul(&b.output.powf(3.0)?.mul_scalar(-0.5)?);
    /// x². Backward: 2g·x.
    square => "v * v", |b| b.grad.mul(&b.inputs[0].mul_scalar(2.0)?);
    /// |x|. Backward: g·sign(x) (0 at 0, as PyTorch).
    abs => "abs(v)", |b| b.grad.mul(&b.inputs[0].sign()?);
    /// 1/x. Backward: −g·y².
    recip => "1.0 / v", |b| b.grad.mul(&b.output.square()?.neg()?);
    /// tanh(x), exact to ±1 for large |x|. Backward: g·(1 − y²).
    tanh => "select(tanh(v), sign(v), abs(v) > 10.0)",
        |b| fused_or(b.output, b.grad, "tanh_bw", "y * (1.0 - x * x)", 0.0,
            || b.grad.mul(&b.output.square()?.affine(-1.0, 1.0)?));
    /// 1/(1+e⁻ˣ), evaluated without overflow. Backward: g·y·(1 − y).
    sigmoid => "select(exp(v) / (1.0 + exp(v)), 1.0 / (1.0 + exp(-v)), v >= 0.0)",
        |b| fused_or(b.output, b.grad, "sigmoid_bw", "y * x * (1.0 - x)", 0.0,
            || b.grad.mul(&b.output.mul(&b.output.affine(-1.0, 1.0)?)?));
    /// log(1 + eˣ), evaluated without overflow. Backward: g·sigmoid(x).
    softplus => "max(v, 0.0) + log1p_small(exp(-abs(v)))",
        |b| fused_or(&b.inputs[0], b.grad, "softplus_bw",
            "y * select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)", 0.0,
            || b.grad.mul(&b.inputs[0].sigmoid()?));
    /// max(x, 0). Backward: g where x > 0 (NOTE: the gradient at 0 is 0, as in PyTorch).
    relu => "max(v, 0.0)",
        |b| leaky_relu_grad(&b.inputs[0], b.grad, 0.0);
}

impl Tensor {
    /// sign(x) ∈ {−1, 0, 1}; no gradient.
    pub fn sign(&self) -> Result<Tensor> {
        unary_raw(self, "sign", "sign(v)", 0.0, 0.0)
    }

    /// a·x + b with scalars a, b. Backward: a·g.
    pub fn affine(&self, a: f32, b: f32) -> Result<Tensor> {
        Ok(
            unary_raw(self, "affine", "p.alpha * v + p.beta", a, b)?.record(
                "affine",
                &[self],
                move |bw| Ok(vec![Some(bw.grad.mul_scalar(a)?)]),
            ),
        )
    }

    /// x + c.
    pub fn add_scalar(&self, c: f32) -> Result<Tensor> {
        self.affine(1.0, c)
    }

    /// c·x.
    pub fn mul_scalar(&self, c: f32) -> Result<Tensor> {
        self.affine(c, 0.0)
    }

    /// xᵖ for a scalar p. Integer p accepts negative x; 0⁰ = 1. Backward: g·p·xᵖ⁻¹.
    pub fn powf(&self, p: f32) -> Result<Tensor> {
        Ok(
            unary_raw(self, "powf", "pow_scalar(v, p.alpha)", p, 0.0)?.record(
                "powf",
                &[self],
                move |b| {
                    let d = if p == 2.0 {
                        b.inputs[0].mul_scalar(2.0)?
                    } else {
                        b.inputs[0].powf(p - 1.0)?.mul_scalar(p)?
                    };
                    Ok(vec![Some(b.grad.mul(&d)?)])
                },
            ),
        )
    }

    /// LeakyReLU: x for x > 0, slope·x otherwise.
    /// NOTE: the gradient at exactly 0 is `slope`, as in PyTorch (`x > 0 ? 1 : slope`).
    pub fn leaky_relu(&self, slope: f32) -> Result<Tensor> {
        Ok(
            unary_raw(self, "leaky_relu", LEAKY_RELU, slope, 0.0)?.record(
                "leaky_relu",
                &[self],
                move |b| Ok(vec![Some(leaky_relu_grad(&b.inputs[0], b.grad, slope)?)]),
            ),
        )
    }

    /// ELU: x for x > 0, α(eˣ − 1) otherwise (expm1 accurate near 0).
    /// Backward: g for x > 0, g·(y + α) otherwise — written with y so that it differentiates again.
    pub fn elu(&self, alpha: f32) -> Result<Tensor> {
        Ok(elu_raw(self, alpha)?.record("elu", &[self], move |b| {
            let g = fused_or(
                &b.inputs[0],
                b.grad,
                "elu_bw",
                "select(y * p.alpha * exp(x), y, x > 0.0)",
                alpha,
                || elu_grad_composed(&b.inputs[0], b.output, b.grad, alpha),
            )?;
            Ok(vec![Some(g)])
        }))
    }

    /// Clamps to [lo, hi]. Backward: g where lo ≤ x ≤ hi.
    /// NOTE: at the bounds the gradient passes (subgradient 1), as PyTorch's derivative table
    /// long documented; recent PyTorch releases pass 0 there for scalar bounds.
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        Ok(
            unary_raw(self, "clamp", "clamp(v, p.alpha, p.beta)", lo, hi)?.record(
                "clamp",
                &[self],
                move |b| {
                    let m = unary_raw(
                        &b.inputs[0],
                        "in_range",
                        "select(0.0, 1.0, v >= p.alpha && v <= p.beta)",
                        lo,
                        hi,
                    )?;
                    Ok(vec![Some(b.grad.mul(&m)?)])
                },
            ),
        )
    }

    /// Compares with a scalar: 1.0 where `self <op> c` holds, else 0.0. No gradient.
    pub fn compare_scalar(&self, op: Compare, c: f32) -> Result<Tensor> {
        let expr = format!("select(0.0, 1.0, v {} p.alpha)", op.symbol());
        unary_raw(self, "compare_scalar", &expr, c, 0.0)
    }

    /// Compares elementwise with broadcasting: 1.0 where `self <op> other`. No gradient.
    pub fn compare(&self, op: Compare, other: &Tensor) -> Result<Tensor> {
        let expr = format!("select(0.0, 1.0, x {} y)", op.symbol());
        binary_raw(self, other, "compare", &expr)
    }

    /// a + b with broadcasting.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        Ok(
            binary_raw(self, other, "add", "x + y")?.record("add", &[self, other], |b| {
                Ok(vec![
                    grad_to(b, 0, || Ok(b.grad.clone()))?,
                    grad_to(b, 1, || Ok(b.grad.clone()))?,
                ])
            }),
        )
    }

    /// a − b with broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        Ok(
            binary_raw(self, other, "sub", "x - y")?.record("sub", &[self, other], |b| {
                Ok(vec![
                    grad_to(b, 0, || Ok(b.grad.clone()))?,
                    grad_to(b, 1, || b.grad.neg())?,
                ])
            }),
        )
    }

    /// a · b with broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        Ok(
            binary_raw(self, other, "mul", "x * y")?.record("mul", &[self, other], |b| {
                Ok(vec![
                    grad_to(b, 0, || b.grad.mul(&b.inputs[1]))?,
                    grad_to(b, 1, || b.grad.mul(&b.inputs[0]))?,
                ])
            }),
        )
    }

    /// a / b with broadcasting. Backward: g/b and −g·a/b².
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        Ok(
            binary_raw(self, other, "div", "x / y")?.record("div", &[self, other], |b| {
                Ok(vec![
                    grad_to(b, 0, || b.grad.div(&b.inputs[1]))?,
                    grad_to(b, 1, || {
                        b.grad.mul(&b.inputs[0])?.div(&b.inputs[1].square()?)?.neg()
                    })?,
                ])
            }),
        )
    }

    /// `self` where `cond` ≠ 0, else `other` (with broadcasting). `cond` gets no gradient.
    pub fn where_(&self, cond: &Tensor, other: &Tensor) -> Result<Tensor> {
        cond.select(self, other)
    }

    /// Elementwise choice: `a` where `self` ≠ 0, else `b` (with broadcasting).
    pub fn select(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let cond = self.detach();
        let c2 = cond.clone();
        Ok(
            ternary_raw(&cond, a, b, "select", "select(y, x, c != 0.0)")?.record(
                "select",
                &[a, b],
                move |bw| {
                    let zero = Tensor::zeros(bw.grad.gpu(), &[])?;
                    Ok(vec![
                        grad_to(bw, 0, || c2.select(bw.grad, &zero))?,
                        grad_to(bw, 1, || c2.select(&zero, bw.grad))?,
                    ])
                },
            ),
        )
    }

    /// a + t·(b − a) with broadcasting: linear interpolation, as in the gradient penalty's x̂.
    pub fn lerp(&self, other: &Tensor, t: &Tensor) -> Result<Tensor> {
        self.add(&other.sub(self)?.mul(t)?)
    }
}

/// An activation's input gradient: one fused kernel of (`x`, g) when the backward pass is not
/// recorded, else `composed` — the same value in tensor ops, so it differentiates again.
fn fused_or(
    x: &Tensor,
    g: &Tensor,
    op: &'static str,
    expr: &str,
    alpha: f32,
    composed: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    if crate::autograd::is_recording() {
        composed()
    } else {
        binary_raw_with(x, g, op, expr, alpha)
    }
}

/// g·mask(x) for an activation whose derivative is piecewise constant (ReLU, leaky ReLU), as
/// one kernel `expr` of x and y = g. Recorded as an op linear in g — the mask is constant
/// almost everywhere, so x gets no gradient through it — whose own backward is the same
/// kernel: a recorded backward (gradient penalty) costs one dispatch per pass, not a mask
/// and a product.
fn masked_grad(
    x: &Tensor,
    g: &Tensor,
    op: &'static str,
    expr: &'static str,
    alpha: f32,
) -> Result<Tensor> {
    let out = binary_raw_with(x, g, op, expr, alpha)?;
    let x = x.detach();
    Ok(out.record(op, &[g], move |b| {
        Ok(vec![Some(masked_grad(&x, b.grad, op, expr, alpha)?)])
    }))
}

/// g through a leaky ReLU of `slope` (0: ReLU), with the mask read from `mask_of` — its input,
/// or its output where the slope is ≥ 0 (y > 0 exactly where x > 0). Recorded as
/// [`masked_grad`], so it differentiates again.
pub(crate) fn leaky_relu_grad(mask_of: &Tensor, g: &Tensor, slope: f32) -> Result<Tensor> {
    if slope == 0.0 {
        masked_grad(mask_of, g, "relu_bw", RELU_BW, 0.0)
    } else {
        masked_grad(mask_of, g, "leaky_relu_bw", LEAKY_RELU_BW, slope)
    }
}

/// g through an ELU of `alpha` ≥ 0, read from its output y alone (y > 0 exactly where the
/// input is, and the derivative there is y + α): for an ELU applied by a product kernel's
/// store, whose input is never written. Composed from recorded ops when a graph is being
/// built — y + α depends on y, so the rule differentiates again (ELU'' = y + α below 0).
pub(crate) fn elu_grad_from_output(y: &Tensor, g: &Tensor, alpha: f32) -> Result<Tensor> {
    fused_or(
        y,
        g,
        "elu_bw",
        "select(y * (x + p.alpha), y, x > 0.0)",
        alpha,
        || elu_grad_composed(y, y, g, alpha),
    )
}

/// g through an ELU of `alpha` from recorded ops: g where `mask_of` (the input, or the output
/// when α ≥ 0) is > 0, g·(y + α) elsewhere, y the output — so the rule differentiates again.
fn elu_grad_composed(mask_of: &Tensor, y: &Tensor, g: &Tensor, alpha: f32) -> Result<Tensor> {
    let pos = mask_of.compare_scalar(Compare::Gt, 0.0)?;
    pos.select(g, &g.mul(&y.add_scalar(alpha)?)?)
}

/// Gradient for input `i` of a broadcasting op: computed only when needed, then summed down
/// to the input's shape.
fn grad_to(
    b: &crate::autograd::Backward<'_>,
    i: usize,
    f: impl FnOnce() -> Result<Tensor>,
) -> Result<Option<Tensor>> {
    if !b.needs[i] {
        return Ok(None);
    }
    Ok(Some(f()?.sum_to(b.inputs[i].shape())?))
}
