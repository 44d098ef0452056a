//! Shared test support: one GPU context per test binary, tolerance checks, golden files.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::OnceLock;

use tapegan::{Gpu, Tensor};

/// The test device. Tests never skip for lack of an adapter: they fail saying how to get one.
pub fn gpu() -> Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        tapegan::gpu::quiet_platform_probes();
        match Gpu::new() {
            Ok(g) => g,
            Err(e) => panic!(
                "{e}\nTests need a GPU adapter. On a machine without a GPU install Mesa's software \
                 Vulkan driver: apt-get install -y mesa-vulkan-drivers"
            ),
        }
    })
    .clone()
}

/// Runs the `tapegan` binary built with the tests and returns its output.
pub fn tapegan(args: &[&str]) -> std::process::Output {
    // Each call runs in a fresh folder of its own, outside the repository: a run without
    // --out goes to ./runs, and the shipped data must be found from any folder.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cwd = std::env::temp_dir().join(format!("tapegan-cwd-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&cwd).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tapegan"))
        .args(args)
        .current_dir(&cwd)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs");
    std::fs::remove_dir_all(&cwd).unwrap();
    out
}

/// Trains `preset` for two tiny steps into `dir` (batch 8 from 16 examples, no samples) with
/// the extra arguments `extra`, and asserts that the run succeeded.
pub fn tiny_run(preset: &str, dir: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "train",
        "--preset",
        preset,
        "--steps",
        "2",
        "--out",
        dir.to_str().unwrap(),
        "-q",
        "--set",
        "batch=8",
        "--set",
        "limit=16",
        "--set",
        "sample_every=0",
    ];
    args.extend(extra);
    let out = tapegan(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Uploads f32 data.
pub fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(&gpu(), data, shape).unwrap()
}

/// Uploads f32 data as a leaf that requires grad.
pub fn var(data: &[f32], shape: &[usize]) -> Tensor {
    t(data, shape).with_grad().unwrap()
}

/// Deterministic pseudo-random values in [lo, hi) (xorshift; no GPU involved).
pub fn rand_vec(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// Asserts that a result has the expected number of elements.
pub fn assert_len(got: usize, want: usize, what: &str) {
    assert_eq!(got, want, "{what}: length {got} vs {want}");
}

/// Asserts |got − want| ≤ atol + rtol·|want| elementwise, naming the first offender.
pub fn assert_close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_len(got.len(), want.len(), what);
    let mut worst = (0usize, 0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let tol = atol + rtol * w.abs();
        let excess = if err.is_nan() || g.is_nan() != w.is_nan() {
            f32::INFINITY
        } else {
            err - tol
        };
        if excess > worst.1 {
            worst = (i, excess);
        }
    }
    if worst.1 > 0.0 {
        let i = worst.0;
        panic!(
            "{what}: element {i}: got {} want {} (rtol {rtol}, atol {atol})",
            got[i], want[i]
        );
    }
}

/// Reads `tests/goldens/<name>.safetensors` (written by `scripts/goldens.py`) as
/// name → (shape, f32 values).
pub fn golden(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let path = format!(
        "{}/tests/goldens/{name}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            assert_eq!(
                v.dtype(),
                safetensors::Dtype::F32,
                "{name}/{k}: goldens are f32"
            );
            let vals: Vec<f32> = bytemuck::pod_collect_to_vec(v.data());
            (k, (v.shape().to_vec(), vals))
        })
        .collect()
}

/// One golden case of `scripts/goldens.py`, with its inputs uploaded: `in.<k>` as variables
/// (requires grad), `const.<k>` as plain f32 tensors, `int.<k>` as u32 tensors.
pub struct Case {
    pub name: String,
    pub data: HashMap<String, (Vec<usize>, Vec<f32>)>,
    tensors: HashMap<String, Tensor>,
}

impl Case {
    pub fn load(name: &str) -> Case {
        let data = golden(name);
        let mut tensors = HashMap::new();
        for (k, (shape, vals)) in &data {
            if let Some(n) = k.strip_prefix("in.") {
                tensors.insert(n.to_string(), var(vals, shape));
            } else if let Some(n) = k.strip_prefix("const.") {
                tensors.insert(n.to_string(), t(vals, shape));
            } else if let Some(n) = k.strip_prefix("int.") {
                let ints: Vec<u32> = vals
                    .iter()
                    .map(|&v| {
                        assert!(
                            v >= 0.0 && v.fract() == 0.0,
                            "{name}/{k}: {v} is not an index"
                        );
                        v as u32
                    })
                    .collect();
                tensors.insert(
                    n.to_string(),
                    Tensor::from_u32(&gpu(), &ints, shape).unwrap(),
                );
            }
        }
        Case {
            name: name.to_string(),
            data,
            tensors,
        }
    }

    /// The uploaded input `k` (an `in.`, `const.` or `int.` key without its prefix).
    pub fn x(&self, k: &str) -> &Tensor {
        self.tensors
            .get(k)
            .unwrap_or_else(|| panic!("{}: no input {k:?} in the golden file", self.name))
    }

    /// Names of the differentiable inputs (`in.<k>`), sorted.
    pub fn inputs(&self) -> Vec<String> {
        self.with_prefix("in.")
    }

    /// Names after `prefix` of every key that has it, sorted.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .data
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// Shape and values stored under `key`.
    pub fn want(&self, key: &str) -> &(Vec<usize>, Vec<f32>) {
        self.data
            .get(key)
            .unwrap_or_else(|| panic!("{}: no key {key:?} in the golden file", self.name))
    }

    /// Uploads the stored tensor `key` (not a variable).
    pub fn upload(&self, key: &str) -> Tensor {
        let (shape, vals) = self.want(key);
        t(vals, shape)
    }

    /// Checks `got` (shape and values) against the stored `key` with `tol`.
    pub fn check(&self, got: &Tensor, key: &str, tol: Tol) {
        let (shape, vals) = self.want(key);
        let what = format!("{}/{key}", self.name);
        assert_eq!(got.shape(), shape.as_slice(), "{what}: shape");
        tol.assert(&got.to_vec().unwrap(), vals, &what);
    }

    /// Checks an optional gradient: `None` (no dependence) must match a golden of zeros.
    pub fn check_opt(&self, got: Option<&Tensor>, key: &str, tol: Tol) {
        match got {
            Some(g) => self.check(g, key, tol),
            None => {
                let (_, vals) = self.want(key);
                assert!(
                    vals.iter().all(|&v| v == 0.0),
                    "{}/{key}: no gradient, but the golden one is not zero",
                    self.name
                );
            }
        }
    }
}

/// Tolerance |got − want| ≤ rtol·|want| + atol_rel·max|want| + atol_abs, elementwise: a relative
/// bound per element plus an absolute one scaled to the tensor's magnitude (elements that are
/// near zero only through cancellation cannot be held to a relative bound in f32).
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub rtol: f32,
    pub atol_rel: f32,
    pub atol_abs: f32,
}

impl Tol {
    /// The default for goldens: 1e-4 relative, 1e-5 of the tensor's scale absolute.
    pub const GOLDEN: Tol = Tol {
        rtol: 1e-4,
        atol_rel: 1e-5,
        atol_abs: 1e-7,
    };

    pub const fn new(rtol: f32, atol_rel: f32) -> Tol {
        Tol {
            rtol,
            atol_rel,
            atol_abs: 1e-7,
        }
    }

    pub fn assert(&self, got: &[f32], want: &[f32], what: &str) {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_close(
            got,
            want,
            self.rtol,
            self.atol_rel * scale + self.atol_abs,
            what,
        );
    }
}

/// ⟨a, b⟩ in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// The directional derivative Σᵢ ⟨gradᵢ, dirᵢ⟩ of a function whose gradients are `grads`,
/// and (Σ (∂F·d)²)^½, the typical size of such a derivative along a random direction, which
/// finite-difference checks use as a tolerance floor.
pub fn directional_derivative(grads: &[Tensor], dirs: &[Vec<f32>]) -> (f64, f64) {
    let (mut analytic, mut spread2) = (0.0, 0.0);
    for (g, d) in grads.iter().zip(dirs) {
        let g = g.to_vec().unwrap();
        analytic += dot(&g, d);
        spread2 += g
            .iter()
            .zip(d)
            .map(|(&a, &b)| (a as f64 * b as f64).powi(2))
            .sum::<f64>();
    }
    (analytic, spread2.sqrt())
}

/// Euclidean norm in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Runs test `name` of the current test binary again in one child process per value of the
/// environment variable `var` (which forces a kernel family), and fails if any child fails.
/// Returns false without running anything when `var` is already set, i.e. inside a child
/// (set but empty counts as unset, as for the product's own variables).
pub fn rerun_with_env(name: &str, var: &str, values: &[&str]) -> bool {
    rerun_with_envs(name, var, values, &[])
}

/// [`rerun_with_env`], with the variables `also` set in every child as well.
pub fn rerun_with_envs(name: &str, var: &str, values: &[&str], also: &[(&str, &str)]) -> bool {
    if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
        return false;
    }
    for value in values {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args(["--exact", name, "--test-threads=1"])
            .env(var, value)
            .envs(also.iter().copied());
        // A forced tile and a forced matmul family contradict each other (an error when the
        // device opens): the child gets only the one it is run for.
        for other in ["TAPEGAN_MATMUL_TILE", "TAPEGAN_MATMUL_KERNEL"] {
            if other != var {
                child.env_remove(other);
            }
        }
        let out = child.output().unwrap();
        let log = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && log.contains("1 passed"),
            "child run with {var}={value} failed:\n{log}"
        );
    }
    true
}
