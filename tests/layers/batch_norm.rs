//! BatchNorm1d/2d against PyTorch: training forward, gradients, running statistics, evaluation.

use std::collections::HashMap;

use super::common::*;
use super::golden::*;
use tapegan::nn::{load_state_dict, state_dict, BatchNorm, Ctx, HostValue, Module, NormConfig};

fn batch_norm_case(name: &'static str, config: NormConfig) {
    let g = G::load(name);
    let c = g.shape("sd.weight")[0];
    let bn = BatchNorm::new(&gpu(), c, config).unwrap();
    load_state_dict(&bn, &g.state()).unwrap();
    assert_eq!(
        bn.num_batches_tracked
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let mut r = rng();

    // First training step: output and gradients.
    let x0 = g.var("x0");
    let out = bn.forward(&x0, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    check_grads(
        &g,
        &loss,
        &[("x", &x0), ("weight", &bn.weight), ("bias", &bn.bias)],
    );

    // Two more steps on different batches, then the running statistics.
    for k in ["x1", "x2"] {
        bn.forward(&g.t(k), &mut Ctx::train(&mut r)).unwrap();
    }
    g.check(&bn.running_mean, "running_mean");
    g.check(&bn.running_var, "running_var");
    let sd: HashMap<String, HostValue> = state_dict(&bn).unwrap().into_iter().collect();
    assert_eq!(
        sd["num_batches_tracked"],
        HostValue::Int(3),
        "{name}: num_batches_tracked"
    );
    assert_eq!(g.vals("num_batches_tracked"), &[3.0]);

    // Evaluation uses (and leaves alone) the running statistics.
    let out = bn.forward(&g.t("x_eval"), &mut Ctx::eval(&mut r)).unwrap();
    g.check(&out, "out_eval");
    g.check(&bn.running_mean, "running_mean");
    g.check(&bn.running_var, "running_var");
    assert_eq!(
        bn.num_batches_tracked
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn batch_norm_1d_matches_pytorch() {
    batch_norm_case("layer_bn1d", NormConfig::pytorch());
}

#[test]
fn batch_norm_2d_matches_pytorch() {
    batch_norm_case("layer_bn2d", NormConfig::pytorch());
}

#[test]
fn batch_norm_keras_config_uses_biased_running_variance() {
    // eps 1e-3, momentum 0.01, biased running variance (the golden computes these by hand).
    batch_norm_case("layer_bn2d_keras", NormConfig::keras());
}
