//! Settings that cannot work or would do nothing: one-line errors before anything is written,
//! and a failed start leaves --out as it found it.

use super::common::tapegan;
use super::{assert_one_line_error, tmp};

#[test]
fn settings_that_cannot_work_are_refused() {
    let cfg = tmp("bad-config");
    std::fs::create_dir_all(&cfg).unwrap();
    let file = cfg.join("c.toml");
    std::fs::write(&file, "lr_d = 1e-4\nbatch = \"x\"\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    // steps = 0 alone would train by the preset's epochs (tapegan's own config.toml writes it
    // beside epochs, which is accepted).
    let zero_steps = cfg.join("zero-steps.toml");
    std::fs::write(&zero_steps, "steps = 0\n").unwrap();
    let zero_steps = zero_steps.to_str().unwrap().to_string();
    // A run that fails to start leaves nothing behind, not even the parents of --out.
    let out = cfg.join("parent/run");
    let out = out.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--preset", "toy-wgan-clip", "-q", "--out", out];
        args.extend(extra);
        tapegan(&args)
    };
    for (args, needle) in [
        (
            vec!["--set", "toy_scale=0"],
            "toy_scale must be a finite positive",
        ),
        (
            vec!["--set", "adam_eps=nan"],
            "adam_eps must be a finite positive",
        ),
        (
            vec!["--set", "clip=nan"],
            "clip must be a finite non-negative",
        ),
        (
            vec!["--set", "hidden=0"],
            "hidden must be between 1 and 65536",
        ),
        (
            vec!["--set", "z_dim=4611686018427387904"],
            "z_dim must be between 1 and 65536",
        ),
        (
            vec!["--set", "n_critic=1000000000"],
            "n_critic must be between 1 and 1000",
        ),
        (
            vec!["--set", "image_size=28"],
            "image_size applies to image presets only",
        ),
        (
            vec!["--set", "loss=softmax-ce"],
            "loss = softmax-ce needs a discriminator with 2 output(s)",
        ),
        (
            vec!["--epochs", "4611686018427387904"],
            "more steps than can be counted",
        ),
        (
            vec!["--steps", "18446744073709551615"],
            "at most 9223372036854775807",
        ),
        (vec!["--data", "mnist:"], "names no folder after the colon"),
        (
            vec!["--set", "digits=3"],
            "digits would be ignored: it applies to MNIST data only",
        ),
        (
            vec!["--set", "label_noise=true"],
            "label_noise would be ignored: it applies to loss = bce only",
        ),
        (
            vec!["--set", "preset=toy-wgan-gp"],
            "conflicts with preset toy-wgan-clip",
        ),
        (vec!["--data", "grid25:/tmp"], "takes no folder"),
        (vec!["--critic-sigmoid"], "applies to wgan-gp-28 only"),
        (
            vec!["--gp-epsilon", "per-element"],
            "gp_epsilon would be ignored: it applies to loss = wgan-gp only",
        ),
        (vec!["--steps", "0"], "'--steps <STEPS>'"),
        (
            vec!["--set", "steps=0"],
            "--set steps=0: steps must be at least 1; to train by epochs instead, use --epochs",
        ),
        (
            vec!["--config", &zero_steps],
            "zero-steps.toml: steps = 0: steps must be at least 1",
        ),
        (vec!["--batch", "-5"], "'--batch <BATCH>'"),
        (
            vec!["--seed", "18446744073709551615"],
            "at most 9223372036854775807",
        ),
        (vec!["--config", &file], "c.toml: batch: invalid type"),
    ] {
        assert_one_line_error(&train(&args), needle);
        assert!(
            !cfg.join("parent").exists(),
            "{args:?} left its --out behind"
        );
    }
    // Settings of image presets.
    for (preset, setting, needle) in [
        (
            "mlp-gan-small",
            "channels=3",
            "discriminator takes [784]; check channels",
        ),
        (
            "dcgan-28",
            "image_size=1000000",
            "image_size = 1000000 does not fit dcgan-28",
        ),
        (
            "dcgan-28",
            "samples=1000000",
            "samples must be between 1 and 2500",
        ),
        (
            "dcgan-28",
            "n_critic=5",
            "n_critic would be ignored: it applies to the WGAN losses",
        ),
        ("dcgan-28", "toy_std=0.1", "toy_std would be ignored"),
        (
            "mlp-cwgan-gp",
            "hidden=16",
            "hidden would be ignored: it applies to the toy presets",
        ),
        (
            "mlp-cwgan-gp",
            "data=images:/nonexistent",
            "mlp-cwgan-gp is conditional and needs labelled data; images:/nonexistent has no labels",
        ),
    ] {
        assert_one_line_error(
            &tapegan(&["train", "--preset", preset, "--set", setting, "--out", out]),
            needle,
        );
        assert!(!cfg.join("parent").exists(), "{setting} left its --out");
    }
    // `missing/..` is the folder holding `missing` once that is made: refused, and that
    // folder is not removed by the failed start.
    let dotdot = cfg.join("missing/..");
    assert_one_line_error(
        &tapegan(&[
            "train",
            "--preset",
            "toy-wgan-clip",
            "--out",
            dotdot.to_str().unwrap(),
        ]),
        "'..' comes after",
    );
    assert!(
        std::path::Path::new(&file).exists(),
        "the folder holding missing/ lost its files"
    );
    // A folder with files that are not a run is not written over.
    let occupied = cfg.join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("losses.csv"), "mine").unwrap();
    std::fs::write(occupied.join("notes.txt"), "mine").unwrap();
    let args = ["train", "--preset", "toy-wgan-clip", "-q", "--out"];
    let mut args = args.to_vec();
    args.push(occupied.to_str().unwrap());
    assert_one_line_error(&tapegan(&args), "is not empty and is not a tapegan run");
    assert_eq!(
        std::fs::read_to_string(occupied.join("losses.csv")).unwrap(),
        "mine"
    );
    // A user's config.toml does not make a folder a run.
    std::fs::write(occupied.join("config.toml"), "[editor]\ntheme = 'dark'\n").unwrap();
    assert_one_line_error(&tapegan(&args), "is not empty and is not a tapegan run");
    assert!(occupied.join("config.toml").is_file());
    // An empty folder stays empty when the run fails to start (here: on its data).
    let empty = cfg.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = empty.to_str().unwrap();
    assert_one_line_error(
        &tapegan(&[
            "train",
            "--preset",
            "dcgan-28",
            "--data",
            "mnist:/nonexistent",
            "--out",
            e,
        ]),
        "no such folder",
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    std::fs::write(&file, "lr_d = 1e-4\nz_dim =\n").unwrap();
    assert_one_line_error(&train(&["--config", &file]), "c.toml line 2:");
    std::fs::remove_dir_all(&cfg).unwrap();
}
