//! 2-D convolution layers: `Conv2d` (weight `[out, in, kh, kw]`) and `ConvTranspose2d`
//! (weight `[in, out, kh, kw]`), PyTorch layouts, optional bias, optional spectral norm.

use super::init::{self, Init};
use super::linear::Weight;
use super::{key, Activation, Ctx, Entry, Module, Named};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::ops::{Conv2dGeom, Generator, Padding};
use crate::tensor::Tensor;

/// Geometry of a square-kernel layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    /// Transposed convolution only.
    pub output_padding: usize,
    pub bias: bool,
}

impl ConvSpec {
    /// k×k kernel, stride s, symmetric padding p, with bias.
    pub fn new(cin: usize, cout: usize, kernel: usize, stride: usize, padding: usize) -> ConvSpec {
        ConvSpec {
            cin,
            cout,
            kernel,
            stride,
            padding: Padding::Explicit([padding, padding]),
            output_padding: 0,
            bias: true,
        }
    }

    /// TensorFlow/Keras "same" padding.
    pub fn same(cin: usize, cout: usize, kernel: usize, stride: usize) -> ConvSpec {
        ConvSpec {
            padding: Padding::Same,
            ..ConvSpec::new(cin, cout, kernel, stride, 0)
        }
    }

    pub fn no_bias(mut self) -> ConvSpec {
        self.bias = false;
        self
    }

    fn geom(&self) -> Conv2dGeom {
        Conv2dGeom {
            stride: [self.stride, self.stride],
            padding: self.padding,
            output_padding: [self.output_padding, self.output_padding],
        }
    }

    fn describe(&self) -> String {
        let pad = match self.padding {
            Padding::Explicit([p, _]) => format!("p{p}"),
            Padding::Same => "same".into(),
        };
        format!(
            "{} → {}, k{} s{} {pad}{}",
            self.cin,
            self.cout,
            self.kernel,
            self.stride,
            if self.bias { "" } else { ", no bias" }
        )
    }
}

/// `nn.Conv2d`.
pub struct Conv2d {
    pub weight: Weight,
    pub bias: Option<Tensor>,
    pub spec: ConvSpec,
}

/// `nn.ConvTranspose2d`.
pub struct ConvTranspose2d {
    pub weight: Weight,
    pub bias: Option<Tensor>,
    pub spec: ConvSpec,
}

fn make(
    gpu: &Gpu,
    shape: [usize; 4],
    n_bias: usize,
    spec: &ConvSpec,
    init_kind: Init,
    rng: &mut Generator,
) -> Result<(Weight, Option<Tensor>)> {
    let w = init::weight(gpu, &shape, init_kind, rng)?;
    let b = if spec.bias {
        Some(init::bias(gpu, n_bias, &shape, init_kind, rng)?)
    } else {
        None
    };
    Ok((Weight::Plain(w), b))
}

fn collect(weight: &Weight, bias: &Option<Tensor>, prefix: &str, out: &mut Vec<Named>) {
    weight.collect(prefix, out);
    if let Some(b) = bias {
        out.push(Named {
            name: key(prefix, "bias"),
            entry: Entry::Param(b.clone()),
        });
    }
}

impl Conv2d {
    pub fn new(gpu: &Gpu, spec: ConvSpec, init_kind: Init, rng: &mut Generator) -> Result<Conv2d> {
        let k = spec.kernel;
        let (weight, bias) = make(
            gpu,
            [spec.cout, spec.cin, k, k],
            spec.cout,
            &spec,
            init_kind,
            rng,
        )?;
        Ok(Conv2d { weight, bias, spec })
    }

    /// Applies spectral normalisation to the weight (PyTorch's dim 0).
    pub fn spectral_norm(mut self, rng: &mut Generator) -> Result<Conv2d> {
        self.weight = self.weight.spectral(0, rng)?;
        Ok(self)
    }
}

impl ConvTranspose2d {
    pub fn new(
        gpu: &Gpu,
        spec: ConvSpec,
        init_kind: Init,
        rng: &mut Generator,
    ) -> Result<ConvTranspose2d> {
        let k = spec.kernel;
        let (weight, bias) = make(
            gpu,
            [spec.cin, spec.cout, k, k],
            spec.cout,
            &spec,
            init_kind,
            rng,
        )?;
        Ok(ConvTranspose2d { weight, bias, spec })
    }

    /// Applies spectral normalisation to the weight (PyTorch's dim 1 for transposed convs).
    pub fn spectral_norm(mut self, rng: &mut Generator) -> Result<ConvTranspose2d> {
        self.weight = self.weight.spectral(1, rng)?;
        Ok(self)
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let w = self.weight.get(ctx)?;
        x.conv2d(&w, self.bias.as_ref(), &self.spec.geom())
    }

    /// The conv with a ReLU, leaky ReLU or ELU applied in its kernel's store
    /// ([`Tensor::conv2d_leaky_relu`]): the critics' first layers save a pass over their
    /// largest activation.
    fn forward_activated(
        &self,
        x: &Tensor,
        ctx: &mut Ctx,
        act: Activation,
    ) -> Option<Result<Tensor>> {
        let fused = act.fused()?;
        Some(
            self.weight
                .get(ctx)
                .and_then(|w| x.conv2d_fused(&w, self.bias.as_ref(), &self.spec.geom(), fused)),
        )
    }

    fn per_sample(&self) -> bool {
        self.weight.is_plain()
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        collect(&self.weight, &self.bias, prefix, out)
    }

    fn describe(&self) -> String {
        format!("Conv2d({})", self.spec.describe())
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Result<Tensor> {
        let w = self.weight.get(ctx)?;
        x.conv_transpose2d(&w, self.bias.as_ref(), &self.spec.geom())
    }

    fn per_sample(&self) -> bool {
        self.weight.is_plain()
    }

    fn collect(&self, prefix: &str, out: &mut Vec<Named>) {
        collect(&self.weight, &self.bias, prefix, out)
    }

    fn describe(&self) -> String {
        format!("ConvTranspose2d({})", self.spec.describe())
    }
}
