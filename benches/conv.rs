//! Convolution benchmarks: `cargo bench --bench conv [-- FILTER ...]`.
//!
//! For every Conv and ConvTranspose layer of SPEC.md's `dcgan-28` and `dcgan-64` at batch 64
//! and of `dcgan-celeba` (rows "celeba") at its batch of 128,
//! times the three kernels a training step runs per layer: forward, input gradient (the
//! adjoint op) and weight gradient. Prints ms per call, GFLOP/s and the fraction of the
//! adapter's FMA peak (`tapegan::gpu::measure_fma_peak`). A FILTER keeps the rows whose label
//! contains it.
//!
//! FLOPs are nominal, as usually quoted: 2 · N · Cout · OH · OW · Cin · KH · KW for a conv
//! (taps that fall on padding included), and the same count of the equivalent conv for a
//! transposed conv; all three kernels of a layer do that much work.
//!
//! Timing: one warm-up call at the timed batch compiles the pipelines (kernel variants depend on
//! the batch: the implicit-GEMM tile does, so a smaller warm-up batch left a compilation in
//! the timed loop). Then calls at that batch are recorded back to back and ended
//! by `Gpu::synchronize` inside the timed region, repeated until ~0.4 s have passed (at least
//! one call); the mean per call is reported. The "CPU ms" column is this process's CPU time
//! (all threads, from /proc/self/stat) per call: on a CPU adapter it is the work done,
//! unaffected by other processes sharing the machine (wall time is not), so compare it
//! between runs on a busy machine. Equal to the thread count × ms/call on an idle one.

mod common;

use std::time::Instant;

use tapegan::ops::Conv2dGeom;
use tapegan::{Generator, Gpu, Result, Tensor};

const BATCH: usize = 64;
const TARGET_S: f64 = 0.4;

/// One layer: (ConvTranspose?, cin, cout, input size, kernel, stride, padding, bias).
#[derive(Clone, Copy)]
struct Layer(bool, usize, usize, usize, usize, usize, usize, bool);

const DCGAN_28: [Layer; 8] = [
    Layer(true, 100, 128, 1, 4, 1, 0, false),
    Layer(true, 128, 64, 4, 3, 2, 1, false),
    Layer(true, 64, 32, 7, 4, 2, 1, false),
    Layer(true, 32, 1, 14, 4, 2, 1, false),
    Layer(false, 1, 32, 28, 4, 2, 1, false),
    Layer(false, 32, 64, 14, 4, 2, 1, false),
    Layer(false, 64, 128, 7, 3, 2, 1, false),
    Layer(false, 128, 1, 4, 4, 1, 0, false),
];

const DCGAN_64: [Layer; 10] = [
    Layer(true, 20, 512, 1, 4, 1, 0, true),
    Layer(true, 512, 256, 4, 4, 2, 1, true),
    Layer(true, 256, 128, 8, 4, 2, 1, true),
    Layer(true, 128, 64, 16, 4, 2, 1, true),
    Layer(true, 64, 1, 32, 4, 2, 1, true),
    Layer(false, 1, 64, 64, 4, 2, 1, true),
    Layer(false, 64, 128, 32, 4, 2, 1, true),
    Layer(false, 128, 256, 16, 4, 2, 1, true),
    Layer(false, 256, 512, 8, 4, 2, 1, true),
    Layer(false, 512, 1, 4, 4, 1, 0, true),
];

/// dcgan-celeba's layers ("same" padding with k4 s2 is p1), at twice the batch of the others.
const DCGAN_CELEBA: [Layer; 8] = [
    Layer(true, 1024, 512, 4, 4, 2, 1, true),
    Layer(true, 512, 256, 8, 4, 2, 1, true),
    Layer(true, 256, 128, 16, 4, 2, 1, true),
    Layer(true, 128, 3, 32, 4, 2, 1, true),
    Layer(false, 3, 64, 64, 4, 2, 1, true),
    Layer(false, 64, 128, 32, 4, 2, 1, true),
    Layer(false, 128, 256, 16, 4, 2, 1, true),
    Layer(false, 256, 1, 8, 4, 2, 1, true),
];
const CELEBA_BATCH: usize = 128;

/// The tensors of one layer at batch `n`: input, weight, bias, output gradient.
struct Operands {
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
    g: Tensor,
}

impl Layer {
    fn geom(&self) -> Conv2dGeom {
        Conv2dGeom::new(self.5, self.6)
    }

    fn out_size(&self) -> usize {
        let k = [self.4; 2];
        let s = [self.3; 2];
        let out = if self.0 {
            self.geom().conv_transpose_output_size(s, k)
        } else {
            self.geom().conv_output_size(s, k)
        };
        out.expect("SPEC layer")[0]
    }

    fn operands(&self, gpu: &Gpu, rng: &mut Generator, n: usize) -> Result<Operands> {
        let Layer(t, ci, co, hw, k, ..) = *self;
        let o = self.out_size();
        let ws = if t { [ci, co, k, k] } else { [co, ci, k, k] };
        Ok(Operands {
            x: rng.normal(gpu, &[n, ci, hw, hw], 0.0, 1.0)?,
            w: rng.normal(gpu, &ws, 0.0, 0.02)?,
            b: if self.7 {
                Some(rng.normal(gpu, &[co], 0.0, 0.02)?)
            } else {
                None
            },
            g: rng.normal(gpu, &[n, co, o, o], 0.0, 1.0)?,
        })
    }

    /// Nominal FLOPs of one kernel of this layer at batch `n`.
    fn flops(&self, n: usize) -> f64 {
        let Layer(t, ci, co, hw, k, ..) = *self;
        let o = self.out_size();
        let small = if t { hw } else { o };
        2.0 * (n * ci * co * small * small * k * k) as f64
    }

    fn label(&self) -> String {
        let Layer(t, ci, co, hw, k, s, p, _) = *self;
        let kind = if t { "ConvT" } else { "Conv" };
        format!("{kind}({ci}→{co}, k{k} s{s} p{p}) {hw}→{}", self.out_size())
    }

    /// Runs kernel `which` (0 forward, 1 input gradient, 2 weight gradient) once.
    fn call(&self, which: usize, o: &Operands) -> Result<Tensor> {
        let g = self.geom();
        let k = [self.4; 2];
        match (self.0, which) {
            (false, 0) => o.x.conv2d(&o.w, o.b.as_ref(), &g),
            (false, 1) => o.g.conv_transpose2d(&o.w, None, &g),
            (false, _) => o.x.conv2d_weight_grad(&o.g, &g, k),
            (true, 0) => o.x.conv_transpose2d(&o.w, o.b.as_ref(), &g),
            (true, 1) => o.g.conv2d(&o.w, None, &g),
            (true, _) => o.g.conv2d_weight_grad(&o.x, &g, k),
        }
    }
}

fn main() -> Result<()> {
    let common::Bench { gpu, peak, filters } = common::Bench::new()?;
    println!("FMA peak: {peak:.1} GFLOP/s; batch {BATCH} (celeba {CELEBA_BATCH}); nominal FLOPs\n");
    println!(
        "{:<8} {:<34} {:<12} {:>10} {:>9} {:>7} {:>9}",
        "model", "layer", "kernel", "ms/call", "GFLOP/s", "% peak", "CPU ms"
    );
    let mut rng = Generator::new(7);
    let start = Instant::now();
    for (model, layers, batch) in [
        ("dcgan-28", &DCGAN_28[..], BATCH),
        ("dcgan-64", &DCGAN_64[..], BATCH),
        ("celeba", &DCGAN_CELEBA[..], CELEBA_BATCH),
    ] {
        for layer in layers {
            let label = layer.label();
            for (which, kernel) in ["forward", "input grad", "weight grad"].iter().enumerate() {
                let row = format!("{model} {label} {kernel}");
                if !common::selected(&filters, &row) {
                    continue;
                }
                let ops = layer.operands(&gpu, &mut rng, batch)?;
                drop(layer.call(which, &ops)?);
                let t = common::time_calls(&gpu, TARGET_S, &mut || {
                    drop(layer.call(which, &ops)?);
                    Ok(())
                })?;
                let (s, cpu) = (t.secs, t.cpu);
                let gflops = layer.flops(batch) / s / 1e9;
                println!(
                    "{model:<8} {label:<34} {kernel:<12} {:>10.2} {gflops:>9.2} {:>6.1}% {:>9.1}",
                    s * 1e3,
                    100.0 * gflops / peak,
                    cpu * 1e3
                );
            }
        }
    }
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
