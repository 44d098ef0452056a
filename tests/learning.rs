//! A GAN actually learns: `toy-wgan-clip` trained for a couple of hundred steps on the
//! 25-Gaussian grid captures far more modes than its untrained generator, judged by the same
//! metrics as `tapegan eval` (the VEEGAN/PacGAN protocol, 2,500 samples).
mod common;
use common::*;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use tapegan::gan::{Outcome, Trainer};
use tapegan::metrics::evaluate_run;

fn run_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-learn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Trains the toy preset (at its own settings) for `steps` and returns (modes captured,
/// % high-quality) of its generator.
fn modes_after(steps: u64) -> (f64, f64) {
    let mut cfg = tapegan::models::find("toy-wgan-clip")
        .unwrap()
        .config
        .clone();
    cfg.steps = steps;
    cfg.sample_every = 0;
    cfg.checkpoint_every = 0;
    let dir = run_dir(&format!("toy-{steps}"));
    let mut t = Trainer::new(&gpu(), cfg, &dir).unwrap();
    assert_eq!(t.run(&AtomicBool::new(false)).unwrap(), Outcome::Finished);
    let report = evaluate_run(&gpu(), &dir, Some(2500), 0).unwrap();
    let value = |key: &str| {
        report
            .metrics
            .iter()
            .find(|m| m.key == key)
            .and_then(|m| m.value)
            .unwrap_or_else(|| panic!("{key} missing from the toy report"))
    };
    let _ = std::fs::remove_dir_all(&dir);
    (value("modes_captured"), value("high_quality_pct"))
}

#[test]
fn toy_generator_spreads_over_the_modes() {
    // One step leaves the generator as initialised: its points sit in a small blob.
    let (untrained, _) = modes_after(1);
    let (trained, hq) = modes_after(200);
    eprintln!("modes captured: untrained {untrained}, after 200 steps {trained} ({hq:.2} % HQ)");
    assert!(
        untrained <= 4.0,
        "an untrained generator should cover few modes, got {untrained}"
    );
    assert!(
        trained >= 8.0 && trained >= 2.0 * untrained.max(1.0),
        "after 200 steps the generator should capture well over {untrained} modes, got {trained}"
    );
}
