//! State-dict names and shapes, as PyTorch names them.

use std::collections::HashMap;

use super::common::*;
use super::golden::*;
use tapegan::nn::{
    init, load_state_dict, state_dict, Act, Activation, BatchNorm, Embedding, HostValue, Init,
    Linear, Module, NormConfig, SelfAttention, Sequential, SpectralNorm,
};

/// The module's state-dict keys and shapes equal those of the PyTorch twin; loading the twin's
/// values and reading them back is exact.
fn keys_match(golden_name: &'static str, m: &dyn Module) {
    let g = G::load(golden_name);
    let want: HashMap<String, Vec<usize>> =
        g.d.iter()
            .filter_map(|(k, (s, _))| Some((k.strip_prefix("sd.")?.to_string(), s.clone())))
            .collect();
    let got: HashMap<String, Vec<usize>> = state_dict(m)
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                HostValue::F32 { shape, .. } => shape,
                HostValue::Int(_) => vec![],
            };
            (k, s)
        })
        .collect();
    let mut gk: Vec<_> = got.iter().collect();
    let mut wk: Vec<_> = want.iter().collect();
    gk.sort();
    wk.sort();
    assert_eq!(gk, wk, "{golden_name}: state-dict keys and shapes");
    load_state_dict(m, &g.state()).unwrap();
    for (k, v) in state_dict(m).unwrap() {
        match v {
            HostValue::F32 { data, .. } => {
                assert_eq!(data, g.vals(&format!("sd.{k}")), "{golden_name}/{k}")
            }
            HostValue::Int(i) => {
                assert_eq!(i as f32, g.vals(&format!("sd.{k}"))[0], "{golden_name}/{k}")
            }
        }
    }
}

#[test]
fn state_dict_names_and_shapes_match_pytorch() {
    let gpu = gpu();
    let mut r = rng();
    keys_match(
        "layer_keys_linear",
        &Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r).unwrap(),
    );
    keys_match(
        "layer_keys_bn2d",
        &BatchNorm::new(&gpu, 4, NormConfig::pytorch()).unwrap(),
    );
    keys_match(
        "layer_keys_embedding",
        &Embedding::new(&gpu, 10, 6, &mut r).unwrap(),
    );
    keys_match(
        "layer_keys_sn_linear",
        &Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r)
            .unwrap()
            .spectral_norm(&mut r)
            .unwrap(),
    );
    keys_match(
        "layer_keys_attention",
        &SelfAttention::new(&gpu, 16, Init::PyTorch, &mut r).unwrap(),
    );
    let seq = Sequential::new()
        .layer(Linear::new(&gpu, 5, 8, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(Activation::LeakyRelu(0.2)))
        .layer(BatchNorm::new(&gpu, 8, NormConfig::pytorch()).unwrap())
        .layer(Linear::new(&gpu, 8, 2, true, Init::PyTorch, &mut r).unwrap())
        .layer(Act(Activation::Tanh));
    keys_match("layer_keys_sequential", &seq);
}

#[test]
fn spectral_norm_vector_shapes_match_pytorch_for_conv_weights() {
    // There is no convolution module in nn; the power-iteration vectors of a conv weight
    // [out, in, k, k] (dim 0) and a transposed-conv weight [in, out, k, k] (dim 1) must have
    // PyTorch's weight_u / weight_v shapes.
    let mut r = rng();
    for (name, dim) in [("layer_keys_sn_conv", 0), ("layer_keys_sn_convt", 1)] {
        let g = G::load(name);
        let w = init::weight(&gpu(), g.shape("sd.weight_orig"), Init::PyTorch, &mut r).unwrap();
        let sn = SpectralNorm::new(w, dim, &mut r).unwrap();
        assert_eq!(sn.u.shape(), g.shape("sd.weight_u"), "{name}: weight_u");
        assert_eq!(sn.v.shape(), g.shape("sd.weight_v"), "{name}: weight_v");
    }
}

#[test]
fn load_state_dict_errors_are_clear() {
    let gpu = gpu();
    let mut r = rng();
    let lin = Linear::new(&gpu, 5, 3, true, Init::PyTorch, &mut r).unwrap();
    let g = G::load("layer_keys_linear");
    let full = g.state();

    let mut missing = full.clone();
    missing.remove("bias");
    let e = load_state_dict(&lin, &missing).unwrap_err().to_string();
    assert!(e.contains("missing key 'bias'"), "{e}");

    let mut extra = full.clone();
    extra.insert(
        "foo.weight".into(),
        HostValue::F32 {
            shape: vec![1],
            data: vec![0.0],
        },
    );
    let e = load_state_dict(&lin, &extra).unwrap_err().to_string();
    assert!(
        e.contains("unexpected key 'foo.weight'") && e.contains("weight, bias"),
        "{e}"
    );

    let mut wrong = full.clone();
    wrong.insert(
        "weight".into(),
        HostValue::F32 {
            shape: vec![5, 3],
            data: vec![0.0; 15],
        },
    );
    let e = load_state_dict(&lin, &wrong).unwrap_err().to_string();
    assert!(
        e.contains("'weight'") && e.contains("[5, 3]") && e.contains("[3, 5]"),
        "{e}"
    );

    let bn = BatchNorm::new(&gpu, 4, NormConfig::pytorch()).unwrap();
    let mut bad = G::load("layer_keys_bn2d").state();
    bad.insert("running_mean".into(), HostValue::Int(1));
    let e = load_state_dict(&bn, &bad).unwrap_err().to_string();
    assert!(e.contains("'running_mean'"), "{e}");

    // A failed load of a wrong shape leaves the layer usable with a correct one afterwards.
    load_state_dict(&lin, &full).unwrap();
}
