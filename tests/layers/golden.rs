//! Access to the golden files of `scripts/goldens_layers.py`, and the checks every layer test
//! uses.

use std::collections::HashMap;

use super::common::*;
use tapegan::nn::{Ctx, HostValue, Module};
use tapegan::{grad, Generator, Tensor};

/// One golden file of `scripts/goldens_layers.py`.
pub(crate) struct G {
    pub(crate) name: &'static str,
    pub(crate) d: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl G {
    pub(crate) fn load(name: &'static str) -> G {
        G {
            name,
            d: golden(name),
        }
    }

    pub(crate) fn get(&self, k: &str) -> &(Vec<usize>, Vec<f32>) {
        self.d
            .get(k)
            .unwrap_or_else(|| panic!("{}: no key {k:?} in the golden file", self.name))
    }

    pub(crate) fn vals(&self, k: &str) -> &[f32] {
        &self.get(k).1
    }

    pub(crate) fn shape(&self, k: &str) -> &[usize] {
        &self.get(k).0
    }

    /// The stored tensor `k`, uploaded.
    pub(crate) fn t(&self, k: &str) -> Tensor {
        let (s, v) = self.get(k);
        t(v, s)
    }

    /// The stored tensor `k`, uploaded as a variable.
    pub(crate) fn var(&self, k: &str) -> Tensor {
        let (s, v) = self.get(k);
        var(v, s)
    }

    /// The `sd.*` entries as a state dict (`num_batches_tracked` as an integer).
    pub(crate) fn state(&self) -> HashMap<String, HostValue> {
        self.d
            .iter()
            .filter_map(|(k, (s, v))| {
                let key = k.strip_prefix("sd.")?;
                let hv = if key.ends_with("num_batches_tracked") {
                    HostValue::Int(v[0] as i64)
                } else {
                    HostValue::F32 {
                        shape: s.clone(),
                        data: v.clone(),
                    }
                };
                Some((key.to_string(), hv))
            })
            .collect()
    }

    /// `got` against the stored `k`: same shape, |got − want| ≤ 1e-4·|want| + 1e-5·max|want|.
    pub(crate) fn check(&self, got: &Tensor, k: &str) {
        self.check_tol(got, k, 1e-4, 1e-5);
    }

    pub(crate) fn check_tol(&self, got: &Tensor, k: &str, rtol: f32, atol_rel: f32) {
        let what = format!("{}/{k}", self.name);
        assert_eq!(got.shape(), self.shape(k), "{what}: shape");
        close_tol(&got.to_vec().unwrap(), self.vals(k), rtol, atol_rel, &what);
    }
}

/// |got − want| ≤ rtol·|want| + atol_rel·max|want| elementwise (the absolute part covers
/// elements that are small only through cancellation).
pub(crate) fn close_tol(got: &[f32], want: &[f32], rtol: f32, atol_rel: f32, what: &str) {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert_close(got, want, rtol, atol_rel * scale + 1e-7, what);
}

pub(crate) fn close(got: &[f32], want: &[f32], what: &str) {
    close_tol(got, want, 1e-4, 1e-5, what);
}

pub(crate) fn rng() -> Generator {
    Generator::new(7)
}

/// Σ out ⊙ gout: the scalar whose gradients the goldens store as `grad.*`.
pub(crate) fn weighted_sum(out: &Tensor, gout: &Tensor) -> Tensor {
    out.mul(gout).unwrap().sum_all().unwrap()
}

/// Gradients of `loss` w.r.t. each (golden key, tensor), checked against `grad.<key>`.
pub(crate) fn check_grads(g: &G, loss: &Tensor, wrt: &[(&str, &Tensor)]) {
    let ts: Vec<&Tensor> = wrt.iter().map(|(_, t)| *t).collect();
    let grads = grad(&[loss], &ts, false).unwrap();
    for ((k, _), gr) in wrt.iter().zip(&grads) {
        g.check(gr, &format!("grad.{k}"));
    }
}

/// What a fused op is compared on against its unfused ops: `out`'s values, the gradients of
/// `loss` for `wrt` (whose first entry is the input x), and the gradients for `wrt` of the
/// penalty Σ (∂loss/∂x)², a WGAN-GP critic's double backward. A tensor the penalty does not
/// reach gives an empty vector.
pub(crate) fn values_and_penalty_grads(
    out: &Tensor,
    loss: &Tensor,
    wrt: &[&Tensor],
) -> Vec<Vec<f32>> {
    let mut all = vec![out.to_vec().unwrap()];
    for g in grad(&[loss], wrt, false).unwrap() {
        all.push(g.to_vec().unwrap());
    }
    let gx = grad(&[loss], &wrt[..1], true).unwrap().remove(0);
    let penalty = gx.square().unwrap().sum_all().unwrap();
    let opts = tapegan::GradOptions {
        allow_unused: true,
        ..tapegan::GradOptions::default()
    };
    for g in tapegan::grad_with(&[&penalty], wrt, &opts).unwrap() {
        all.push(g.map_or(vec![], |g| g.to_vec().unwrap()));
    }
    all
}

/// Compares what [`values_and_penalty_grads`] gave for a fused op (`outs[0]`) and for its
/// unfused ops (`outs[1]`), for inputs x, W and, with `bias`, b.
pub(crate) fn close_fused_to_unfused(outs: &[Vec<Vec<f32>>], bias: bool, what: &str) {
    let names = [
        "y",
        "dx",
        "dW",
        "db",
        "penalty dx",
        "penalty dW",
        "penalty db",
    ];
    let names: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| bias || !n.ends_with("db"))
        .collect();
    for (i, (f, u)) in outs[0].iter().zip(&outs[1]).enumerate() {
        close(f, u, &format!("{what}: {}", names[i]));
    }
}

/// The goldens' miniature WGAN-GP critic around `layer` (training mode): 1×1 channel mixing
/// by the golden's M, the layer, a read-out against its r. Checks the critic's output `d`
/// and input gradient `g1`; returns M, the per-sample gradient norms and the penalty
/// mean((‖g1‖ − 1)²), for the caller's golden and second-order checks.
pub(crate) fn critic_penalty(g: &G, x: &Tensor, layer: &dyn Module) -> (Tensor, Tensor, Tensor) {
    let m = g.var("M");
    let [n, c, h, w] = *x.shape() else {
        panic!("{}: x is not 4-d", g.name)
    };
    let hh = m
        .matmul(&x.reshape(&[n, c, h * w]).unwrap())
        .unwrap()
        .reshape(&[n, c, h, w])
        .unwrap();
    let mut r = rng();
    let d = layer
        .forward(&hh, &mut Ctx::train(&mut r))
        .unwrap()
        .mul(&g.t("r"))
        .unwrap()
        .sum(&[1, 2, 3], false)
        .unwrap();
    g.check(&d, "d");
    let g1 = grad(&[&d.sum_all().unwrap()], &[x], true)
        .unwrap()
        .remove(0);
    g.check(&g1, "g1");
    let norms = g1.square().unwrap().sum(&[1, 2, 3], false).unwrap();
    let norms = norms.sqrt().unwrap();
    let gp = norms.add_scalar(-1.0).unwrap().square().unwrap();
    (m, norms, gp.mean_all().unwrap())
}
