//! Spectral normalisation against PyTorch: power iteration, σ, buffers.

use std::collections::HashMap;

use super::common::*;
use super::golden::*;
use tapegan::grad;
use tapegan::nn::{
    init, load_state_dict, state_dict, Ctx, HostValue, Init, Linear, Module, SpectralNorm,
};

fn spectral_norm_case(name: &'static str, dim: usize) {
    let g = G::load(name);
    let mut r = rng();
    let w = init::weight(&gpu(), g.shape("weight_orig"), Init::PyTorch, &mut r).unwrap();
    let sn = SpectralNorm::new(w, dim, &mut r).unwrap();
    assert_eq!(sn.u.shape(), g.shape("u0"), "{name}: u shape");
    assert_eq!(sn.v.shape(), g.shape("v0"), "{name}: v shape");
    // Fresh u, v are unit vectors.
    for (k, t) in [("u", &sn.u), ("v", &sn.v)] {
        let n = norm(&t.to_vec().unwrap());
        assert!((n - 1.0).abs() < 1e-5, "{name}: fresh {k} has norm {n}");
    }
    sn.weight_orig.write(g.vals("weight_orig")).unwrap();
    sn.u.write(g.vals("u0")).unwrap();
    sn.v.write(g.vals("v0")).unwrap();

    // One training forward: one power-iteration step, stored back into u and v.
    let w1 = sn.weight(true).unwrap();
    g.check(&w1, "weight1");
    g.check(&sn.u, "u1");
    g.check(&sn.v, "v1");
    // Gradient through W/σ with u, v held constant.
    let loss = weighted_sum(&w1, &g.t("r"));
    let gw = grad(&[&loss], &[&sn.weight_orig], false).unwrap().remove(0);
    g.check(&gw, "grad1");
    // σ with the stored vectors (evaluation mode does not iterate).
    let u1 = sn.u.to_vec().unwrap();
    g.check(&sn.sigma(false).unwrap(), "sigma1");
    assert_eq!(sn.u.to_vec().unwrap(), u1, "{name}: eval-mode σ changed u");

    // Four more training forwards (five in all).
    for _ in 0..4 {
        sn.weight(true).unwrap();
    }
    g.check(&sn.u, "u5");
    g.check(&sn.v, "v5");
    g.check(&sn.sigma(false).unwrap(), "sigma5");
    let (u5, v5) = (sn.u.to_vec().unwrap(), sn.v.to_vec().unwrap());
    // An eval forward uses u5, v5 as stored and leaves them alone.
    let we = sn.weight(false).unwrap();
    g.check(&we, "weight5");
    assert_eq!(sn.u.to_vec().unwrap(), u5, "{name}: eval forward changed u");
    assert_eq!(sn.v.to_vec().unwrap(), v5, "{name}: eval forward changed v");
}

#[test]
fn spectral_norm_linear_weight() {
    spectral_norm_case("layer_sn_linear", 0);
}

#[test]
fn spectral_norm_conv_weight() {
    spectral_norm_case("layer_sn_conv", 0);
}

#[test]
fn spectral_norm_conv_transpose_weight_dim1() {
    spectral_norm_case("layer_sn_convt", 1);
}

#[test]
fn spectral_norm_linear_layer_uses_w_over_sigma_in_training_only_updates() {
    // Linear::spectral_norm end to end with the golden's W, u0, v0 (bias zero).
    let g = G::load("layer_sn_linear");
    let mut r = rng();
    let lin = Linear::new(&gpu(), 7, 5, true, Init::PyTorch, &mut r)
        .unwrap()
        .spectral_norm(&mut r)
        .unwrap();
    let mut sd = HashMap::new();
    for (k, src) in [
        ("weight_orig", "weight_orig"),
        ("weight_u", "u0"),
        ("weight_v", "v0"),
    ] {
        let (s, v) = g.get(src);
        sd.insert(
            k.to_string(),
            HostValue::F32 {
                shape: s.clone(),
                data: v.clone(),
            },
        );
    }
    sd.insert(
        "bias".into(),
        HostValue::F32 {
            shape: vec![5],
            data: vec![0.0; 5],
        },
    );
    load_state_dict(&lin, &sd).unwrap();
    let xs = rand_vec(14, 5, -1.0, 1.0);
    let x = t(&xs, &[2, 7]);
    let y = lin
        .forward(&x, &mut Ctx::train(&mut r))
        .unwrap()
        .to_vec()
        .unwrap();
    // y = x·(W/σ)ᵀ with the golden weight1.
    let w1 = g.vals("weight1");
    let (xs, w1) = (&xs, w1);
    let want: Vec<f32> = (0..2)
        .flat_map(|i| {
            (0..5).map(move |o| (0..7).map(|j| xs[i * 7 + j] * w1[o * 7 + j]).sum::<f32>())
        })
        .collect();
    close_tol(&y, &want, 1e-4, 1e-5, "sn linear forward");
    let sd: HashMap<String, HostValue> = state_dict(&lin).unwrap().into_iter().collect();
    let HostValue::F32 { data: u, .. } = &sd["weight_u"] else {
        panic!()
    };
    close(
        u,
        g.vals("u1"),
        "sn linear weight_u after a training forward",
    );
    // Evaluation does not move u.
    lin.forward(&x, &mut Ctx::eval(&mut r)).unwrap();
    let sd2: HashMap<String, HostValue> = state_dict(&lin).unwrap().into_iter().collect();
    assert_eq!(sd["weight_u"], sd2["weight_u"]);
}
