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

/// Asserts |got − want| ≤ atol + rtol·|want| elementwise, naming the first offender.
pub fn assert_close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst = (0usize, 0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let tol = atol + rtol * w.abs();
        let excess = if err.is_nan() || g.is_nan() != w.is_nan() { f32::INFINITY } else { err - tol };
        if excess > worst.1 {
            worst = (i, excess);
        }
    }
    if worst.1 > 0.0 {
        let i = worst.0;
        panic!("{what}: element {i}: got {} want {} (rtol {rtol}, atol {atol})", got[i], want[i]);
    }
}

/// Reads `tests/goldens/<name>.safetensors` (written by `scripts/goldens.py`) as
/// name → (shape, f32 values).
pub fn golden(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let path = format!("{}/tests/goldens/{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            assert_eq!(v.dtype(), safetensors::Dtype::F32, "{name}/{k}: goldens are f32");
            let vals: Vec<f32> = bytemuck::pod_collect_to_vec(v.data());
            (k, (v.shape().to_vec(), vals))
        })
        .collect()
}
