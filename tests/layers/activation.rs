//! Activation modules: double backward (Linear → activation), slopes other than the op-level
//! goldens'.

use super::common::*;
use super::golden::*;
use tapegan::nn::{
    load_state_dict, named_parameters, Act, Activation, Ctx, Init, Linear, Module, Sequential,
};
use tapegan::{grad_with, GradOptions, Tensor};

fn activation_case(name: &'static str, act: Activation) {
    let g = G::load(name);
    let mut r = rng();
    let seq = Sequential::new()
        .layer(Linear::new(&gpu(), 5, 3, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(act));
    load_state_dict(&seq, &g.state()).unwrap();
    let x = g.var("x");
    let out = seq.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let opts = GradOptions {
        create_graph: true,
        grad_outputs: Some(vec![g.t("gout")]),
        ..Default::default()
    };
    let g1 = grad_with(&[&out], &[&x], &opts).unwrap().remove(0).unwrap();
    g.check(&g1, "g1");
    let s = g1.mul(&g.t("v")).unwrap().sum_all().unwrap();
    g.check(&s, "s");
    let params = named_parameters(&seq);
    let mut wrt: Vec<(&str, &Tensor)> = vec![("x", &x)];
    wrt.extend(params.iter().map(|(k, p)| (k.as_str(), p)));
    let ts: Vec<&Tensor> = wrt.iter().map(|(_, t)| *t).collect();
    let opts = GradOptions {
        allow_unused: true,
        ..Default::default()
    };
    let g2 = grad_with(&[&s], &ts, &opts).unwrap();
    for ((k, t), gr) in wrt.iter().zip(g2) {
        let gr = gr.unwrap_or_else(|| t.zeros_like().unwrap());
        g.check(&gr, &format!("grad2.{k}"));
    }
}

#[test]
fn leaky_relu_module_double_backward() {
    activation_case("layer_act_leaky_relu", Activation::LeakyRelu(0.2));
}

#[test]
fn elu_module_double_backward() {
    activation_case("layer_act_elu", Activation::Elu(0.5));
}
