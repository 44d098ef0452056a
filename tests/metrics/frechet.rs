//! The Fréchet distance and its symmetric eigensolver against closed forms.

use super::common::*;
use super::*;

use tapegan::metrics::frechet::{frechet_distance, sqrt_psd, sym_eigen, Gaussian};

/// A symmetric matrix M from a random B: BBᵀ + shift·I (positive definite for shift > 0).
fn spd(n: usize, seed: u64, shift: f64) -> Vec<f64> {
    gram(n, n, seed, shift)
}

/// BBᵀ + shift·I for a random n×r B: positive semi-definite of rank ≤ r when shift is 0.
fn gram(n: usize, r: usize, seed: u64, shift: f64) -> Vec<f64> {
    let b: Vec<f64> = rand_vec(n * r, seed, -1.0, 1.0)
        .iter()
        .map(|&v| v as f64)
        .collect();
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = (0..r).map(|k| b[i * r + k] * b[j * r + k]).sum::<f64>();
        }
        m[i * n + i] += shift;
    }
    m
}

#[test]
fn jacobi_eigendecomposition_reconstructs_the_matrix() {
    let n = 40;
    let m = spd(n, 3, 0.0);
    let (w, v) = sym_eigen(&m, n);
    for i in 0..n {
        for j in 0..n {
            let r: f64 = (0..n).map(|k| v[i * n + k] * w[k] * v[j * n + k]).sum();
            close(r, m[i * n + j], 1e-9, "V diag(λ) Vᵀ");
            let o: f64 = (0..n).map(|k| v[k * n + i] * v[k * n + j]).sum();
            close(o, (i == j) as u8 as f64, 1e-12, "VᵀV = I");
        }
    }
    // The square root squares back.
    let r = sqrt_psd(&m, n);
    for i in 0..n {
        for j in 0..n {
            let s: f64 = (0..n).map(|k| r[i * n + k] * r[k * n + j]).sum();
            close(s, m[i * n + j], 1e-8, "sqrt²");
        }
    }
}

#[test]
fn frechet_of_identical_sets_is_zero() {
    let d = 16;
    let x = rand_vec(500 * d, 9, -2.0, 3.0);
    let g = Gaussian::fit(&x, d);
    close(frechet_distance(&g, &g.clone()), 0.0, 1e-9, "FD(x, x)");
}

#[test]
fn frechet_matches_the_closed_forms() {
    // Any 2×2 pair: tr √(Σ₁Σ₂) = √(tr(Σ₁Σ₂) + 2√det(Σ₁Σ₂)), even for non-commuting Σ's.
    let a = Gaussian {
        dim: 2,
        mean: vec![1.0, -2.0],
        cov: vec![2.0, 0.7, 0.7, 1.0],
    };
    let b = Gaussian {
        dim: 2,
        mean: vec![0.5, 1.0],
        cov: vec![0.5, -0.3, -0.3, 3.0],
    };
    let p: [f64; 4] = [
        2.0 * 0.5 + 0.7 * -0.3,
        2.0 * -0.3 + 0.7 * 3.0,
        0.7 * 0.5 + 1.0 * -0.3,
        0.7 * -0.3 + 1.0 * 3.0,
    ];
    let tr_sqrt = ((p[0] + p[3]) + 2.0 * (p[0] * p[3] - p[1] * p[2]).sqrt()).sqrt();
    let want = 0.5f64.powi(2) + 3.0f64.powi(2) + (2.0 + 1.0) + (0.5 + 3.0) - 2.0 * tr_sqrt;
    close(frechet_distance(&a, &b), want, 1e-10, "2×2 closed form");
    close(frechet_distance(&b, &a), want, 1e-10, "symmetry");

    // Diagonal covariances in 64-d: FD = ‖μ₁ − μ₂‖² + Σ (σ₁ᵢ − σ₂ᵢ)².
    let d = 64;
    let s1 = rand_vec(d, 1, 0.1, 2.0);
    let s2 = rand_vec(d, 2, 0.0, 2.0);
    let diag = |s: &[f32]| {
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            c[i * d + i] = (s[i] as f64).powi(2);
        }
        c
    };
    let (m1, m2) = (rand_vec(d, 3, -1.0, 1.0), rand_vec(d, 4, -1.0, 1.0));
    let a = Gaussian {
        dim: d,
        mean: m1.iter().map(|&v| v as f64).collect(),
        cov: diag(&s1),
    };
    let b = Gaussian {
        dim: d,
        mean: m2.iter().map(|&v| v as f64).collect(),
        cov: diag(&s2),
    };
    let want: f64 = (0..d)
        .map(|i| (m1[i] as f64 - m2[i] as f64).powi(2) + (s1[i] as f64 - s2[i] as f64).powi(2))
        .sum();
    close(frechet_distance(&a, &b), want, 1e-9, "diagonal closed form");

    // Σ₁ = cI: tr √(cΣ₂) = √c Σ √λ(Σ₂), for a full (non-diagonal) Σ₂ of rank 30 in 48-d.
    let n = 48;
    let low = gram(n, 30, 5, 0.0);
    let c = 2.5;
    let mut ci = vec![0.0; n * n];
    (0..n).for_each(|i| ci[i * n + i] = c);
    let (lam, _) = sym_eigen(&low, n);
    let tr2: f64 = (0..n).map(|i| low[i * n + i]).sum();
    let want =
        c * n as f64 + tr2 - 2.0 * c.sqrt() * lam.iter().map(|l| l.max(0.0).sqrt()).sum::<f64>();
    let a = Gaussian {
        dim: n,
        mean: vec![0.0; n],
        cov: ci,
    };
    let b = Gaussian {
        dim: n,
        mean: vec![0.0; n],
        cov: low,
    };
    // √ of an eigenvalue that is 0 up to rounding (ε ~ 1e−14) contributes √ε: a relative 1e−6.
    close(
        frechet_distance(&a, &b),
        want,
        1e-6 * want,
        "scaled identity vs singular",
    );
}

#[test]
fn frechet_of_samples_approaches_the_gaussians_distance() {
    // x ~ N(0, I₃), y ~ N(μ, diag(4, 1, 0.25)) from uniform sums (CLT is not needed: the
    // fitted moments are what the distance uses). Closed form: ‖μ‖² + Σ (1 − σᵢ)².
    let n = 20_000;
    let gauss = |seed: u64| -> Vec<f32> {
        let u = rand_vec(2 * n * 3, seed, 1e-7, 1.0);
        u.chunks(2)
            .map(|p| {
                ((-2.0 * (p[0] as f64).ln()).sqrt() * (std::f64::consts::TAU * p[1] as f64).cos())
                    as f32
            })
            .collect()
    };
    let x = gauss(11);
    let (mu, sd) = ([1.0f32, -0.5, 2.0], [2.0f32, 1.0, 0.5]);
    let y: Vec<f32> = gauss(12)
        .chunks(3)
        .flat_map(|r| (0..3).map(move |i| mu[i] + sd[i] * r[i]))
        .collect();
    let fd = frechet_distance(&Gaussian::fit(&x, 3), &Gaussian::fit(&y, 3));
    let want = 1.0 + 0.25 + 4.0 + 1.0 + 0.0 + 0.25;
    close(fd, want, 0.15, "FD of samples");
}
