//! `tapegan eval` and `--eval-every` on tiny trained runs, and metrics.csv across a resume.

use std::path::PathBuf;
use std::process::Output;

use tapegan::metrics::toy::toy_metrics;
use tapegan::metrics::{record, Kind, Report};

use super::common::{tapegan, tiny_run};
use super::toy::grid;

#[test]
fn metrics_csv_keeps_one_row_per_step_across_a_resume() {
    let (c, sigma) = grid();
    let dir = tmp("record");
    let report = |step: u64, on: usize| {
        let pts: Vec<[f32; 2]> = (0..2500).map(|i| c[i % on]).collect();
        let m = toy_metrics(&pts, &c, sigma);
        Report {
            preset: "toy-wgan-gp".into(),
            step,
            seed: 0,
            samples: 2500,
            kind: Kind::Toy,
            metrics: tapegan::metrics::report::toy_rows(&m),
            histogram: None,
            note: None,
        }
    };
    record(&dir, &report(10, 1)).unwrap();
    record(&dir, &report(20, 5)).unwrap();
    // A run resumed from its step-15 checkpoint evaluates step 20 again: the old row goes.
    record(&dir, &report(15, 25)).unwrap();
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let steps: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["10", "15"], "{csv}");
    assert!(
        csv.lines().nth(2).unwrap().starts_with("15,25,25,100,0"),
        "{csv}"
    );
    let v = read_json(&dir.join("metrics.json"));
    assert_eq!(v["step"], 15);
    assert_eq!(v["metrics"]["modes_captured"], 25);
    let _ = std::fs::remove_dir_all(&dir);
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-metrics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn has_keys(v: &serde_json::Value, keys: &[&str]) {
    for k in keys {
        assert!(
            v["metrics"].get(k).is_some(),
            "metrics.{k} missing from {v}"
        );
    }
}

#[test]
fn eval_cli_and_eval_every_on_tiny_runs() {
    // Toy: evaluated during training (eval_every 1 → steps 1 and 2), then by `tapegan eval`.
    let toy = tmp("toy");
    let t = toy.to_str().unwrap();
    ok(&tapegan(&[
        "train",
        "--preset",
        "toy-wgan-gp",
        "--steps",
        "2",
        "--out",
        t,
        "-q",
        "--set",
        "batch=32",
        "--set",
        "limit=256",
        "--set",
        "hidden=16",
        "--set",
        "sample_every=0",
        "--set",
        "eval_every=1",
    ]));
    let csv = std::fs::read_to_string(toy.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header and steps 1, 2: {csv}");
    assert!(lines[0].starts_with("step,modes_captured,"), "{csv}");
    assert!(toy.join("metrics.png").is_file() && toy.join("metrics_kl.png").is_file());
    let table = ok(&tapegan(&["eval", "--run", t, "--seed", "3"]));
    assert!(table.contains("modes captured"), "{table}");
    let v = read_json(&toy.join("metrics.json"));
    assert_eq!(
        (
            v["kind"].as_str(),
            v["step"].as_u64(),
            v["samples"].as_u64()
        ),
        (Some("toy"), Some(2), Some(2500))
    );
    has_keys(
        &v,
        &[
            "modes_captured",
            "modes_captured_strict",
            "high_quality_pct",
            "reverse_kl",
        ],
    );
    assert_eq!(v["hq_per_mode"].as_array().map(Vec::len), Some(25));

    // Digits: `tapegan eval` with the classifier.
    let dc = tmp("dcgan28");
    let d = dc.to_str().unwrap();
    tiny_run("dcgan-28", &dc, &[]);
    let table = ok(&tapegan(&["eval", "--run", d, "--n", "200"]));
    assert!(table.contains("Fréchet distance"), "{table}");
    let v = read_json(&dc.join("metrics.json"));
    assert_eq!(v["kind"].as_str(), Some("image"));
    has_keys(
        &v,
        &[
            "classes_covered",
            "class_kl",
            "confidence_pct",
            "frechet_distance",
        ],
    );
    assert!(v["metrics"].get("conditional_accuracy_pct").is_none());
    assert_eq!(v["predicted_digits"].as_array().map(Vec::len), Some(10));
    let _ = std::fs::remove_dir_all(&toy);
    let _ = std::fs::remove_dir_all(&dc);
}
