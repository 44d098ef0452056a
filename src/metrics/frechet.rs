//! The Fréchet distance between two Gaussians fitted to feature sets (the statistic behind
//! FID), computed on the host in f64.
//!
//! d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}.
//!
//! The last term is where implementations go wrong: Σ₁Σ₂ is not symmetric, and a general
//! matrix square root (scipy's `sqrtm`) can return complex parts or fail on the singular
//! covariances that small samples give. Here it is computed from symmetric matrices only:
//! Σ₁Σ₂ is similar to A = Σ₁^{1/2} Σ₂ Σ₁^{1/2} (conjugate by Σ₁^{1/2}), A is symmetric
//! positive semi-definite, so tr (Σ₁Σ₂)^{1/2} = Σᵢ √λᵢ(A). Both Σ₁^{1/2} and the eigenvalues
//! of A come from a cyclic Jacobi eigendecomposition, which is unconditionally stable for
//! symmetric matrices; eigenvalues that rounding pushes below zero are clamped to zero.

/// A Gaussian fitted to samples: mean and covariance (`dim × dim`, row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    pub dim: usize,
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
}

impl Gaussian {
    /// Mean and unbiased covariance (divisor N − 1, as `numpy.cov`) of `n = data.len() / dim`
    /// row-major samples. Fewer than two samples give a zero covariance.
    pub fn fit(data: &[f32], dim: usize) -> Gaussian {
        assert!(
            dim > 0 && data.len().is_multiple_of(dim),
            "data is not [N, {dim}]"
        );
        let n = data.len() / dim;
        let mut mean = vec![0.0f64; dim];
        for row in data.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        // Centred two-pass sums: no cancellation between E[xxᵀ] and μμᵀ.
        let mut cov = vec![0.0f64; dim * dim];
        let mut centred = vec![0.0f64; dim];
        for row in data.chunks(dim) {
            for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = v as f64 - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                let out = &mut cov[i * dim..(i + 1) * dim];
                for (o, &cj) in out[i..].iter_mut().zip(&centred[i..]) {
                    *o += ci * cj;
                }
            }
        }
        let div = n.saturating_sub(1).max(1) as f64;
        for i in 0..dim {
            for j in i..dim {
                let v = cov[i * dim + j] / div;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        Gaussian { dim, mean, cov }
    }
}

/// Fréchet distance (squared, as FID reports it) between two Gaussians of equal dimension.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> f64 {
    assert_eq!(a.dim, b.dim, "Gaussians of different dimension");
    let n = a.dim;
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let trace = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    let root_a = sqrt_psd(&a.cov, n);
    let mut m = matmul(&matmul(&root_a, &b.cov, n), &root_a, n);
    symmetrize(&mut m, n);
    let (eig, _) = sym_eigen(&m, n);
    let tr_sqrt: f64 = eig.iter().map(|&l| l.max(0.0).sqrt()).sum();
    // Rounding can leave a tiny negative value for identical inputs.
    (mean_term + trace(&a.cov) + trace(&b.cov) - 2.0 * tr_sqrt).max(0.0)
}

/// The symmetric square root V diag(√max(λ, 0)) Vᵀ of a symmetric PSD matrix.
pub fn sqrt_psd(m: &[f64], n: usize) -> Vec<f64> {
    let (eig, v) = sym_eigen(m, n);
    let roots: Vec<f64> = eig.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let s: f64 = (0..n).map(|k| v[i * n + k] * roots[k] * v[j * n + k]).sum();
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    out
}

/// Eigenvalues and eigenvectors of a symmetric `n × n` matrix by cyclic Jacobi rotations.
/// Returns (λ, V) with V row-major and column k the eigenvector of λₖ: M = V diag(λ) Vᵀ.
pub fn sym_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(m.len(), n * n, "matrix is not {n}×{n}");
    let mut a = m.to_vec();
    symmetrize(&mut a, n);
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    // Quadratic convergence: a few sweeps suffice; the cap only guards against NaN input.
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off <= 1e-30 * total || !off.is_finite() {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut a, &mut v, n, p, q);
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// One Jacobi rotation A ← Pᵀ A P, V ← V P that zeroes `a[p][q]` (Numerical Recipes §11.1).
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = a[p * n + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    // The smaller root of t² + 2θt − 1 = 0 (rotation angle ≤ π/4), written to avoid overflow;
    // θ = 0 gives t = 1 (f64::signum(0.0) is 1).
    let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
    let c = 1.0 / t.hypot(1.0);
    let s = t * c;
    for k in 0..n {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    a[p * n + q] = 0.0;
    a[q * n + p] = 0.0;
    for k in 0..n {
        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

fn symmetrize(m: &mut [f64], n: usize) {
    for i in 0..n {
        for j in i + 1..n {
            let avg = 0.5 * (m[i * n + j] + m[j * n + i]);
            m[i * n + j] = avg;
            m[j * n + i] = avg;
        }
    }
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            let row = &b[k * n..(k + 1) * n];
            for (o, &bkj) in out[i * n..(i + 1) * n].iter_mut().zip(row) {
                *o += aik * bkj;
            }
        }
    }
    out
}
