//! `Net`: a generator or discriminator — a [`Sequential`] body, optionally conditioned on a
//! class label by concatenating a label embedding after one of its layers (SPEC §4).
//!
//! State-dict keys: the body's layers under `net.<i>.`, the embedding under `embed.`.

use crate::error::{Error, Result};
use crate::nn::{Ctx, Embedding, Module, Named, Sequential};
use crate::tensor::Tensor;

/// Label conditioning: after layer `after` of the body, concatenate `embed(label)` to the
/// features (dimension 1).
pub struct Conditioning {
    pub after: usize,
    pub embed: Embedding,
}

pub struct Net {
    pub body: Sequential,
    pub cond: Option<Conditioning>,
    /// Shape of one input sample (the batch is reshaped to `[B, ..in_shape]` first).
    pub in_shape: Vec<usize>,
    /// Shape of one output sample (the result is reshaped to `[B, ..out_shape]`).
    pub out_shape: Vec<usize>,
}

impl Net {
    pub fn new(body: Sequential, in_shape: &[usize], out_shape: &[usize]) -> Net {
        Net {
            body,
            cond: None,
            in_shape: in_shape.to_vec(),
            out_shape: out_shape.to_vec(),
        }
    }

    pub fn conditioned(mut self, after: usize, embed: Embedding) -> Net {
        self.cond = Some(Conditioning { after, embed });
        self
    }

    /// Number of label classes the net is conditioned on (0 if unconditional).
    pub fn classes(&self) -> usize {
        self.cond.as_ref().map_or(0, |c| c.embed.num)
    }

    /// `x` (any shape with `in_shape` elements per sample) as `[B, ..in_shape]`.
    pub fn samples(&self, x: &Tensor) -> Result<Tensor> {
        let b = *x
            .shape()
            .first()
            .ok_or_else(|| Error::shape("Net", "input has no batch dimension"))?;
        let mut shape = vec![b];
        shape.extend_from_slice(&self.in_shape);
        x.reshape(&shape).map_err(|_| {
            Error::shape(
                "Net",
                format!(
                    "expects samples of shape {:?}, got a batch of shape {:?}",
                    self.in_shape,
                    x.shape()
                ),
            )
        })
    }

    /// Applies the net to a batch `x` (any shape with `in_shape` elements per sample) and, for
    /// conditional nets, u32 labels `[B]`.
    pub fn forward(&self, x: &Tensor, labels: Option<&Tensor>, ctx: &mut Ctx) -> Result<Tensor> {
        let x = self.samples(x)?;
        let b = x.shape()[0];
        let h = match (&self.cond, labels) {
            (None, _) => self.body.forward(&x, ctx)?,
            (Some(c), Some(l)) => {
                let h = self.body.forward_range(&x, ctx, 0, c.after)?;
                let e = c.embed.forward(l, ctx)?;
                let h = Tensor::concat(&[&h, &e], 1)?;
                self.body.forward_range(&h, ctx, c.after, self.body.len())?
            }
            (Some(_), None) => {
                return Err(Error::Config(
                    "this model is conditional: it needs class labels".into(),
                ))
            }
        };
        let mut out = vec![b];
        out.extend_from_slice(&self.out_shape);
        h.reshape(&out)
    }
}

impl Module for Net {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        Net::forward(self, x, None, ctx)
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        self.body.collect(&format!("{prefix}net."), out);
        if let Some(c) = &self.cond {
            c.embed.collect(&format!("{prefix}embed."), out);
        }
    }

    fn per_sample(&self) -> bool {
        self.body.per_sample() && self.cond.as_ref().is_none_or(|c| c.embed.per_sample())
    }

    fn describe(&self) -> String {
        let mut s = self.body.describe();
        if let Some(c) = &self.cond {
            s.push_str(&format!(
                " (label embedding {} after layer {})",
                c.embed.describe(),
                c.after
            ));
        }
        s
    }
}
