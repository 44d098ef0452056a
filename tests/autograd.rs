//! The tape's contract, checked on small closed-form functions.
mod common;
use common::*;
use tapegan::{grad, grad_with, no_grad, GradOptions, Tensor};

#[test]
fn gradient_of_a_tensor_used_twice_accumulates() {
    // y = Σ x·x + Σ x  →  dy/dx = 2x + 1
    let x = var(&[1.0, -2.0, 3.0], &[3]);
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap();
    let g = grad(&[&y], &[&x], false).unwrap();
    assert_close(
        &g[0].to_vec().unwrap(),
        &[3.0, -3.0, 7.0],
        1e-6,
        1e-6,
        "dy/dx",
    );
}

#[test]
fn second_derivative_through_create_graph() {
    // y = Σ x³: dy/dx = 3x², d/dx Σ(dy/dx) = 6x
    let x = var(&[0.5, -1.5, 2.0], &[3]);
    let y = x.powf(3.0).unwrap().sum_all().unwrap();
    let g = grad(&[&y], &[&x], true).unwrap();
    assert_close(
        &g[0].to_vec().unwrap(),
        &[0.75, 6.75, 12.0],
        1e-5,
        1e-6,
        "3x²",
    );
    let s = g[0].sum_all().unwrap();
    let h = grad(&[&s], &[&x], false).unwrap();
    assert_close(
        &h[0].to_vec().unwrap(),
        &[3.0, -9.0, 12.0],
        1e-5,
        1e-6,
        "6x",
    );
}

#[test]
fn non_scalar_output_needs_grad_outputs() {
    let x = var(&[1.0, 2.0], &[2]);
    let y = x.mul_scalar(3.0).unwrap();
    let err = grad(&[&y], &[&x], false).unwrap_err().to_string();
    assert!(err.contains("grad_outputs"), "{err}");
    let opts = GradOptions {
        grad_outputs: Some(vec![t(&[1.0, 10.0], &[2])]),
        ..Default::default()
    };
    let g = grad_with(&[&y], &[&x], &opts).unwrap();
    assert_close(
        &g[0].clone().unwrap().to_vec().unwrap(),
        &[3.0, 30.0],
        0.0,
        1e-6,
        "vjp",
    );
}

#[test]
fn unused_input_is_an_error_unless_allowed() {
    let x = var(&[1.0], &[1]);
    let z = var(&[2.0], &[1]);
    let y = x.square().unwrap().sum_all().unwrap();
    assert!(grad(&[&y], &[&z], false)
        .unwrap_err()
        .to_string()
        .contains("not used"));
    let opts = GradOptions {
        allow_unused: true,
        ..Default::default()
    };
    let g = grad_with(&[&y], &[&x, &z], &opts).unwrap();
    assert!(g[0].is_some() && g[1].is_none());
}

#[test]
fn no_grad_records_nothing() {
    let x = var(&[1.0, 2.0], &[2]);
    let y = no_grad(|| x.exp().unwrap());
    assert!(!y.requires_grad() && y.is_leaf());
    let err = grad(&[&y.sum_all().unwrap()], &[&x], false).unwrap_err();
    assert!(err.to_string().contains("does not require grad"), "{err}");
}

#[test]
fn gradient_with_respect_to_an_intermediate() {
    // u = 2x, y = Σ u²  →  dy/du = 2u = 4x
    let x = var(&[1.0, 3.0], &[2]);
    let u = x.mul_scalar(2.0).unwrap();
    let y = u.square().unwrap().sum_all().unwrap();
    let g = grad(&[&y], &[&u, &x], false).unwrap();
    assert_close(&g[0].to_vec().unwrap(), &[4.0, 12.0], 1e-6, 1e-6, "dy/du");
    assert_close(&g[1].to_vec().unwrap(), &[8.0, 24.0], 1e-6, 1e-6, "dy/dx");
}

#[test]
fn detach_cuts_the_graph_but_shares_data() {
    let x = var(&[1.0, 2.0], &[2]);
    let d = x.detach();
    assert!(d.shares_storage(&x) && !d.requires_grad());
    let y = x.mul(&d).unwrap().sum_all().unwrap(); // d is a constant: dy/dx = d
    let g = grad(&[&y], &[&x], false).unwrap();
    assert_close(&g[0].to_vec().unwrap(), &[1.0, 2.0], 0.0, 1e-6, "dy/dx");
}

#[test]
fn shape_errors_name_op_and_shapes() {
    let a = t(&[0.0; 6], &[2, 3]);
    let b = t(&[0.0; 6], &[2, 3]);
    let e = a.matmul(&b).unwrap_err().to_string();
    assert!(e.starts_with("matmul") && e.contains("[2, 3]"), "{e}");
    let e = a.add(&t(&[0.0; 4], &[4])).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("[4]"), "{e}");
    let e = Tensor::from_slice(&gpu(), &[1.0; 5], &[2, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 values"), "{e}");
}
