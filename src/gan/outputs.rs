//! What a run leaves beside its checkpoints: sample grids (one row per class for conditional
//! models), for toy presets a scatter of generated points over the mode centres and a heat map
//! of the critic's potential, for SAGAN the attention of the centre pixel beside its sample,
//! and at the end a GIF of the grids and the loss curves.

use std::path::{Path, PathBuf};

use super::config::{Noise, TrainConfig};
use super::runlog::RunLog;
use crate::autograd::no_grad;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::io::{images, plot};
use crate::models::Net;
use crate::nn::{AttentionMap, Ctx};
use crate::ops::Generator;
use crate::tensor::Tensor;

/// Random stream reserved for the fixed sample noise (independent of training).
const SAMPLE_STREAM: u64 = 0x5A4D_504C_4553;

/// The inputs every sample grid of a run is drawn from.
pub struct FixedInputs {
    pub z: Tensor,
    pub labels: Option<Tensor>,
    /// Grid columns (for conditional models: one row per class).
    pub cols: usize,
}

/// Generator noise for `n` samples from `rng`.
pub fn noise(gpu: &Gpu, cfg: &TrainConfig, rng: &mut Generator, n: usize) -> Result<Tensor> {
    match cfg.noise {
        Noise::Uniform => rng.uniform(gpu, &[n, cfg.z_dim], -1.0, 1.0),
        Noise::Normal => rng.normal(gpu, &[n, cfg.z_dim], 0.0, 1.0),
    }
}

/// Labels laying out `n` samples as one row per class (row-major grid of `classes` columns
/// per row is *not* what we want: each row holds one class), or a single class.
pub fn class_rows(
    gpu: &Gpu,
    classes: usize,
    per_class: usize,
    only: Option<u32>,
) -> Result<Tensor> {
    let labels: Vec<u32> = match only {
        Some(l) => vec![l; per_class],
        None => (0..classes as u32)
            .flat_map(|c| std::iter::repeat_n(c, per_class))
            .collect(),
    };
    Tensor::from_u32(gpu, &labels, &[labels.len()])
}

pub fn fixed_inputs(gpu: &Gpu, cfg: &TrainConfig, g: &Net) -> Result<FixedInputs> {
    let mut rng = Generator::new(cfg.seed).fork(SAMPLE_STREAM);
    let classes = g.classes();
    if classes > 0 {
        let per = cfg.samples.div_ceil(classes).max(1);
        let z = noise(gpu, cfg, &mut rng, per * classes)?;
        return Ok(FixedInputs {
            z,
            labels: Some(class_rows(gpu, classes, per, None)?),
            cols: per,
        });
    }
    let n = cfg.samples;
    let cols = (n as f64).sqrt().ceil() as usize;
    Ok(FixedInputs {
        z: noise(gpu, cfg, &mut rng, n)?,
        labels: None,
        cols,
    })
}

/// Runs the generator in evaluation mode without recording; optionally keeps attention maps.
pub fn generate(
    g: &Net,
    z: &Tensor,
    labels: Option<&Tensor>,
    attention: bool,
) -> Result<(Tensor, Vec<AttentionMap>)> {
    let mut rng = Generator::new(0);
    let mut ctx = Ctx::eval(&mut rng);
    if attention {
        ctx.attention = Some(Vec::new());
    }
    let out = no_grad(|| g.forward(z, labels, &mut ctx))?;
    Ok((out, ctx.attention.unwrap_or_default()))
}

/// The critic's value at points `[n, 2]`, evaluation mode.
pub fn critic_values(d: &Net, points: &Tensor) -> Result<Vec<f32>> {
    let mut rng = Generator::new(0);
    let mut ctx = Ctx::eval(&mut rng);
    no_grad(|| d.forward(points, None, &mut ctx))?.to_vec()
}

/// Half-width of the square the toy plots show.
pub fn toy_extent(centres: &[[f32; 2]]) -> f32 {
    let m = centres
        .iter()
        .flat_map(|c| [c[0].abs(), c[1].abs()])
        .fold(0.0f32, f32::max);
    m * 1.5 + 0.1
}

/// Writes the sample figures for one point of training, named by `tag`.
pub fn write_samples(
    run: &Path,
    tag: &str,
    cfg: &TrainConfig,
    g: &Net,
    d: &Net,
    fixed: &FixedInputs,
    centres: Option<&[[f32; 2]]>,
) -> Result<()> {
    let want_attention = cfg.preset == "sagan-64";
    let (x, maps) = generate(g, &fixed.z, fixed.labels.as_ref(), want_attention)?;
    if let Some(centres) = centres {
        let pts: Vec<[f32; 2]> = x.to_vec()?.chunks(2).map(|p| [p[0], p[1]]).collect();
        let extent = toy_extent(centres);
        let dir = run.join("toy");
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
        let title = format!("{} — generator samples, {tag}", cfg.preset);
        plot::scatter_over_centres(
            &dir.join(format!("{tag}_samples.png")),
            &pts,
            centres,
            extent,
            &title,
        )?;
        let res = 96;
        let grid_pts: Vec<f32> = plot::plane_grid(res, extent)
            .into_iter()
            .flatten()
            .collect();
        let grid = Tensor::from_slice(x.gpu(), &grid_pts, &[res * res, 2])?;
        let values = critic_values(d, &grid)?;
        let title = format!("{} — critic potential, {tag}", cfg.preset);
        plot::potential_heatmap(
            &dir.join(format!("{tag}_potential.png")),
            &values,
            res,
            extent,
            Some(&pts),
            centres,
            &title,
        )?;
        return Ok(());
    }
    let [n, c, h, w] = *x.shape() else {
        return Err(crate::Error::shape(
            "samples",
            format!("generator output {:?} is not an image batch", x.shape()),
        ));
    };
    let data = x.to_vec()?;
    let grid = images::grid_image(&data, n, c, h, w, fixed.cols, 2);
    let grid = if h <= 32 {
        images::upscale(&grid, 2)
    } else {
        grid
    };
    let dir = run.join("samples");
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    images::save_png(&grid, &dir.join(format!("{tag}.png")))?;
    if !maps.is_empty() {
        write_attention(run, tag, &data, c, h, w, &maps)?;
    }
    Ok(())
}

/// SAGAN: for the first samples, the centre pixel's attention in each block beside the sample.
fn write_attention(
    run: &Path,
    tag: &str,
    data: &[f32],
    c: usize,
    h: usize,
    w: usize,
    maps: &[AttentionMap],
) -> Result<()> {
    let shown = 4.min(data.len() / (c * h * w));
    let mut rows = Vec::new();
    for map in maps {
        let (ha, wa) = map.size;
        let query = images::centre_query(ha, wa);
        let att = map.rows(query)?;
        for (i, a) in att.iter().take(shown).enumerate() {
            let sample = &data[i * c * h * w..(i + 1) * c * h * w];
            rows.push(images::heatmap_beside(sample, c, h, w, a, ha, wa, 3));
        }
    }
    let dir = run.join("attention");
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    images::save_png(&images::stack_rows(&rows), &dir.join(format!("{tag}.png")))
}

/// End-of-run figures: the GIF of sample grids and the loss curves.
pub fn finish(run: &Path, log: &RunLog, cfg: &TrainConfig) -> Result<()> {
    let dir = run.join("samples");
    if dir.is_dir() {
        let mut frames: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| crate::Error::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("step_") && n.ends_with(".png"))
            })
            .collect();
        frames.sort();
        if !frames.is_empty() {
            images::write_gif_from_files(&frames, &run.join("samples.gif"), 400)?;
        }
    }
    if !log.rows.is_empty() {
        let cols = log.columns();
        let series: Vec<(&str, Vec<(f64, f64)>)> = cols
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.as_str(),
                    log.rows
                        .iter()
                        .map(|r| (r.step as f64, r.values[i] as f64))
                        .collect(),
                )
            })
            .collect();
        let title = format!("{} — losses", cfg.preset);
        plot::loss_curves(&run.join("losses.png"), &title, &series)?;
    }
    Ok(())
}
