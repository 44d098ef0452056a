//! One training iteration (one generator update and its discriminator updates), in the three
//! shapes the presets use:
//! - shared forward (Keras tutorials): one forward of G and D, both updates from it;
//! - separate (PyTorch tutorials): a D step on detached fakes, then a G step on fresh noise;
//! - critic (WGAN): `n_critic` critic steps (weight clipping or gradient penalty), then a G step.
//!
//! Nothing here reads back from the GPU: losses stay tensors until the trainer logs them.

use super::config::{LossKind, Noise, TrainConfig};
use super::losses::{d_loss, g_loss, softmax_accuracies, ClassLabels, Targets};
use super::penalty::gradient_penalty;
use crate::autograd::{grad, no_grad};
use crate::data::{Batch, DataLoader};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::models::Net;
use crate::nn::{parameters, Ctx, Module};
use crate::ops::Generator;
use crate::optim::Optimizer;
use crate::tensor::Tensor;

/// Losses of one iteration (scalars on the GPU) and extra logged values.
pub struct Losses {
    pub d: Tensor,
    pub g: Tensor,
    pub extras: Vec<(&'static str, Tensor)>,
}

/// The two networks, their optimizers and the constants a step needs.
pub struct Gan {
    pub g: Net,
    pub d: Net,
    pub opt_g: Optimizer,
    pub opt_d: Optimizer,
    pub cfg: TrainConfig,
    ones: Tensor,
    zeros: Tensor,
    classes: ClassLabels,
}

/// Names of the extra logged values for a configuration, in CSV order.
pub fn extra_names(cfg: &TrainConfig) -> Vec<&'static str> {
    match cfg.loss {
        LossKind::SoftmaxCe => vec!["d_acc", "g_acc"],
        LossKind::Wgan => vec!["w_dist"],
        LossKind::WganGp => vec!["w_dist", "gp", "grad_norm"],
        LossKind::Bce | LossKind::Hinge => vec!["d_real", "d_fake"],
    }
}

/// D on a real and a fake batch (both conditioned on `labels` when given). Where D computes
/// each sample alone ([`Module::per_sample`]), one forward on the two joined: half the
/// dispatches, and each parameter's gradient comes from one product instead of the sum of
/// two. Otherwise two forwards, so that batch norm normalises each batch with its own
/// statistics and spectral norm steps once per batch, as the tutorials do; the fake batch
/// first where `fake_first` (the order sets batch norm's running statistics).
pub fn real_and_fake(
    d: &Net,
    real: &Tensor,
    fake: &Tensor,
    labels: Option<&Tensor>,
    ctx: &mut Ctx,
    fake_first: bool,
) -> Result<(Tensor, Tensor)> {
    if !d.per_sample() {
        if fake_first {
            let d_fake = d.forward(fake, labels, ctx)?;
            return Ok((d.forward(real, labels, ctx)?, d_fake));
        }
        let d_real = d.forward(real, labels, ctx)?;
        return Ok((d_real, d.forward(fake, labels, ctx)?));
    }
    let (real, fake) = (d.samples(real)?, d.samples(fake)?);
    let n_real = real.shape()[0];
    let joined = Tensor::concat(&[&real, &fake], 0)?;
    let labels = labels.map(|l| Tensor::concat(&[l, l], 0)).transpose()?;
    let out = d.forward(&joined, labels.as_ref(), ctx)?;
    let n_fake = out.shape()[0] - n_real;
    Ok((out.narrow(0, 0, n_real)?, out.narrow(0, n_real, n_fake)?))
}

impl Gan {
    pub fn new(
        gpu: &Gpu,
        g: Net,
        d: Net,
        opt_g: Optimizer,
        opt_d: Optimizer,
        cfg: &TrainConfig,
    ) -> Result<Gan> {
        let b = cfg.batch;
        Ok(Gan {
            g,
            d,
            opt_g,
            opt_d,
            cfg: cfg.clone(),
            ones: Tensor::ones(gpu, &[b, 1])?,
            zeros: Tensor::zeros(gpu, &[b, 1])?,
            classes: ClassLabels {
                ones: Tensor::full_u32(gpu, &[b], 1)?,
                zeros: Tensor::full_u32(gpu, &[b], 0)?,
            },
        })
    }

    /// A batch of generator input noise.
    pub fn noise(&self, gpu: &Gpu, rng: &mut Generator, n: usize) -> Result<Tensor> {
        match self.cfg.noise {
            Noise::Uniform => rng.uniform(gpu, &[n, self.cfg.z_dim], -1.0, 1.0),
            Noise::Normal => rng.normal(gpu, &[n, self.cfg.z_dim], 0.0, 1.0),
        }
    }

    /// Uniformly drawn class labels for conditional generation, or None.
    fn random_labels(&self, gpu: &Gpu, rng: &mut Generator, n: usize) -> Result<Option<Tensor>> {
        let c = self.g.classes();
        if c == 0 {
            return Ok(None);
        }
        // Clamp guards the (measure-zero) draw of exactly `c` after rounding.
        Ok(Some(
            rng.uniform(gpu, &[n], 0.0, c as f32)?
                .clamp(0.0, c as f32 - 0.5)?
                .to_u32()?,
        ))
    }

    /// Labels for the discriminator, when the models are conditional.
    fn cond<'a>(&self, batch: &'a Batch) -> Option<&'a Tensor> {
        if self.d.classes() > 0 {
            batch.labels.as_ref()
        } else {
            None
        }
    }

    /// Runs one iteration.
    pub fn iteration(&mut self, loader: &mut DataLoader, rng: &mut Generator) -> Result<Losses> {
        match (self.cfg.loss, self.cfg.shared_forward) {
            (loss, _) if loss.trains_a_critic() => self.critic_iteration(loader, rng),
            (_, true) => self.shared_iteration(loader, rng),
            (_, false) => self.separate_iteration(loader, rng),
        }
    }

    fn targets(&self, gpu: &Gpu, rng: &mut Generator) -> Result<Targets> {
        if !self.cfg.label_noise {
            return Ok(Targets {
                real: self.ones.clone(),
                fake: self.zeros.clone(),
            });
        }
        let b = self.cfg.batch;
        Ok(Targets {
            real: rng.uniform(gpu, &[b, 1], 0.5, 1.5)?,
            fake: rng.uniform(gpu, &[b, 1], 0.0, 0.25)?,
        })
    }

    fn extras_standard(
        &self,
        d_real: &Tensor,
        d_fake: &Tensor,
    ) -> Result<Vec<(&'static str, Tensor)>> {
        if self.cfg.loss == LossKind::SoftmaxCe {
            let (da, ga) = no_grad(|| softmax_accuracies(d_real, d_fake, &self.classes))?;
            return Ok(vec![("d_acc", da), ("g_acc", ga)]);
        }
        Ok(vec![
            ("d_real", d_real.detach().mean_all()?),
            ("d_fake", d_fake.detach().mean_all()?),
        ])
    }

    fn shared_iteration(&mut self, loader: &mut DataLoader, rng: &mut Generator) -> Result<Losses> {
        let batch = loader.next_batch()?;
        let gpu = batch.x.gpu().clone();
        let targets = self.targets(&gpu, rng)?;
        let z = self.noise(&gpu, rng, self.cfg.batch)?;
        let mut ctx = Ctx::train(rng);
        let fake = self.g.forward(&z, None, &mut ctx)?;
        let (d_real, d_fake) = real_and_fake(&self.d, &batch.x, &fake, None, &mut ctx, true)?;
        let ld = d_loss(self.cfg.loss, &d_real, &d_fake, &targets, &self.classes)?;
        let lg = g_loss(self.cfg.loss, &d_fake, &self.ones, &self.classes)?;
        let extras = self.extras_standard(&d_real, &d_fake)?;
        let gd = grad(
            &[&ld],
            &parameters(&self.d).iter().collect::<Vec<_>>(),
            false,
        )?;
        let gg = grad(
            &[&lg],
            &parameters(&self.g).iter().collect::<Vec<_>>(),
            false,
        )?;
        self.opt_d.step(&gd)?;
        self.opt_g.step(&gg)?;
        Ok(Losses {
            d: ld.detach(),
            g: lg.detach(),
            extras,
        })
    }

    fn separate_iteration(
        &mut self,
        loader: &mut DataLoader,
        rng: &mut Generator,
    ) -> Result<Losses> {
        let batch = loader.next_batch()?;
        let gpu = batch.x.gpu().clone();
        let targets = self.targets(&gpu, rng)?;
        let z = self.noise(&gpu, rng, self.cfg.batch)?;
        let mut ctx = Ctx::train(rng);
        let fake = no_grad(|| self.g.forward(&z, None, &mut ctx))?;
        let (d_real, d_fake) = real_and_fake(&self.d, &batch.x, &fake, None, &mut ctx, false)?;
        let ld = d_loss(self.cfg.loss, &d_real, &d_fake, &targets, &self.classes)?;
        let extras = self.extras_standard(&d_real, &d_fake)?;
        let gd = grad(
            &[&ld],
            &parameters(&self.d).iter().collect::<Vec<_>>(),
            false,
        )?;
        self.opt_d.step(&gd)?;

        let z = self.noise(&gpu, ctx.rng, self.cfg.batch)?;
        let fake = self.g.forward(&z, None, &mut ctx)?;
        let d_fake = self.d.forward(&fake, None, &mut ctx)?;
        let lg = g_loss(self.cfg.loss, &d_fake, &self.ones, &self.classes)?;
        let gg = grad(
            &[&lg],
            &parameters(&self.g).iter().collect::<Vec<_>>(),
            false,
        )?;
        self.opt_g.step(&gg)?;
        Ok(Losses {
            d: ld.detach(),
            g: lg.detach(),
            extras,
        })
    }

    fn critic_iteration(&mut self, loader: &mut DataLoader, rng: &mut Generator) -> Result<Losses> {
        let mut batch = loader.next_batch()?;
        let gpu = batch.x.gpu().clone();
        let d_params = parameters(&self.d);
        let d_refs: Vec<&Tensor> = d_params.iter().collect();
        let mut d_total: Option<Tensor> = None;
        let mut last: Vec<(&'static str, Tensor)> = Vec::new();
        for i in 0..self.cfg.n_critic {
            if i > 0 && !self.cfg.same_real_batch {
                batch = loader.next_batch()?;
            }
            let labels = self.cond(&batch).cloned();
            let z = self.noise(&gpu, rng, self.cfg.batch)?;
            let mut ctx = Ctx::train(rng);
            let fake = no_grad(|| self.g.forward(&z, labels.as_ref(), &mut ctx))?;
            let (d_real, d_fake) =
                real_and_fake(&self.d, &batch.x, &fake, labels.as_ref(), &mut ctx, false)?;
            let w_dist = d_real
                .detach()
                .mean_all()?
                .sub(&d_fake.detach().mean_all()?)?;
            let mut loss = d_fake.mean_all()?.sub(&d_real.mean_all()?)?;
            last = vec![("w_dist", w_dist)];
            if self.cfg.loss == LossKind::WganGp {
                let (gp, norm) = gradient_penalty(
                    &self.d,
                    &batch.x,
                    &fake,
                    labels.as_ref(),
                    self.cfg.gp_epsilon,
                    self.cfg.gp_lambda,
                    &mut ctx,
                )?;
                loss = loss.add(&gp)?;
                last.push(("gp", gp.detach()));
                last.push(("grad_norm", norm));
            }
            let grads = grad(&[&loss], &d_refs, false)?;
            self.opt_d.step(&grads)?;
            let l = loss.detach();
            d_total = Some(match d_total {
                Some(t) => t.add(&l)?,
                None => l,
            });
        }
        let d_mean = d_total
            .expect("n_critic ≥ 1")
            .mul_scalar(1.0 / self.cfg.n_critic as f32)?;

        let z = self.noise(&gpu, rng, self.cfg.batch)?;
        let labels = self.random_labels(&gpu, rng, self.cfg.batch)?;
        let mut ctx = Ctx::train(rng);
        let fake = self.g.forward(&z, labels.as_ref(), &mut ctx)?;
        let d_fake = self.d.forward(&fake, labels.as_ref(), &mut ctx)?;
        let lg = d_fake.mean_all()?.neg()?;
        let gg = grad(
            &[&lg],
            &parameters(&self.g).iter().collect::<Vec<_>>(),
            false,
        )?;
        self.opt_g.step(&gg)?;
        Ok(Losses {
            d: d_mean,
            g: lg.detach(),
            extras: last,
        })
    }
}
