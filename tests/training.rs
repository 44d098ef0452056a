//! End-to-end training: every preset runs a few steps on tiny data; resumed runs equal
//! uninterrupted ones; checkpoints survive a crash mid-save; divergence stops training with
//! the last good checkpoint kept.
mod common;
#[path = "training/joint_critic.rs"]
mod joint_critic;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use tapegan::gan::{Outcome, TrainConfig, Trainer};
use tapegan::io::read_state;
use tapegan::nn::HostValue;
use tapegan::Error;

fn run_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A preset shrunk to a few seconds of lavapipe time.
fn tiny(preset: &str, steps: u64) -> TrainConfig {
    let mut c = tapegan::models::find(preset).unwrap().config.clone();
    c.steps = steps;
    c.batch = if preset.starts_with("toy") {
        32
    } else if preset.contains("64") || preset.contains("celeba") {
        4
    } else {
        8
    };
    c.limit = if preset.starts_with("toy") { 256 } else { 24 };
    if preset.starts_with("toy") {
        c.hidden = 16;
    }
    c.samples = 16;
    c.sample_every = 0;
    c.checkpoint_every = 0;
    c.log_every = 1;
    c
}

fn params(path: &Path) -> Vec<(String, Vec<f32>)> {
    let (m, _) = read_state(path).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = m
        .into_iter()
        .filter_map(|(k, v)| match v {
            HostValue::F32 { data, .. } => Some((k, data)),
            HostValue::Int(_) => None,
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn train(cfg: TrainConfig, dir: &Path) -> Trainer {
    let mut t = Trainer::new(&gpu(), cfg, dir).unwrap();
    assert_eq!(t.run(&AtomicBool::new(false)).unwrap(), Outcome::Finished);
    t
}

#[test]
fn every_preset_trains_with_finite_losses_and_changing_weights() {
    for p in tapegan::models::presets() {
        let dir = run_dir(p.name);
        let mut t = Trainer::new(&gpu(), tiny(p.name, 2), &dir).unwrap();
        let before_g = tapegan::nn::state_dict(&t.gan.g).unwrap();
        let before_d = tapegan::nn::state_dict(&t.gan.d).unwrap();
        assert_eq!(
            t.run(&AtomicBool::new(false)).unwrap(),
            Outcome::Finished,
            "{}",
            p.name
        );
        assert_eq!(t.rows().len(), 2, "{}: one log row per step", p.name);
        for r in t.rows() {
            assert!(
                r.values.iter().all(|v| v.is_finite()),
                "{}: {:?}",
                p.name,
                r.values
            );
        }
        let changed = |before: &[(String, HostValue)], after: &[(String, HostValue)]| {
            before.iter().zip(after).any(|((_, a), (_, b))| a != b)
        };
        assert!(
            changed(&before_g, &tapegan::nn::state_dict(&t.gan.g).unwrap()),
            "{}: G unchanged",
            p.name
        );
        assert!(
            changed(&before_d, &tapegan::nn::state_dict(&t.gan.d).unwrap()),
            "{}: D unchanged",
            p.name
        );
        for f in [
            "config.toml",
            "losses.csv",
            "losses.png",
            "checkpoint/generator.safetensors",
            "checkpoint/discriminator.safetensors",
            "checkpoint/training.safetensors",
        ] {
            assert!(dir.join(f).is_file(), "{}: {f} missing", p.name);
        }
        if p.name.starts_with("toy") {
            assert!(
                dir.join("toy/final_samples.png").is_file()
                    && dir.join("toy/final_potential.png").is_file()
            );
        } else {
            assert!(
                dir.join("samples/final.png").is_file() && dir.join("samples.gif").is_file(),
                "{}",
                p.name
            );
        }
        if p.name == "sagan-64" {
            assert!(dir.join("attention/final.png").is_file());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn assert_same_weights(a: &Path, b: &Path) {
    for f in [
        "generator.safetensors",
        "discriminator.safetensors",
        "training.safetensors",
    ] {
        let (pa, pb) = (
            params(&a.join("checkpoint").join(f)),
            params(&b.join("checkpoint").join(f)),
        );
        assert_eq!(pa.len(), pb.len());
        for ((ka, va), (kb, vb)) in pa.iter().zip(&pb) {
            assert_eq!(ka, kb);
            assert!(va == vb, "{f}/{ka} differs after resume");
        }
    }
}

#[test]
fn resumed_runs_equal_uninterrupted_ones() {
    for preset in ["mlp-cwgan-gp", "toy-wgan-clip", "dcgan-28"] {
        let whole = run_dir(&format!("whole-{preset}"));
        train(tiny(preset, 4), &whole);
        let split = run_dir(&format!("split-{preset}"));
        train(tiny(preset, 2), &split);
        let mut t = Trainer::resume(&gpu(), &split, &["steps=4".to_string()]).unwrap();
        assert_eq!(t.step, 2);
        assert_eq!(t.run(&AtomicBool::new(false)).unwrap(), Outcome::Finished);
        assert_same_weights(&whole, &split);
        let csv = std::fs::read_to_string(split.join("losses.csv")).unwrap();
        assert_eq!(
            csv.lines().count(),
            5,
            "{preset}: header + 4 rows after resume"
        );
    }
}

#[test]
fn resume_rejects_a_changed_setting_and_a_missing_checkpoint() {
    let dir = run_dir("mismatch");
    train(tiny("toy-wgan-gp", 1), &dir);
    let e = Trainer::resume(&gpu(), &dir, &["lr_d=0.5".to_string()])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("lr_d") && e.contains("only steps"), "{e}");
    std::fs::remove_dir_all(dir.join("checkpoint")).unwrap();
    let e = Trainer::resume(&gpu(), &dir, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no checkpoint"), "{e}");
}

#[test]
fn resume_refuses_a_data_set_that_changed_size() {
    let dir = run_dir("grown-data");
    let images = run_dir("grown-data-images");
    std::fs::create_dir_all(&images).unwrap();
    let digit =
        |i: u8| image::GrayImage::from_fn(28, 28, move |x, y| image::Luma([i ^ (x * y) as u8]));
    for i in 0..16u8 {
        digit(i).save(images.join(format!("{i:02}.png"))).unwrap();
    }
    let mut cfg = tiny("mlp-gan-small", 1);
    cfg.data = format!("images:{}", images.display());
    cfg.limit = 0;
    // A run inside its own image folder would read its outputs as data.
    let e = Trainer::new(&gpu(), cfg.clone(), &images.join("sub/../run"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("is inside the data folder"), "{e}");
    train(cfg, &dir);
    digit(16).save(images.join("16.png")).unwrap();
    let e = Trainer::resume(&gpu(), &dir, &["steps=2".to_string()])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("holds 17 samples now") && e.contains("trained on 16"),
        "{e}"
    );
    std::fs::remove_file(images.join("16.png")).unwrap();
    Trainer::resume(&gpu(), &dir, &["steps=2".to_string()]).unwrap();
    for d in [dir, images] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_crash_during_a_checkpoint_save_keeps_the_previous_one() {
    let dir = run_dir("crash");
    train(tiny("toy-wgan-gp", 2), &dir);
    // Simulate a crash after `checkpoint` was moved aside and before the new set was renamed.
    std::fs::rename(dir.join("checkpoint"), dir.join("checkpoint.old")).unwrap();
    std::fs::create_dir_all(dir.join("checkpoint.new")).unwrap();
    std::fs::write(dir.join("checkpoint.new/generator.safetensors"), b"partial").unwrap();
    let mut t = Trainer::resume(&gpu(), &dir, &["steps=3".to_string()]).unwrap();
    assert_eq!(t.step, 2);
    t.run(&AtomicBool::new(false)).unwrap();
    assert!(dir.join("checkpoint/generator.safetensors").is_file());
    assert!(!dir.join("checkpoint.new").exists() && !dir.join("checkpoint.old").exists());
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let dir = run_dir("corrupt");
    train(tiny("toy-wgan-gp", 1), &dir);
    // Optimizer state for a parameter the run does not have: another network's file.
    let training = dir.join("checkpoint/training.safetensors");
    let (values, meta) = read_state(&training).unwrap();
    let mut entries: Vec<(String, HostValue)> = values.into_iter().collect();
    entries.push((
        "d.net.9.weight.exp_avg".into(),
        HostValue::F32 {
            shape: vec![1],
            data: vec![0.0],
        },
    ));
    tapegan::io::write_state(&training, &entries, &meta).unwrap();
    let e = Trainer::resume(&gpu(), &dir, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("training.safetensors: unexpected tensor 'd.net.9.weight.exp_avg'"),
        "{e}"
    );
    std::fs::write(
        dir.join("checkpoint/generator.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage",
    )
    .unwrap();
    let e = Trainer::resume(&gpu(), &dir, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("generator.safetensors"), "{e}");
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = run_dir("nan");
    // Shared forward: step 1's losses come from the initial weights (finite); the updates with
    // an absurd learning rate then overflow every later forward pass.
    let mut cfg = tiny("mlp-gan", 20);
    cfg.lr_d = 1e38;
    cfg.lr_g = 1e38;
    cfg.checkpoint_every = 1;
    let mut t = Trainer::new(&gpu(), cfg, &dir).unwrap();
    let e = t
        .run(&AtomicBool::new(false))
        .expect_err("training must diverge");
    assert!(matches!(e, Error::NonFinite(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("diverged") && msg.contains("checkpoint"),
        "{msg}"
    );
    let (_, meta) = read_state(&dir.join("checkpoint/training.safetensors")).unwrap();
    let saved: u64 = meta["step"].parse().unwrap();
    assert!(
        saved >= 1 && saved < t.step,
        "checkpoint at step {saved}, stopped at {}",
        t.step
    );
    for net in ["generator", "discriminator"] {
        for (k, v) in params(&dir.join(format!("checkpoint/{net}.safetensors"))) {
            assert!(
                v.iter().all(|x| x.is_finite()),
                "{net} {k} is not finite in the kept checkpoint"
            );
        }
    }
}

#[test]
fn non_finite_weights_never_replace_a_checkpoint() {
    // Finite losses do not prove finite weights: the update after the last logged loss can
    // overflow. Such weights must not become "the last good checkpoint".
    let dir = run_dir("nan-weights");
    let mut t = Trainer::new(&gpu(), tiny("mlp-gan-small", 10), &dir).unwrap();
    t.step_once().unwrap();
    t.save_checkpoint().unwrap();
    t.step_once().unwrap();
    // After step 2's losses (finite), a weight turns NaN.
    let (name, w) = tapegan::nn::named_parameters(&t.gan.g).remove(0);
    let mut v = w.to_vec().unwrap();
    v[0] = f32::NAN;
    w.write(&v).unwrap();
    let e = t
        .save_checkpoint()
        .expect_err("NaN weights must not be saved");
    assert!(matches!(e, Error::NonFinite(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&name) && msg.contains("last good checkpoint is kept"),
        "{msg}"
    );
    let (_, meta) = read_state(&dir.join("checkpoint/training.safetensors")).unwrap();
    assert_eq!(meta["step"], "1");
}

#[test]
fn stop_flag_checkpoints_and_returns_interrupted() {
    let dir = run_dir("stop");
    let mut t = Trainer::new(&gpu(), tiny("toy-wgan-gp", 100), &dir).unwrap();
    let stop = AtomicBool::new(true);
    assert_eq!(t.run(&stop).unwrap(), Outcome::Interrupted);
    assert!(dir.join("checkpoint/generator.safetensors").is_file());
}

#[test]
fn config_overrides_are_typed_and_unknown_keys_list_the_valid_ones() {
    let mut c = tiny("dcgan-28", 1);
    c.set("lr_d=3e-4").unwrap();
    c.set("digits=7,8").unwrap();
    c.set("gp_epsilon=per-element").unwrap();
    assert_eq!((c.lr_d, c.digits.clone()), (3e-4, vec![7, 8]));
    let e = c.set("learning_rate=1").unwrap_err().to_string();
    assert!(
        e.contains("unknown setting 'learning_rate'") && e.contains("lr_g"),
        "{e}"
    );
    let e = c.set("batch=many").unwrap_err().to_string();
    assert!(e.contains("batch"), "{e}");
    let e = c.set("loss=magic").unwrap_err().to_string();
    assert!(e.contains("loss"), "{e}");
    let back = TrainConfig::from_toml(&c.to_toml(), "test").unwrap();
    assert_eq!(back, c);
}
