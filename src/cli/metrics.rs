//! `tapegan eval` and `tapegan train-classifier`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tapegan::metrics::classifier::{self, TrainOptions};
use tapegan::{Error, Gpu, Result};

#[derive(Args)]
pub struct TrainClassifierArgs {
    /// Passes over the 9,000 shipped training digits.
    #[arg(long, allow_negative_numbers = true, default_value_t = TrainOptions::default().epochs)]
    epochs: usize,
    /// Where to write the weights (default: the shipped asset).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the initialisation and the data order.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
}

pub fn train_classifier(gpu: &Gpu, a: TrainClassifierArgs) -> Result<ExitCode> {
    if a.epochs == 0 {
        return Err(Error::Config("--epochs must be at least 1".into()));
    }
    let opts = TrainOptions {
        epochs: a.epochs,
        seed: a.seed,
        ..TrainOptions::default()
    };
    let out = a.out.unwrap_or_else(classifier::default_path);
    super::check_writable(&out)?;
    eprintln!(
        "training the MNIST classifier on the 9,000 shipped digits: {} epochs, batch {}, Adam lr {} \
         ×{} per epoch, random shifts of ±{} px, seed {}, adapter {}",
        opts.epochs,
        opts.batch,
        opts.lr,
        opts.lr_decay,
        opts.shift,
        opts.seed,
        gpu.adapter().describe()
    );
    let (clf, last) = classifier::train(gpu, &opts, |r| {
        eprintln!(
            "epoch {:>2}: loss {:.4}, held-out accuracy {:.2} % ({:.1} s)",
            r.epoch,
            r.loss,
            100.0 * r.held_out_accuracy,
            r.seconds
        );
    })?;
    let meta = BTreeMap::from([
        (
            "format".to_string(),
            "tapegan-mnist-classifier-1".to_string(),
        ),
        ("architecture".into(), clf.describe()),
        ("epochs".into(), opts.epochs.to_string()),
        ("batch".into(), opts.batch.to_string()),
        ("lr".into(), opts.lr.to_string()),
        ("lr_decay".into(), opts.lr_decay.to_string()),
        ("shift".into(), opts.shift.to_string()),
        ("seed".into(), opts.seed.to_string()),
        (
            "held_out_accuracy".into(),
            format!("{:.4}", last.held_out_accuracy),
        ),
        ("train_seconds".into(), format!("{:.1}", last.seconds)),
        ("adapter".into(), gpu.adapter().describe()),
        ("tapegan_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]);
    clf.save(&out, &meta)?;
    println!(
        "wrote {} (held-out accuracy {:.2} %, {:.1} s)",
        out.display(),
        100.0 * last.held_out_accuracy,
        last.seconds
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct EvalArgs {
    /// Run directory (written by `tapegan train`).
    #[arg(long)]
    run: PathBuf,
    /// Samples to judge (default: 2,500 points for toy presets, 1,000 images otherwise).
    #[arg(long, allow_negative_numbers = true)]
    n: Option<usize>,
    /// Seed of the noise.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
}

pub fn eval(gpu: &Gpu, a: EvalArgs) -> Result<ExitCode> {
    let report = tapegan::metrics::evaluate_run(gpu, &a.run, a.n, a.seed)?;
    report.write_json(&a.run)?;
    print!("{}", report.table());
    println!("wrote {}", a.run.join("metrics.json").display());
    Ok(ExitCode::SUCCESS)
}
