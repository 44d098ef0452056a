//! The self-attention block of SAGAN (SPEC §9).
//!
//! For x `[B, C, H, W]` and N = H·W: query = Conv1×1(C→C/8), key = Conv1×1(C→C/8),
//! value = Conv1×1(C→C) (each a matrix product over channels); S = queryᵀ·key `[B, N, N]`;
//! attention A = softmax of S over the key positions (rows sum to 1); o = value·Aᵀ `[B, C, N]`;
//! out = x + γ·o with a learnable scalar γ initialised to 0.
//!
//! NOTE: the tutorial writes `Softmax(dim=-2)` and transposes afterwards; that is this block
//! with the query and key convolutions exchanged. SPEC's form (softmax over keys) is used, and
//! `scripts/torch_models.py` defines the PyTorch twin the same way.
//!
//! The N×N scores are formed a batch chunk at a time so that no buffer exceeds the adapter's
//! binding limit (at N = 1024 and batch 64 the whole map is 256 MiB).

use super::{key, Ctx, Entry, Init, Module, Named};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ops::Generator;
use crate::tensor::Tensor;

/// Attention maps of one block for a forward pass, one tensor `[b, N, N]` per batch chunk.
#[derive(Clone)]
pub struct AttentionMap {
    pub chunks: Vec<Tensor>,
    /// Spatial size (H, W) of the block's input.
    pub size: (usize, usize),
}

impl AttentionMap {
    /// Attention row of query position `pos` for every sample: `[B, N]` on the host.
    pub fn rows(&self, pos: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::new();
        for c in &self.chunks {
            let n = c.shape()[1];
            let r = c.narrow(1, pos, 1)?.reshape(&[c.shape()[0], n])?.to_vec()?;
            out.extend(r.chunks(n).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// A 1×1 convolution stored as PyTorch's `[out, in, 1, 1]` weight and `[out]` bias.
struct Pointwise {
    weight: Tensor,
    bias: Tensor,
}

impl Pointwise {
    fn new(gpu: &Gpu, cin: usize, cout: usize, init: Init, rng: &mut Generator) -> Result<Self> {
        let shape = [cout, cin, 1, 1];
        Ok(Pointwise {
            weight: super::init::weight(gpu, &shape, init, rng)?,
            bias: super::init::bias(gpu, cout, &shape, init, rng)?,
        })
    }

    /// x `[B, C, N]` → `[B, out, N]`.
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let s = self.weight.shape();
        let w = self.weight.reshape(&[s[0], s[1]])?;
        w.matmul(x)?.add(&self.bias.reshape(&[s[0], 1])?)
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        out.push(Named {
            name: key(prefix, "weight"),
            entry: Entry::Param(self.weight.clone()),
        });
        out.push(Named {
            name: key(prefix, "bias"),
            entry: Entry::Param(self.bias.clone()),
        });
    }
}

pub struct SelfAttention {
    query: Pointwise,
    key: Pointwise,
    value: Pointwise,
    pub gamma: Tensor,
    pub channels: usize,
}

impl SelfAttention {
    pub fn new(
        gpu: &Gpu,
        channels: usize,
        init: Init,
        rng: &mut Generator,
    ) -> Result<SelfAttention> {
        if channels < 8 {
            return Err(Error::Config(format!(
                "self-attention needs at least 8 channels, got {channels}"
            )));
        }
        let c8 = channels / 8;
        Ok(SelfAttention {
            query: Pointwise::new(gpu, channels, c8, init, rng)?,
            key: Pointwise::new(gpu, channels, c8, init, rng)?,
            value: Pointwise::new(gpu, channels, channels, init, rng)?,
            gamma: Tensor::zeros(gpu, &[1])?.with_grad()?,
            channels,
        })
    }

    /// Output and attention map.
    pub fn forward_with_map(&self, x: &Tensor) -> Result<(Tensor, AttentionMap)> {
        let [b, c, h, w] = *x.shape() else {
            return Err(Error::shape(
                "SelfAttention",
                format!("expects [B, C, H, W], got {:?}", x.shape()),
            ));
        };
        if c != self.channels {
            return Err(Error::shape(
                "SelfAttention",
                format!("expects {} channels, got {:?}", self.channels, x.shape()),
            ));
        }
        let n = h * w;
        let xf = x.reshape(&[b, c, n])?;
        let q = self.query.apply(&xf)?;
        let k = self.key.apply(&xf)?;
        let v = self.value.apply(&xf)?;
        // Largest batch chunk whose score matrix takes at most half a binding.
        let per_image = (n * n * 4) as u64;
        let chunk =
            ((x.gpu().max_binding_bytes() / 2) / per_image.max(1)).clamp(1, b as u64) as usize;
        let mut outs = Vec::new();
        let mut maps = Vec::new();
        let mut start = 0;
        while start < b {
            let len = chunk.min(b - start);
            let (qc, kc, vc) = (
                q.narrow(0, start, len)?,
                k.narrow(0, start, len)?,
                v.narrow(0, start, len)?,
            );
            let scores = qc.matmul_t(&kc, true, false)?; // [len, N, N]: query i × key j
            let attn = scores.softmax(-1)?;
            outs.push(vc.matmul_t(&attn, false, true)?); // o[c, i] = Σ_j v[c, j]·A[i, j]
            maps.push(attn);
            start += len;
        }
        let o = if outs.len() == 1 {
            outs.pop().expect("one chunk")
        } else {
            Tensor::concat(&outs.iter().collect::<Vec<_>>(), 0)?
        };
        let out = x.add(&o.reshape(&[b, c, h, w])?.mul(&self.gamma)?)?;
        Ok((
            out,
            AttentionMap {
                chunks: maps,
                size: (h, w),
            },
        ))
    }
}

impl Module for SelfAttention {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let (out, map) = self.forward_with_map(x)?;
        if let Some(maps) = ctx.attention.as_mut() {
            maps.push(map);
        }
        Ok(out)
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        self.query.collect(&key(prefix, "query_conv."), out);
        self.key.collect(&key(prefix, "key_conv."), out);
        self.value.collect(&key(prefix, "value_conv."), out);
        out.push(Named {
            name: key(prefix, "gamma"),
            entry: Entry::Param(self.gamma.clone()),
        });
    }

    fn describe(&self) -> String {
        format!("SelfAttention({})", self.channels)
    }
}
