//! Quality metrics: each metric on constructed inputs with a known answer, the shipped MNIST
//! classifier's held-out accuracy, and `tapegan eval` / `eval_every` on tiny trained runs.
//!
//! One module per family of metrics; `close` is the shared tolerance check.
#[path = "../common/mod.rs"]
mod common;

mod cli;
mod frechet;
mod image;
mod toy;

/// |got − want| ≤ tol, naming the quantity.
pub(crate) fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (±{tol})"
    );
}
