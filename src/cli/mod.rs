//! Command-line parsing and dispatch.

mod info;
mod metrics;
mod profile;
mod sample;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tapegan::{Error, Gpu, Result};

/// tapegan — train GANs on any GPU wgpu can drive.
///
/// With no command, trains the quick-start run: the `dcgan-28` preset on the MNIST subset
/// shipped in assets/, for a few minutes, writing samples and checkpoints under runs/.
#[derive(Parser)]
#[command(version, about, long_about)]
pub struct Cli {
    /// GPU adapter to use: a backend (vulkan, metal, dx12, gl), an index from `tapegan devices`,
    /// or part of the adapter's name. Overrides TAPEGAN_ADAPTER.
    #[arg(long, global = true)]
    adapter: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset (or resume a run).
    Train(train::TrainArgs),
    /// Draw samples from a run's generator into a PNG grid or .npy arrays.
    Sample(sample::SampleArgs),
    /// Time one preset's training step per kernel and write a Chrome trace.
    Profile(profile::ProfileArgs),
    /// Measure what a run's generator learned (modes, digits, Fréchet distance).
    ///
    /// Toy presets: modes captured, % high-quality samples and the reverse KL over the modes.
    /// Digit presets: digits covered, KL to uniform, classifier confidence, Fréchet distance
    /// to held-out digits, and for conditional presets whether digit k was drawn when asked.
    /// Prints a table and writes DIR/metrics.json.
    Eval(metrics::EvalArgs),
    /// Retrain the MNIST classifier the image metrics use.
    TrainClassifier(metrics::TrainClassifierArgs),
    /// List the presets.
    Presets,
    /// List the GPU adapters wgpu can see, and which one --adapter (or the default) picks.
    Devices,
}

/// Options shared by commands that open a device.
#[derive(Args, Clone, Default)]
pub struct Quiet {
    /// Print less (no progress bar).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let open = || -> Result<Gpu> {
        let gpu = match &cli.adapter {
            Some(sel) => Gpu::with_selector(Some(sel)),
            None => Gpu::new(),
        }?;
        if let Some(h) = gpu.hint() {
            eprintln!("{h}");
        }
        Ok(gpu)
    };
    match cli.command {
        None => train::quickstart(&open()?),
        Some(Command::Train(a)) => train::train(&open()?, a),
        Some(Command::Sample(a)) => sample::sample(&open()?, a),
        Some(Command::Profile(a)) => profile::profile(&open()?, a),
        Some(Command::Eval(a)) => metrics::eval(&open()?, a),
        Some(Command::TrainClassifier(a)) => metrics::train_classifier(&open()?, a),
        Some(Command::Presets) => info::presets(),
        Some(Command::Devices) => info::devices(cli.adapter.as_deref()),
    }
}

/// `runs/<name>`, or `runs/<name>-2`, `-3`, … if taken.
pub fn fresh_run_dir(name: &str) -> PathBuf {
    let base = PathBuf::from("runs");
    // Taken is anything there, a dangling link included (`exists` follows links).
    let free = |p: &PathBuf| p.symlink_metadata().is_err();
    let first = base.join(name);
    if free(&first) {
        return first;
    }
    (2..)
        .map(|i| base.join(format!("{name}-{i}")))
        .find(free)
        .expect("some name is free")
}

/// Checks, before minutes of work, that a file can be written at `path` later: it is not a
/// folder, and the nearest existing folder on its path accepts a new file (the write, which
/// goes through a temporary file and a rename, creates any missing folders). Nothing is left
/// behind.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Config(format!(
            "{} is a folder; give a file name",
            path.display()
        )));
    }
    // Errors name the file the user gave, with the folder's own problem in brackets.
    let cannot = |what: &Path, why: String| {
        Error::Config(format!(
            "cannot write {}: {} ({why})",
            path.display(),
            what.display()
        ))
    };
    let mut dir = path.parent().unwrap_or(Path::new(""));
    let existing = loop {
        let d = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => break d,
            Ok(_) => return Err(cannot(d, "a file, not a folder".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && d != Path::new(".") => {
                dir = dir.parent().unwrap_or(Path::new(""));
            }
            Err(e) => return Err(cannot(d, e.to_string())),
        }
    };
    let probe = existing.join(format!(".tapegan-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| cannot(existing, e.to_string()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
