//! Unary maps against their CPU references: exact ops, transcendental functions, stability at
//! large magnitudes, comparisons with a scalar.

use super::common::*;
use super::reference;
use super::support::*;

#[test]
fn unary_exact_ops() {
    let sp = [0.0, -0.0, 1.0, -1.0, 3.5, -1e-30, 1e30, -2.5];
    let sets = inputs(&sp, -100.0, 100.0, 1);
    for (shape, x) in &sets {
        let tx = t(x, shape);
        let bits = |f: &dyn Fn(f32) -> f32| x.iter().map(|&v| f(v)).collect::<Vec<f32>>();
        check_bits(&tx.neg().unwrap().to_vec().unwrap(), &bits(&|v| -v), "neg");
        check_bits(
            &tx.abs().unwrap().to_vec().unwrap(),
            &bits(&|v| v.abs()),
            "abs",
        );
        check_bits(
            &tx.square().unwrap().to_vec().unwrap(),
            &bits(&|v| v * v),
            "square",
        );
        let relu = tx.relu().unwrap().to_vec().unwrap();
        let want: Vec<f64> = x.iter().map(|&v| v.max(0.0) as f64).collect();
        check(&relu, &want, 0.0, 0.0, "relu", Some(x));
        let sign = tx.sign().unwrap().to_vec().unwrap();
        let want: Vec<f64> = x
            .iter()
            .map(|&v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect();
        check(&sign, &want, 0.0, 0.0, "sign", Some(x));
        for slope in [0.2f32, 0.01, 1.5] {
            let y = tx.leaky_relu(slope).unwrap().to_vec().unwrap();
            let want = bits(&|v| if v > 0.0 { v } else { slope * v });
            check_bits(&y, &want, &format!("leaky_relu({slope}) {shape:?}"));
        }
        for (lo, hi) in [(-1.0f32, 1.0f32), (0.0, 3.5), (-2.5, -2.5)] {
            let y = tx.clamp(lo, hi).unwrap().to_vec().unwrap();
            let want: Vec<f64> = x.iter().map(|&v| v.clamp(lo, hi) as f64).collect();
            check(
                &y,
                &want,
                0.0,
                0.0,
                &format!("clamp({lo}, {hi}) {shape:?}"),
                Some(x),
            );
        }
    }
}

#[test]
fn affine_and_scalar_arithmetic() {
    let sets = inputs(&[0.0, 1.0, -1.0, 0.5, 1e20], -50.0, 50.0, 2);
    for (shape, x) in &sets {
        let tx = t(x, shape);
        for (a, b) in [
            (2.0f32, 1.0f32),
            (-0.3, 7.25),
            (1.0, -1.0),
            (0.0, 3.0),
            (1e-3, 0.0),
        ] {
            let y = tx.affine(a, b).unwrap().to_vec().unwrap();
            // a·x + b may be one fused operation or two roundings: allow one rounding of each term.
            let want: Vec<f64> = x.iter().map(|&v| a as f64 * v as f64 + b as f64).collect();
            let tol: Vec<f64> = x
                .iter()
                .map(|&v| 2.0 * EPS * ((a as f64 * v as f64).abs() + (b as f64).abs()))
                .collect();
            check_tol(&y, &want, &tol, &format!("affine({a}, {b}) {shape:?}"));
        }
        let y = tx.add_scalar(0.75).unwrap().to_vec().unwrap();
        check_bits(
            &y,
            &x.iter().map(|&v| v + 0.75).collect::<Vec<_>>(),
            "add_scalar",
        );
        // mul_scalar(c) is c·x + 0, so 0·(−3) comes out as +0 rather than −0: compare values.
        let y = tx.mul_scalar(-3.0).unwrap().to_vec().unwrap();
        let want: Vec<f64> = x.iter().map(|&v| (v * -3.0) as f64).collect();
        check(&y, &want, 0.0, 0.0, "mul_scalar", Some(x));
    }
}

#[test]
fn exp_log_sqrt_rsqrt_recip() {
    let sets = inputs(&[0.0, 1.0, -1.0, -87.0, 80.0, 1e-3, -1e-6], -20.0, 20.0, 3);
    unary_case("exp", &sets, |x| x.exp(), |v| (v as f64).exp(), 1e-5, 1e-37);

    let sp = [
        1.0,
        1.0001,
        0.9999,
        std::f32::consts::E,
        1e-6,
        1e4,
        2.0,
        0.5,
    ];
    let sets = inputs(&sp, 1e-3, 1e3, 4);
    // WGSL bounds log's error absolutely (2⁻²¹) on [0.5, 2], relatively elsewhere.
    unary_case("log", &sets, |x| x.log(), |v| (v as f64).ln(), 1e-5, 1e-6);

    let sets = inputs(&[0.0, 1.0, 4.0, 2.0, 1e-20, 1e20], 0.0, 1e4, 5);
    unary_case(
        "sqrt",
        &sets,
        |x| x.sqrt(),
        |v| (v as f64).sqrt(),
        1e-6,
        1e-37,
    );
    let sets = inputs(&[1.0, 4.0, 2.0, 1e-20, 1e20], 1e-4, 1e4, 6);
    unary_case(
        "rsqrt",
        &sets,
        |x| x.rsqrt(),
        |v| 1.0 / (v as f64).sqrt(),
        1e-6,
        0.0,
    );

    let mut sets = inputs(&[1.0, -1.0, 3.0, -7.0, 1e-30, 1e30], 1e-3, 1e3, 7);
    for (_, x) in sets.iter_mut() {
        for (i, v) in x.iter_mut().enumerate().skip(6) {
            if i % 2 == 1 {
                *v = -*v;
            }
        }
    }
    unary_case("recip", &sets, |x| x.recip(), |v| 1.0 / v as f64, 1e-6, 0.0);
}

#[test]
fn tanh_sigmoid_softplus_are_stable_at_large_magnitude() {
    let sp = [
        50.0, -50.0, 100.0, -100.0, 0.0, 10.5, -10.5, 9.9, -9.9, 1e-4, -1e-4, 1e-7, 20.0, -20.0,
        88.0, -88.0, 1e30, -1e30,
    ];
    let sets = inputs(&sp, -12.0, 12.0, 8);
    // WGSL bounds tanh by exp's error: absolute 1e-6 near 0, relative elsewhere.
    unary_case(
        "tanh",
        &sets,
        |x| x.tanh(),
        |v| (v as f64).tanh(),
        1e-5,
        1e-6,
    );
    let sets = inputs(&sp, -30.0, 30.0, 9);
    unary_case(
        "sigmoid",
        &sets,
        |x| x.sigmoid(),
        |v| reference::sigmoid(v as f64),
        1e-5,
        1e-37,
    );
    unary_case(
        "softplus",
        &sets,
        |x| x.softplus(),
        |v| reference::softplus(v as f64),
        1e-5,
        1e-6,
    );
    // No overflow to inf or NaN anywhere in the range of f32.
    let big = [f32::MAX, -f32::MAX, 3e38, -3e38, 1e10, -1e10];
    let x = t(&big, &[6]);
    for (name, y) in [
        ("tanh", x.tanh().unwrap()),
        ("sigmoid", x.sigmoid().unwrap()),
        ("softplus", x.softplus().unwrap()),
    ] {
        for (i, v) in y.to_vec().unwrap().into_iter().enumerate() {
            let want = match name {
                "tanh" => big[i].signum() as f64,
                "sigmoid" => (big[i] > 0.0) as u8 as f64,
                _ => (big[i] as f64).max(0.0),
            };
            check(
                &[v],
                &[want],
                1e-6,
                0.0,
                &format!("{name} at {:e}", big[i]),
                None,
            );
        }
    }
}

#[test]
fn elu_is_accurate_near_zero() {
    let sp = [
        0.0, -0.0, 1e-3, -1e-3, 1e-6, -1e-6, -1e-8, 0.00999, -0.00999, 0.0101, -0.0101, -0.02,
        -0.05, -5.0, -20.0, -100.0, 2.0,
    ];
    let mut sets = inputs(&sp, -0.05, 0.05, 10);
    // A dense sweep of [−1, 0] catches a switch from a series to exp(x) − 1 made too close to 0.
    let sweep: Vec<f32> = (0..65536).map(|i| -(i as f32) / 65536.0).collect();
    sets.push((vec![256, 256], sweep));
    for alpha in [1.0f32, 0.5] {
        // Near 0 the result is α·x(1 + x/2 + …): only an accurate expm1 keeps the relative error
        // small there (exp(x) − 1 loses ~log2(1/|x|) bits).
        unary_case(
            &format!("elu({alpha})"),
            &sets,
            |x| x.elu(alpha),
            |v| {
                let v = v as f64;
                if v > 0.0 {
                    v
                } else {
                    alpha as f64 * v.exp_m1()
                }
            },
            2e-6,
            1e-12,
        );
    }
}

#[test]
fn powf_integer_fractional_and_negative_bases() {
    // Integer exponents take negative bases (sign kept for odd powers); 0⁰ = 1.
    for p in [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0, -3.0] {
        let mut sp = vec![-2.0, 2.0, -0.5, 1.0, -1.0, -3.0];
        if p >= 0.0 {
            sp.push(0.0);
        }
        let sets = inputs(&sp, -4.0, 4.0, 11 + p.to_bits() as u64);
        let sets: Vec<_> = sets
            .into_iter()
            .map(|(s, x)| {
                let x = x
                    .into_iter()
                    .map(|v| if p < 0.0 && v.abs() < 0.05 { 0.25 } else { v })
                    .collect();
                (s, x)
            })
            .collect();
        unary_case(
            &format!("powf({p})"),
            &sets,
            |x| x.powf(p),
            |v| (v as f64).powi(p as i32),
            1e-5,
            0.0,
        );
    }
    // Fractional exponents on non-negative bases.
    for p in [0.5f32, 2.5, -0.5, 1.0 / 3.0, 1.7] {
        let mut sp = vec![1.0, 4.0, 2.0, 0.25];
        if p > 0.0 {
            sp.push(0.0);
        }
        let sets = inputs(&sp, 0.05, 8.0, 20 + p.to_bits() as u64);
        unary_case(
            &format!("powf({p})"),
            &sets,
            |x| x.powf(p),
            |v| (v as f64).powf(p as f64),
            1e-5,
            0.0,
        );
    }
    // Spot values.
    let x = t(&[0.0, -2.0, -0.5, -2.0, 3.0], &[5]);
    assert_eq!(x.powf(0.0).unwrap().to_vec().unwrap(), vec![1.0; 5], "x⁰");
    let y = x.powf(3.0).unwrap().to_vec().unwrap();
    check(&y, &[0.0, -8.0, -0.125, -8.0, 27.0], 1e-6, 0.0, "x³", None);
    let y = x
        .narrow(0, 1, 4)
        .unwrap()
        .powf(-3.0)
        .unwrap()
        .to_vec()
        .unwrap();
    check(
        &y,
        &[-0.125, -8.0, -0.125, 1.0 / 27.0],
        1e-6,
        0.0,
        "x⁻³",
        None,
    );
}

#[test]
fn compare_scalar_all_ops() {
    for (shape, x) in SHAPES.iter().map(|s| (s.to_vec(), ints(numel(s), 30, 3))) {
        let tx = t(&x, &shape);
        for c in [0.0f32, 1.0, -2.5] {
            for (op, f) in compare_fns() {
                let y = tx.compare_scalar(op, c).unwrap().to_vec().unwrap();
                let want: Vec<f64> = x.iter().map(|&v| f(v, c) as u8 as f64).collect();
                check(
                    &y,
                    &want,
                    0.0,
                    0.0,
                    &format!("compare_scalar {op:?} {c} {shape:?}"),
                    Some(&x),
                );
            }
        }
    }
}
