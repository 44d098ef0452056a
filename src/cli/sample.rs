//! `tapegan sample`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tapegan::gan::sample::{check_memory, check_request, draw, load_generator, write};
use tapegan::{Gpu, Result};

#[derive(Args)]
pub struct SampleArgs {
    /// Run directory (written by `tapegan train`).
    #[arg(long)]
    run: PathBuf,
    /// Number of samples.
    #[arg(long, allow_negative_numbers = true, default_value_t = 64)]
    n: usize,
    /// Class to draw (conditional presets); default: every class, one row each when --n is a
    /// multiple of the number of classes.
    #[arg(long, allow_negative_numbers = true)]
    label: Option<u32>,
    /// Seed of the noise.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
    /// Output file: .png for a grid, .npy for the raw samples (plus _noise.npy, _labels.npy).
    #[arg(long)]
    out: PathBuf,
}

pub fn sample(gpu: &Gpu, a: SampleArgs) -> Result<ExitCode> {
    check_request(&a.out, a.n)?;
    super::check_writable(&a.out)?;
    let (cfg, g) = load_generator(gpu, &a.run)?;
    check_memory(&g, a.n)?;
    let drawn = draw(gpu, &cfg, &g, a.n, a.label, a.seed)?;
    // One row per class when every class has the same count; otherwise a square grid.
    let classes = g.classes();
    let cols =
        (classes > 0 && a.label.is_none() && a.n.is_multiple_of(classes)).then(|| a.n / classes);
    for p in write(&drawn, &a.out, cols)? {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
