//! Sampling from a finished (or checkpointed) run: `tapegan sample`.

use std::path::Path;

use super::checkpoint::{self, GENERATOR};
use super::config::TrainConfig;
use super::outputs::{self, generate};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::{images, npy};
use crate::models::Net;
use crate::ops::Generator;
use crate::tensor::Tensor;

/// Random stream of `tapegan sample` noise (so `--seed S` means the same noise in every run).
const SAMPLE_CLI_STREAM: u64 = 0x434C_4953;

/// The run's configuration and its generator with the checkpointed weights.
pub fn load_generator(gpu: &Gpu, run_dir: &Path) -> Result<(TrainConfig, Net)> {
    let cfg = TrainConfig::read_run(run_dir)?;
    crate::models::find(&cfg.preset)?;
    let mut init = Generator::new(cfg.seed);
    let (g, _) = crate::models::build(gpu, &cfg, &mut init)?;
    let dir = checkpoint::checkpoint_dir(run_dir)?;
    checkpoint::load_net(&dir, GENERATOR, &g, &cfg.preset)?;
    Ok((cfg, g))
}

/// Samples the generator makes per forward pass of `tapegan sample`: any `--n` is drawn in
/// chunks, so its size is bounded by host memory, not by the adapter's largest binding.
/// (Generators run in evaluation mode, so each sample depends on its own noise only.)
const CHUNK: usize = 512;

/// Samples (`[n, …]`), the noise that made them and their labels (conditional models), on
/// the host.
pub struct Drawn {
    pub shape: Vec<usize>,
    pub samples: Vec<f32>,
    pub z_shape: Vec<usize>,
    pub z: Vec<f32>,
    pub labels: Option<Vec<u32>>,
}

/// Draws `n` samples with noise from `seed`; `label` asks a conditional model for one class
/// (default: every class in order, as evenly as n allows).
pub fn draw(
    gpu: &Gpu,
    cfg: &TrainConfig,
    g: &Net,
    n: usize,
    label: Option<u32>,
    seed: u64,
) -> Result<Drawn> {
    if n == 0 {
        return Err(Error::Config("--n must be at least 1".into()));
    }
    let classes = g.classes();
    let labels: Option<Vec<u32>> = match (classes, label) {
        (0, Some(_)) => {
            return Err(Error::Config(format!(
                "preset {} is not conditional: --label does not apply",
                cfg.preset
            )))
        }
        (0, None) => None,
        (c, Some(l)) if l as usize >= c => {
            return Err(Error::Config(format!(
                "--label {l} is out of range: this model knows classes 0..{}",
                c - 1
            )))
        }
        (_, Some(l)) => Some(vec![l; n]),
        // Every class in order, as evenly as n allows (counts differ by at most one; n / c
        // each when c divides n).
        (c, None) => Some((0..n).map(|i| (i * c / n) as u32).collect()),
    };
    // The noise is drawn chunk by chunk from one stream: a chunk's CHUNK·z_dim values are a
    // whole number of the generator's 4-value blocks, so the values are those of one draw.
    let mut rng = Generator::new(seed).fork(SAMPLE_CLI_STREAM);
    let mut shape = vec![n];
    // Reserved whole: growing by doubling would hold twice the samples for a moment.
    let mut samples = Vec::with_capacity(n * g.out_shape.iter().product::<usize>());
    let mut z = Vec::with_capacity(n * cfg.z_dim);
    for start in (0..n).step_by(CHUNK) {
        let len = CHUNK.min(n - start);
        let zc = outputs::noise(gpu, cfg, &mut rng, len)?;
        let lc = match &labels {
            Some(l) => Some(Tensor::from_u32(gpu, &l[start..start + len], &[len])?),
            None => None,
        };
        let (x, _) = generate(g, &zc, lc.as_ref(), false)?;
        shape.truncate(1);
        shape.extend_from_slice(&x.shape()[1..]);
        let [xs, zs] =
            <[Vec<f32>; 2]>::try_from(Tensor::read_all(&[&x, &zc])?).expect("two tensors read");
        samples.extend(xs);
        z.extend(zs);
    }
    if !samples.iter().all(|v| v.is_finite()) {
        return Err(non_finite_samples());
    }
    Ok(Drawn {
        shape,
        samples,
        z_shape: vec![n, cfg.z_dim],
        z,
        labels,
    })
}

/// The error for samples with NaN or infinite values: scores or files of them would look
/// like results.
pub(crate) fn non_finite_samples() -> Error {
    Error::Data(
        "the generator's samples are not finite (NaN or infinite): its weights come from a \
         diverged run"
            .into(),
    )
}

/// What `tapegan sample` writes, from the output's extension.
#[derive(Clone, Copy, PartialEq)]
enum OutKind {
    Png,
    Npy,
}

impl OutKind {
    fn of(out: &Path) -> Result<OutKind> {
        let ext = out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(OutKind::Png),
            Some("npy") => Ok(OutKind::Npy),
            _ => Err(Error::Config(format!(
                "{}: the output must end in .png or .npy",
                out.display()
            ))),
        }
    }
}

/// Most images in one PNG grid (100 × 100).
pub const MAX_GRID: usize = 10_000;
/// Most bytes of samples one `tapegan sample` holds (and copies once while writing .npy).
const MAX_DRAW_BYTES: u64 = 4 << 30;

/// Checks a request for `n` samples written to `out` before any work: a known file type, and
/// for a PNG grid a count it can hold.
pub fn check_request(out: &Path, n: usize) -> Result<()> {
    match OutKind::of(out)? {
        OutKind::Png if n == 0 || n > MAX_GRID => Err(Error::Config(format!(
            "--n must be between 1 and {MAX_GRID} for a PNG grid, got {n}{}",
            if n > MAX_GRID {
                "; write a .npy file for more"
            } else {
                ""
            }
        ))),
        OutKind::Npy if n == 0 => Err(Error::Config("--n must be at least 1, got 0".into())),
        _ => Ok(()),
    }
}

/// Checks that `n` samples of generator `g` fit in host memory (the count alone says little:
/// a 64×64 RGB image is 16 times a 28×28 digit).
pub fn check_memory(g: &Net, n: usize) -> Result<()> {
    // Each sample keeps its output, its noise (the generator's input) and, for conditional
    // models, a label written as i64.
    let values = g.out_shape.iter().product::<usize>() + g.in_shape.iter().product::<usize>();
    let per_sample = 4 * values as u64 + if g.classes() > 0 { 8 } else { 0 };
    let most = (MAX_DRAW_BYTES / per_sample.max(1)).max(1);
    if n as u64 > most {
        return Err(Error::Config(format!(
            "--n {n} samples of shape {:?} (with their noise) would take {} GiB of memory; \
             draw at most {most} at a time (with different --seed values)",
            g.out_shape,
            (n as u64).saturating_mul(per_sample) >> 30
        )));
    }
    Ok(())
}

/// Writes `drawn` as a PNG grid (`.png`) or as raw arrays (`.npy`: the samples, plus
/// `<stem>_noise.npy` and, for conditional models, `<stem>_labels.npy` beside it).
pub fn write(drawn: &Drawn, out: &Path, cols: Option<usize>) -> Result<Vec<std::path::PathBuf>> {
    match OutKind::of(out)? {
        OutKind::Npy => {
            let mut written = vec![out.to_path_buf()];
            npy::write_npy_f32(out, &drawn.shape, &drawn.samples)?;
            let stem = out.with_extension("");
            let zp = stem.with_file_name(format!(
                "{}_noise.npy",
                stem.file_name()
                    .and_then(|s| s.to_str())
                    .unwrap_or("samples")
            ));
            npy::write_npy_f32(&zp, &drawn.z_shape, &drawn.z)?;
            written.push(zp);
            if let Some(l) = &drawn.labels {
                let lp = stem.with_file_name(format!(
                    "{}_labels.npy",
                    stem.file_name()
                        .and_then(|s| s.to_str())
                        .unwrap_or("samples")
                ));
                let lv: Vec<i64> = l.iter().map(|&v| i64::from(v)).collect();
                npy::write_npy_i64(&lp, &[lv.len()], &lv)?;
                written.push(lp);
            }
            Ok(written)
        }
        OutKind::Png => {
            let [n, c, h, w] = drawn.shape[..] else {
                return Err(Error::Config(
                    "this preset makes 2-D points, not images: write them with a .npy file".into(),
                ));
            };
            let cols = cols
                .unwrap_or_else(|| (n as f64).sqrt().ceil() as usize)
                .max(1);
            let grid = images::grid_image(&drawn.samples, n, c, h, w, cols, 2);
            let grid = if h <= 32 {
                images::upscale(&grid, 2)
            } else {
                grid
            };
            images::save_png(&grid, out)?;
            Ok(vec![out.to_path_buf()])
        }
    }
}
