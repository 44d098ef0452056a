//! Layer benchmarks: `cargo bench --bench layers [-- FILTER ...]`.
//!
//! Times the `tapegan::nn` layers and the optimizer step of the SPEC.md GANs at their training
//! shapes, as a training step runs them (training mode, inputs and parameters that require
//! grad, so the tape is recorded):
//! - BatchNorm (batch statistics, affine, running-statistics update) at every normalised
//!   activation of `dcgan-28` and `dcgan-64` at batch 64, forward and forward + backward (the
//!   gradients of x, weight and bias for a given output gradient), and followed by a ReLU as
//!   two ops and as the fused op a `Sequential` runs; InstanceNorm forward at the `wgan-gp-28`
//!   shape.
//! - SelfAttention (SPEC §9) at SAGAN's generator shapes: 128 channels at 16×16 (N = 256,
//!   batch 64) and 64 channels at 32×32 (N = 1024, batch 8, as the label says), forward and
//!   forward + backward (gradients of x and every parameter).
//! - Spectral norm of SAGAN's discriminator weights: one power-iteration step and W/σ(W).
//! - One Adam step over every parameter of the `dcgan-28` generator and discriminator.
//!
//! Prints ms per call, throughput and dispatches per call, after the adapter and its FMA peak
//! (`tapegan::gpu::measure_fma_peak`). A FILTER keeps the rows whose "layer pass" text
//! contains it.
//!
//! Work is nominal. Memory-bound rows report GB/s of compulsory traffic (each tensor read or
//! written once, per-channel vectors and scalars ignored): norm forward 8 bytes per element
//! (x in, y out), forward + backward 20 (adds x and dy in, dx out); spectral norm 8 per weight
//! element (W in, W/σ out); Adam 28 per parameter (parameter, gradient and both moments in;
//! parameter and moments out). Self-attention reports GFLOP/s and the fraction of the FMA
//! peak: per image, 2·N·C·(2·C/8 + C) for the three 1×1 convs, 2·N²·C/8 for the scores and
//! 2·N²·C for value·Aᵀ (softmax, bias and residual not counted); backward counts twice that.
//! A baseline row times `Tensor::neg` (8 bytes per element) at the largest norm shape: the
//! bandwidth of a plain elementwise map, to compare the memory-bound rows with.
//!
//! Timing: one warm-up call compiles the pipelines and fills the buffer pool. Then calls are
//! recorded back to back and ended by `Gpu::synchronize` inside the timed region, repeated
//! (doubling the count) until ~0.4 s have passed (at least one call); the mean per call is
//! reported. "CPU ms" is this process's CPU time (all threads, from /proc/self/stat) per
//! call: on a CPU adapter it is the work done, unaffected by other processes sharing the
//! machine (wall time is not).

mod common;

use common::{Bench, Work};
use tapegan::nn::{
    self, Act, Activation, BatchNorm, Ctx, Init, InstanceNorm, Module, NormConfig, SelfAttention,
    Sequential, SpectralNorm,
};
use tapegan::optim::{Algorithm, OptimConfig, Optimizer};
use tapegan::{grad_with, Generator, GradOptions, Result, Tensor};

const TARGET_S: f64 = 0.4;

impl Bench {
    /// Times `f` (one call = one pass of the layer under test) and prints a row.
    fn row(
        &self,
        layer: &str,
        pass: &str,
        work: Work,
        f: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        let label = format!("{layer} {pass}");
        if !common::selected(&self.filters, &label) {
            return Ok(());
        }
        f()?;
        let t = common::time_calls(&self.gpu, TARGET_S, f)?;
        let (s, cpu, disp) = (t.secs, t.cpu, t.dispatches);
        let (rate, unit, pct) = work.rate(s, self.peak);
        println!(
            "{layer:<44} {pass:<8} {:>9.2} {rate:>8.2} {unit:<7} {pct:>6} {disp:>6.1} {:>8.1}",
            s * 1e3,
            cpu * 1e3
        );
        Ok(())
    }
}

fn dims(shape: &[usize]) -> String {
    let s: Vec<String> = shape.iter().map(usize::to_string).collect();
    s.join("×")
}

/// Gradients of `y` (with output gradient `dy`) with respect to `wrt`, dropped at once.
fn backward(y: &Tensor, dy: &Tensor, wrt: &[&Tensor]) -> Result<()> {
    let opts = GradOptions {
        grad_outputs: Some(vec![dy.clone()]),
        ..GradOptions::default()
    };
    drop(grad_with(&[y], wrt, &opts)?);
    Ok(())
}

fn main() -> Result<()> {
    let b = Bench::new()?;
    let (gpu, peak) = (b.gpu.clone(), b.peak);
    println!("FMA peak: {peak:.1} GFLOP/s; nominal work (see the module docs)\n");
    println!(
        "{:<44} {:<8} {:>9} {:>16} {:>6} {:>6} {:>8}",
        "layer", "pass", "ms/call", "throughput", "% peak", "disp", "CPU ms"
    );
    let g = &gpu;
    let mut rng = Generator::new(7);
    let mut ctx_rng = Generator::new(8);
    let mut ctx = Ctx::train(&mut ctx_rng);

    // Normalisation: the activations of dcgan-28 (G and D share these shapes) and dcgan-64's G.
    let shapes: [(&str, [usize; 4]); 7] = [
        ("dcgan-28", [64, 128, 4, 4]),
        ("dcgan-28", [64, 64, 7, 7]),
        ("dcgan-28", [64, 32, 14, 14]),
        ("dcgan-64", [64, 512, 4, 4]),
        ("dcgan-64", [64, 256, 8, 8]),
        ("dcgan-64", [64, 128, 16, 16]),
        ("dcgan-64", [64, 64, 32, 32]),
    ];
    for (model, shape) in shapes {
        let n = shape.iter().product::<usize>() as f64;
        let x = rng.normal(g, &shape, 0.0, 1.0)?.with_grad()?;
        let dy = rng.normal(g, &shape, 0.0, 1.0)?;
        let bn = BatchNorm::new_normal(g, shape[1], NormConfig::pytorch(), 0.02, &mut rng)?;
        let layer = format!("BatchNorm {} {model}", dims(&shape));
        b.row(&layer, "fwd", Work::Bytes(8.0 * n), &mut || {
            drop(bn.forward(&x, &mut ctx)?);
            Ok(())
        })?;
        b.row(&layer, "fwd+bwd", Work::Bytes(20.0 * n), &mut || {
            let y = bn.forward(&x, &mut ctx)?;
            backward(&y, &dy, &[&x, &bn.weight, &bn.bias])
        })?;
        // Followed by a ReLU: as two ops, and as the fused op a Sequential runs (same nominal
        // traffic, so the two GB/s figures compare directly).
        let layer = format!("BN → ReLU, 2 ops {} {model}", dims(&shape));
        b.row(&layer, "fwd+bwd", Work::Bytes(20.0 * n), &mut || {
            let y = bn.forward(&x, &mut ctx)?.relu()?;
            backward(&y, &dy, &[&x, &bn.weight, &bn.bias])
        })?;
        let fused = Sequential::new()
            .layer(BatchNorm::new_normal(
                g,
                shape[1],
                NormConfig::pytorch(),
                0.02,
                &mut rng,
            )?)
            .layer(Act(Activation::Relu));
        let params = nn::parameters(&fused);
        let layer = format!("BN → ReLU, fused {} {model}", dims(&shape));
        b.row(&layer, "fwd+bwd", Work::Bytes(20.0 * n), &mut || {
            let y = fused.forward(&x, &mut ctx)?;
            backward(&y, &dy, &[&x, &params[0], &params[1]])
        })?;
    }
    // Baseline for the memory-bound rows: one elementwise map (x in, y out) at the largest shape.
    let shape = [64, 64, 32, 32];
    let x = rng.normal(g, &shape, 0.0, 1.0)?;
    let n = shape.iter().product::<usize>() as f64;
    let layer = format!("baseline: Tensor::neg {}", dims(&shape));
    b.row(&layer, "fwd", Work::Bytes(8.0 * n), &mut || {
        drop(x.neg()?);
        Ok(())
    })?;
    let shape = [64, 64, 7, 7];
    let x = rng.normal(g, &shape, 0.0, 1.0)?.with_grad()?;
    let inorm = InstanceNorm::new(shape[1]);
    let n = shape.iter().product::<usize>() as f64;
    let layer = format!("InstanceNorm {} wgan-gp-28", dims(&shape));
    b.row(&layer, "fwd", Work::Bytes(8.0 * n), &mut || {
        drop(inorm.forward(&x, &mut ctx)?);
        Ok(())
    })?;

    // Self-attention at SAGAN's generator shapes: (batch, channels, side).
    for (batch, c, side) in [(64usize, 128usize, 16usize), (8, 64, 32)] {
        let shape = [batch, c, side, side];
        let x = rng.normal(g, &shape, 0.0, 1.0)?.with_grad()?;
        let dy = rng.normal(g, &shape, 0.0, 1.0)?;
        let attn = SelfAttention::new(g, c, Init::Normal(0.02), &mut rng)?;
        let params = nn::parameters(&attn);
        let mut wrt: Vec<&Tensor> = vec![&x];
        wrt.extend(&params);
        let np = side * side;
        let per_image = 2 * np * c * (2 * (c / 8) + c) + 2 * np * np * (c / 8) + 2 * np * np * c;
        let fl = (batch * per_image) as f64;
        let layer = format!("SelfAttention N={np} {} (batch {batch})", dims(&shape));
        b.row(&layer, "fwd", Work::Flops(fl), &mut || {
            drop(attn.forward(&x, &mut ctx)?);
            Ok(())
        })?;
        b.row(&layer, "fwd+bwd", Work::Flops(3.0 * fl), &mut || {
            let y = attn.forward(&x, &mut ctx)?;
            backward(&y, &dy, &wrt)
        })?;
    }

    // Spectral norm of SAGAN D's Conv(256→512) and Conv(128→256) weights.
    for shape in [[512usize, 256, 4, 4], [256, 128, 4, 4]] {
        let w = rng.normal(g, &shape, 0.0, 0.02)?.with_grad()?;
        let sn = SpectralNorm::new(w, 0, &mut rng)?;
        let n = shape.iter().product::<usize>() as f64;
        let layer = format!("SpectralNorm W {} sagan-64 D", dims(&shape));
        b.row(&layer, "fwd", Work::Bytes(8.0 * n), &mut || {
            drop(sn.weight(true)?);
            Ok(())
        })?;
    }

    // Adam over every parameter of dcgan-28's G and D, with fixed random gradients.
    let cfg = tapegan::models::find("dcgan-28")?.config.clone();
    let (g_net, d_net) = tapegan::models::build(g, &cfg, &mut rng)?;
    for (name, net, lr) in [("G", &g_net, cfg.lr_g), ("D", &d_net, cfg.lr_d)] {
        let params = nn::named_parameters(net);
        let n: usize = params.iter().map(|(_, p)| p.numel()).sum();
        let tensors = params.len();
        let grads = params
            .iter()
            .map(|(_, p)| rng.normal(g, p.shape(), 0.0, 1e-3))
            .collect::<Result<Vec<_>>>()?;
        let mut opt = Optimizer::new(
            params,
            OptimConfig::new(Algorithm::adam(cfg.beta1, cfg.beta2), lr),
        )?;
        let layer = format!("Adam dcgan-28 {name} ({n} params, {tensors} tensors)");
        b.row(&layer, "step", Work::Bytes(28.0 * n as f64), &mut || {
            opt.step(&grads)
        })?;
    }
    Ok(())
}
