//! Linear and Embedding against PyTorch.

use super::common::*;
use super::golden::*;
use tapegan::nn::{load_state_dict, named_parameters, Ctx, Embedding, Init, Linear, Module};
use tapegan::Tensor;

fn linear_case(name: &'static str, bias: bool) {
    let g = G::load(name);
    let mut r = rng();
    let lin = Linear::new(&gpu(), 5, 3, bias, Init::PyTorch, &mut r).unwrap();
    load_state_dict(&lin, &g.state()).unwrap();
    let x = g.var("x");
    let out = lin.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    let mut wrt = vec![("x", &x), ("weight", lin.weight.param())];
    if let Some(b) = &lin.bias {
        wrt.push(("bias", b));
    }
    check_grads(&g, &loss, &wrt);
    let names: Vec<String> = named_parameters(&lin).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        if bias {
            vec!["weight", "bias"]
        } else {
            vec!["weight"]
        }
    );
}

#[test]
fn linear_forward_and_gradients() {
    linear_case("layer_linear", true);
}

#[test]
fn linear_without_bias() {
    linear_case("layer_linear_nobias", false);
}

#[test]
fn embedding_forward_and_weight_gradient_with_repeated_labels() {
    let g = G::load("layer_embedding");
    let mut r = rng();
    let emb = Embedding::new(&gpu(), 6, 4, &mut r).unwrap();
    load_state_dict(&emb, &g.state()).unwrap();
    let labels: Vec<u32> = g.vals("labels").iter().map(|&v| v as u32).collect();
    let x = Tensor::from_u32(&gpu(), &labels, &[labels.len()]).unwrap();
    let out = emb.forward(&x, &mut Ctx::train(&mut r)).unwrap();
    g.check(&out, "out");
    let loss = weighted_sum(&out, &g.t("gout"));
    check_grads(&g, &loss, &[("weight", &emb.weight)]);
    // Row 4 is never picked; row 1 three times.
    assert!(g.vals("grad.weight")[16..20].iter().all(|&v| v == 0.0));
}
