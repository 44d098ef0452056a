//! The `tapegan` binary: listings, sampling to PNG and .npy, and one-line errors with a
//! non-zero exit for every bad input (never a panic backtrace).
mod common;
use common::{tapegan, tiny_run};

use std::path::PathBuf;
use std::process::{Command, Output};

#[path = "cli/run_dirs.rs"]
mod run_dirs;
#[path = "cli/settings.rs"]
mod settings;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Asserts a successful run, showing its stderr otherwise.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a failed run with exactly one error line mentioning `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn presets_and_devices_are_listed() {
    let out = tapegan(&["presets"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for p in [
        "mlp-gan",
        "mlp-gan-small",
        "mlp-wgan-gp",
        "mlp-cwgan-gp",
        "dcgan-64",
        "dcgan-celeba",
        "dcgan-28",
        "wgan-gp-28",
        "sagan-64",
        "toy-wgan-clip",
        "toy-wgan-gp",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(p)),
            "{p} missing from:\n{text}"
        );
    }
    let out = tapegan(&["devices"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("max storage binding"));
    // --adapter shows what it would pick, and one matching nothing is refused.
    let out = tapegan(&["devices", "--adapter", "0"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--adapter 0 picks: "));
    assert_one_line_error(
        &tapegan(&["devices", "--adapter", "no-such-gpu"]),
        "no adapter matches 'no-such-gpu'",
    );
}

#[test]
fn bad_arguments_are_one_line_errors() {
    assert_one_line_error(
        &tapegan(&["train", "--preset", "stylegan"]),
        "unknown preset 'stylegan'",
    );
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-28", "--set", "lr=1"]),
        "unknown setting 'lr'",
    );
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-28", "--set", "batch=0"]),
        "batch",
    );
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-28", "--data", "svhn"]),
        "unknown data set",
    );
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-28", "--adapter", "no-such-gpu"]),
        "no adapter matches",
    );
    assert_one_line_error(
        &tapegan(&[
            "train",
            "--preset",
            "dcgan-28",
            "--config",
            "/nonexistent.toml",
        ]),
        "nonexistent.toml",
    );
    // A misspelt kernel override fails when the device opens instead of being ignored.
    for (var, value, needle) in [
        (
            "TAPEGAN_MATMUL_KERNEL",
            "fast",
            "=fast is not a value it takes",
        ),
        (
            "TAPEGAN_CONV_BLOCKS",
            "gpus",
            "=gpus is not a value it takes",
        ),
        (
            "TAPEGAN_SOFTMAX_KERNEL",
            "row",
            "=row is not a value it takes",
        ),
        ("TAPEGAN_MATMUL_TILE", "3x3", "=3x3 is not a valid tile"),
        // 32 × 32 outputs per invocation: a shader that would compile for minutes.
        (
            "TAPEGAN_MATMUL_TILE",
            "512x512x2/32x32",
            "=512x512x2/32x32 is not a valid tile",
        ),
        // A valid tile that needs 260 KiB of workgroup memory, more than any adapter has.
        (
            "TAPEGAN_MATMUL_TILE",
            "256x256x128/16x16",
            "bytes of workgroup memory",
        ),
    ] {
        let dir = tmp("override");
        let out = Command::new(env!("CARGO_BIN_EXE_tapegan"))
            .args([
                "train", "--preset", "dcgan-28", "--steps", "1", "-q", "--out",
            ])
            .arg(&dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .env(var, value)
            .output()
            .expect("the binary runs");
        assert_one_line_error(&out, needle);
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A forced tile and another forced matmul family contradict each other.
    let out = Command::new(env!("CARGO_BIN_EXE_tapegan"))
        .args([
            "train", "--preset", "dcgan-28", "--steps", "1", "-q", "--out",
        ])
        .arg(tmp("override-both"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env("TAPEGAN_MATMUL_TILE", "128x128x8/8x8")
        .env("TAPEGAN_MATMUL_KERNEL", "register")
        .output()
        .expect("the binary runs");
    assert_one_line_error(&out, "conflicts with TAPEGAN_MATMUL_KERNEL=register");
}

#[test]
fn corrupt_and_missing_data_are_one_line_errors() {
    let dir = tmp("baddata");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        b"garbage that is not IDX",
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 0],
    )
    .unwrap();
    let spec = format!("mnist:{}", dir.display());
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-28", "--data", &spec]),
        "not an IDX image file",
    );
    let empty = tmp("emptyimages");
    std::fs::create_dir_all(&empty).unwrap();
    let spec = format!("images:{}", empty.display());
    assert_one_line_error(
        &tapegan(&["train", "--preset", "dcgan-celeba", "--data", &spec]),
        "no PNG or JPEG images",
    );
    assert_one_line_error(
        &tapegan(&[
            "train",
            "--preset",
            "dcgan-28",
            "--data",
            "mnist:/nonexistent",
        ]),
        "no such folder",
    );
}

#[test]
fn sample_writes_png_and_npy_and_rejects_bad_requests() {
    let dir = tmp("sample");
    tiny_run("mlp-cwgan-gp", &dir, &[]);
    let run = dir.to_str().unwrap();
    let png = dir.join("grid.png");
    let png_out = png.to_str().unwrap();
    assert_success(&tapegan(&[
        "sample", "--run", run, "--n", "20", "--out", png_out,
    ]));
    let img = image::open(&png).unwrap();
    assert!(img.width() > 28 && img.height() > 28);
    let npy = dir.join("s.npy");
    let npy_out = npy.to_str().unwrap();
    let sample = |n: &str, out: &str| tapegan(&["sample", "--run", run, "--n", n, "--out", out]);
    assert_success(&tapegan(&[
        "sample", "--run", run, "--n", "5", "--label", "7", "--out", npy_out,
    ]));
    let (shape, data) = tapegan::io::npy::read_npy_f32(&npy).unwrap();
    assert_eq!(shape, vec![5, 1, 28, 28]);
    assert!(data.iter().all(|v| (-1.0..=1.0).contains(v)));
    let (zs, _) = tapegan::io::npy::read_npy_f32(&dir.join("s_noise.npy")).unwrap();
    assert_eq!(zs, vec![5, 100]);
    let (_, labels) = tapegan::io::npy::read_npy_i64(&dir.join("s_labels.npy")).unwrap();
    assert_eq!(labels, vec![7; 5]);

    // Without --label and with n not a multiple of 10, every class is drawn, in order, one
    // or two samples each.
    assert_success(&sample("13", npy_out));
    let (_, labels) = tapegan::io::npy::read_npy_i64(&dir.join("s_labels.npy")).unwrap();
    assert_eq!(labels.len(), 13);
    assert!(labels.windows(2).all(|w| w[0] <= w[1]), "{labels:?}");
    for class in 0..10 {
        let count = labels.iter().filter(|&&l| l == class).count();
        assert!((1..=2).contains(&count), "class {class}: {labels:?}");
    }
    // More samples than one chunk (512) continue the same noise.
    let (_, z13) = tapegan::io::npy::read_npy_f32(&dir.join("s_noise.npy")).unwrap();
    let big = dir.join("big.npy");
    assert_success(&sample("1030", big.to_str().unwrap()));
    let (shape, _) = tapegan::io::npy::read_npy_f32(&big).unwrap();
    assert_eq!(shape, vec![1030, 1, 28, 28]);
    let (zs, z) = tapegan::io::npy::read_npy_f32(&dir.join("big_noise.npy")).unwrap();
    assert_eq!(zs, vec![1030, 100]);
    assert_eq!(z[..z13.len()], z13[..]);
    let (_, labels) = tapegan::io::npy::read_npy_i64(&dir.join("big_labels.npy")).unwrap();
    assert_eq!((labels[0], labels[1029]), (0, 9));

    assert_one_line_error(
        &tapegan(&["sample", "--run", run, "--label", "12", "--out", "x.png"]),
        "--label 12",
    );
    assert_one_line_error(
        &tapegan(&["sample", "--run", run, "--out", "x.jpg"]),
        ".png or .npy",
    );
    assert_one_line_error(&sample("20000", png_out), "between 1 and 10000 for");
    assert_one_line_error(&sample("0", npy_out), "--n must be at least 1, got 0");
    assert_one_line_error(
        &sample("20000000", npy_out),
        "(with their noise) would take 66 GiB of memory; draw at most 1211898",
    );
    assert_one_line_error(
        &tapegan(&["eval", "--run", run, "--n", "1000000"]),
        "--n must be between 2 and 100000",
    );
    assert_one_line_error(
        &tapegan(&["sample", "--run", "/nonexistent-run", "--out", "x.png"]),
        "not a tapegan run directory (does not exist)",
    );
    std::fs::write(
        dir.join("checkpoint/generator.safetensors"),
        b"not safetensors",
    )
    .unwrap();
    assert_one_line_error(
        &tapegan(&["sample", "--run", run, "--out", "x.png"]),
        "generator.safetensors",
    );
}

#[test]
fn a_diverged_generator_is_an_error_not_samples_or_scores() {
    let dir = tmp("nan-generator");
    tiny_run("mlp-gan-small", &dir, &[]);
    assert_one_line_error(
        &tapegan(&["eval", "--run", dir.to_str().unwrap(), "--n", "1"]),
        "--n must be between 2 and 100000, got 1; the Fréchet distance",
    );
    let g = dir.join("checkpoint/generator.safetensors");
    let (values, meta) = tapegan::io::read_state(&g).unwrap();
    let nan: Vec<(String, tapegan::nn::HostValue)> = values
        .into_iter()
        .map(|(k, v)| match v {
            tapegan::nn::HostValue::F32 { shape, data } => (
                k,
                tapegan::nn::HostValue::F32 {
                    shape,
                    data: vec![f32::NAN; data.len()],
                },
            ),
            other => (k, other),
        })
        .collect();
    tapegan::io::write_state(&g, &nan, &meta).unwrap();
    let run = dir.to_str().unwrap();
    let png = dir.join("s.png");
    // Named when the checkpoint is read, by every command that reads it.
    for args in [
        vec!["sample", "--run", run, "--out", png.to_str().unwrap()],
        vec!["eval", "--run", run, "--n", "16"],
        vec!["train", "--resume", run, "--steps", "3", "-q"],
    ] {
        assert_one_line_error(
            &tapegan(&args),
            "generator.safetensors: 'net.0.bias' holds NaN or infinite values",
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn profile_prints_the_kernel_table_and_writes_a_trace() {
    let dir = tmp("profile");
    let trace = dir.join("t.json");
    let out = tapegan(&[
        "profile",
        "--preset",
        "toy-wgan-clip",
        "--steps",
        "1",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("matmul"), "{table}");
    let json = std::fs::read_to_string(&trace).unwrap();
    assert!(json.contains("\"traceEvents\""), "{json}");
    assert_one_line_error(
        &tapegan(&[
            "profile",
            "--preset",
            "mlp-cwgan-gp",
            "--set",
            "data=grid25",
        ]),
        "mlp-cwgan-gp is conditional and needs labelled data",
    );
    // Its length is --steps alone.
    assert_one_line_error(
        &tapegan(&["profile", "--preset", "mlp-gan", "--set", "steps=0"]),
        "--set steps=0: profile runs --steps N steps",
    );
    // A profile never checkpoints, so its divergence speaks of none.
    let out = tapegan(&[
        "profile",
        "--preset",
        "mlp-gan-small",
        "--steps",
        "2",
        "--set",
        "lr_g=1e38",
        "--set",
        "lr_d=1e38",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "training diverged: step 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reader that stops early (`tapegan presets | head -0`) ends the process as it ends any
/// Unix tool, by SIGPIPE, without an "internal error" line. The pipe's read end is closed
/// before the process starts, so its first print meets a closed pipe.
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_tapegan"))
        .arg("presets")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "nothing on stderr expected: {err}");
    // 13: SIGPIPE on Linux, macOS and the BSDs.
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}
