//! Run directories on resume and reuse: changed settings, finished runs, mixed checkpoints,
//! folders that are not runs, and the lock that keeps one process per run.

use super::common::{tapegan, tiny_run};
use super::{assert_one_line_error, tmp};

#[test]
fn resume_with_a_changed_setting_is_refused() {
    let dir = tmp("resume");
    tiny_run("toy-wgan-gp", &dir, &["--set", "hidden=16"]);
    let out = tapegan(&[
        "train",
        "--resume",
        dir.to_str().unwrap(),
        "--set",
        "lr_g=1",
    ]);
    assert_one_line_error(&out, "cannot resume with lr_g");
    let out = tapegan(&[
        "train",
        "--resume",
        dir.to_str().unwrap(),
        "--steps",
        "3",
        "-q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn resume_refuses_finished_runs_mixed_checkpoints_and_other_directories() {
    let dir = tmp("resume-checks");
    tiny_run("mlp-gan-small", &dir, &[]);
    let run = dir.to_str().unwrap();
    // --steps is the total: at step 2, asking for 2 trains nothing and is refused.
    assert_one_line_error(
        &tapegan(&["train", "--resume", run, "--steps", "2", "-q"]),
        "the run is at step 2",
    );
    // A generator from another step than the optimizer state is not one checkpoint.
    let other = tmp("resume-other");
    tiny_run("mlp-gan-small", &other, &["--set", "steps=3"]);
    std::fs::copy(
        other.join("checkpoint/generator.safetensors"),
        dir.join("checkpoint/generator.safetensors"),
    )
    .unwrap();
    assert_one_line_error(
        &tapegan(&["train", "--resume", run, "--steps", "4", "-q"]),
        "the checkpoint mixes steps",
    );
    // A run stopped before its first checkpoint: its folder may hold a new run, which
    // starts from scratch (its old losses are gone) ...
    std::fs::remove_dir_all(dir.join("checkpoint")).unwrap();
    // ... unless another process trains there (this test holds the lock in its stead).
    let held = std::fs::File::create(dir.join("tapegan.lock")).unwrap();
    held.try_lock().unwrap();
    for args in [
        vec!["train", "--resume", run, "-q"],
        vec!["train", "--preset", "mlp-gan-small", "--out", run, "-q"],
    ] {
        assert_one_line_error(&tapegan(&args), "is in use by tapegan process");
        assert!(
            dir.join("losses.csv").exists(),
            "{args:?} cleared a live run"
        );
    }
    // A lock ends with its holder; the file left behind blocks nothing.
    drop(held);
    let stale_losses = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    tiny_run("mlp-gan-small", &dir, &["--set", "steps=1"]);
    let losses = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    assert!(
        losses.lines().count() < stale_losses.lines().count(),
        "{losses}"
    );
    let empty = tmp("resume-empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_one_line_error(
        &tapegan(&["train", "--resume", empty.to_str().unwrap(), "-q"]),
        "not a tapegan run directory (has no config.toml)",
    );
    for d in [dir, other, empty] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
