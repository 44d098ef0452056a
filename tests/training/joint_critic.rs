//! The trainers run a discriminator that computes each sample alone (`Module::per_sample`)
//! once on the real and the fake batch joined. That is only right if the joined call equals
//! two separate ones — outputs and parameter gradients — and if every layer that couples
//! samples or keeps per-call state says so.
use crate::common::*;
use tapegan::gan::step::real_and_fake;
use tapegan::models::{build, find, Net};
use tapegan::nn::{parameters, Ctx, Module};
use tapegan::{grad, Generator, Tensor};

fn critic(preset: &str) -> Net {
    let cfg = find(preset).unwrap().config.clone();
    build(&gpu(), &cfg, &mut Generator::new(3)).unwrap().1
}

#[test]
fn per_sample_is_false_where_samples_are_coupled() {
    // Batch norm (dcgan-28, dcgan-celeba) and spectral norm (sagan-64) couple; the MLP, toy,
    // instance-norm and plain conv critics do not.
    for (preset, want) in [
        ("toy-wgan-clip", true),
        ("toy-wgan-gp", true),
        ("mlp-gan", true),
        ("mlp-cwgan-gp", true),
        ("wgan-gp-28", true),
        ("dcgan-64", true),
        ("dcgan-28", false),
        ("dcgan-celeba", false),
        ("sagan-64", false),
    ] {
        assert_eq!(critic(preset).per_sample(), want, "{preset}");
    }
}

/// D's outputs on `real` and `fake` and the gradients of mean(D(fake)) − mean(D(real)) with
/// respect to its parameters, from the trainers' joined call or from two calls.
fn critic_pass(
    d: &Net,
    real: &Tensor,
    fake: &Tensor,
    labels: Option<&Tensor>,
    joined: bool,
    train: bool,
) -> Vec<Vec<f32>> {
    let mut rng = Generator::new(5);
    let mut ctx = if train {
        Ctx::train(&mut rng)
    } else {
        Ctx::eval(&mut rng)
    };
    let (d_real, d_fake) = if joined {
        assert!(d.per_sample());
        real_and_fake(d, real, fake, labels, &mut ctx, false).unwrap()
    } else {
        (
            d.forward(real, labels, &mut ctx).unwrap(),
            d.forward(fake, labels, &mut ctx).unwrap(),
        )
    };
    let loss = d_fake
        .mean_all()
        .unwrap()
        .sub(&d_real.mean_all().unwrap())
        .unwrap();
    let params = parameters(d);
    let grads = grad(&[&loss], &params.iter().collect::<Vec<_>>(), false).unwrap();
    let mut out = vec![d_real.to_vec().unwrap(), d_fake.to_vec().unwrap()];
    out.extend(grads.iter().map(|g| g.to_vec().unwrap()));
    out
}

#[test]
fn one_call_on_joined_batches_equals_two_calls() {
    let gpu = gpu();
    let mut rng = Generator::new(11);
    // Training mode, except for the conditional critic: its dropout draws other masks
    // from the random stream when the batches are joined (alike in distribution only).
    for (preset, sample, train) in [
        ("toy-wgan-clip", vec![2], true),
        ("wgan-gp-28", vec![1, 28, 28], true),
        ("mlp-cwgan-gp", vec![784], false),
    ] {
        let d = critic(preset);
        let n = 6;
        let shape: Vec<usize> = [n].into_iter().chain(sample).collect();
        let real = rng.normal(&gpu, &shape, 0.0, 1.0).unwrap();
        let fake = rng.normal(&gpu, &shape, 0.5, 1.0).unwrap();
        let labels =
            (d.classes() > 0).then(|| Tensor::from_u32(&gpu, &[0, 3, 9, 1, 1, 7], &[n]).unwrap());
        let two = critic_pass(&d, &real, &fake, labels.as_ref(), false, train);
        let one = critic_pass(&d, &real, &fake, labels.as_ref(), true, train);
        let names = ["D(real)", "D(fake)"].map(String::from).into_iter();
        let names = names.chain((0..).map(|i| format!("gradient of parameter {i}")));
        // Joined batches may take other matmul tiles (another summation order): rounding
        // only. A bias gradient of mean − mean is a difference of terms of size 1.
        for ((a, b), what) in one.iter().zip(&two).zip(names) {
            assert_close(a, b, 1e-4, 1e-6, &format!("{preset}: {what}"));
        }
    }
}
