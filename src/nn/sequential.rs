//! A chain of layers, named `0`, `1`, … in the state dict like `torch.nn.Sequential`.

use super::{Ctx, Module, Named};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    pub fn new() -> Self {
        Sequential::default()
    }

    /// Appends a layer (builder style).
    pub fn layer(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer in place.
    pub fn push(&mut self, layer: impl Module + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// Appends an already boxed layer.
    pub fn push_boxed(&mut self, layer: Box<dyn Module>) {
        self.layers.push(layer);
    }

    pub fn len(&self) -> usize {
        self.layers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    pub fn layers(&self) -> &[Box<dyn Module>] {
        &self.layers
    }

    /// Runs layers `from..to` only (for models that insert something between them).
    pub fn forward_range(
        &self,
        x: &Tensor,
        ctx: &mut Ctx,
        from: usize,
        to: usize,
    ) -> Result<Tensor> {
        let layers = &self.layers[from..to.min(self.layers.len())];
        let mut h = x.clone();
        let mut i = 0;
        while i < layers.len() {
            // A layer followed by an activation it can fuse (batch norm → ReLU, Linear →
            // leaky ReLU) runs as one op, and so does an activation followed by a layer that
            // can take it in (leaky ReLU → dropout). Where both could, dropout takes it: its
            // backward is then one product instead of a mask and a product.
            let next = layers.get(i + 1).and_then(|l| l.activation());
            let taken_later = next.is_some_and(|act| {
                layers
                    .get(i + 2)
                    .is_some_and(|l| l.takes_activation(act, ctx.train))
            });
            if let Some(act) = next.filter(|_| !taken_later) {
                if let Some(fused) = layers[i].forward_activated(&h, ctx, act) {
                    h = fused?;
                    i += 2;
                    continue;
                }
            }
            if let (Some(act), Some(next)) = (layers[i].activation(), layers.get(i + 1)) {
                if let Some(fused) = next.forward_after(&h, ctx, act) {
                    h = fused?;
                    i += 2;
                    continue;
                }
            }
            h = layers[i].forward(&h, ctx)?;
            i += 1;
        }
        Ok(h)
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        self.forward_range(x, ctx, 0, self.layers.len())
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.collect(&format!("{prefix}{i}."), out);
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        parts.join(" → ")
    }

    fn per_sample(&self) -> bool {
        self.layers.iter().all(|l| l.per_sample())
    }
}
