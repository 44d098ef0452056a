//! Support for tests/conv.rs: the convolution relation written out as naive CPU loops (f64),
//! and `Layer`, which runs one layer's three kernels on the GPU and checks them against it.

use crate::common::*;
use tapegan::ops::{Conv2dGeom, Padding};
use tapegan::Tensor;

// ---------------------------------------------------------------------------------------------
// CPU reference: the convolution relation written out directly, in f64.

/// Pad-before and output size of a conv2d on `n` with kernel `k`, computed here independently
/// of the library (PyTorch formula for explicit padding, TensorFlow's for "same").
pub(crate) fn conv_axis(g: &Conv2dGeom, a: usize, n: usize, k: usize) -> (usize, usize) {
    let s = g.stride[a];
    match g.padding {
        Padding::Explicit(p) => (p[a], (n + 2 * p[a] - k) / s + 1),
        Padding::Same => {
            let out = n.div_ceil(s);
            let total = ((out - 1) * s + k).saturating_sub(n);
            (total / 2, out)
        }
    }
}

/// Pad-before and output size of a conv_transpose2d on `n`.
pub(crate) fn convt_axis(g: &Conv2dGeom, a: usize, n: usize, k: usize) -> (usize, usize) {
    let s = g.stride[a];
    match g.padding {
        Padding::Explicit(p) => (p[a], (n - 1) * s + k + g.output_padding[a] - 2 * p[a]),
        Padding::Same => (k.saturating_sub(s) / 2, n * s),
    }
}

/// A conv relation: big [bh, bw], small [sh, sw], kernel, stride, pad-before.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rel {
    pub(crate) big: [usize; 2],
    pub(crate) small: [usize; 2],
    pub(crate) k: [usize; 2],
    pub(crate) s: [usize; 2],
    pub(crate) p: [usize; 2],
}

impl Rel {
    /// Big index of small `o` at tap `k` on axis `a`, if inside the image.
    fn big_at(&self, a: usize, o: usize, k: usize) -> Option<usize> {
        let i = (o * self.s[a] + k) as isize - self.p[a] as isize;
        (i >= 0 && (i as usize) < self.big[a]).then_some(i as usize)
    }
}

/// Flat index of `[a, b, c, d]` in a tensor of shape `s`.
pub(crate) fn at4(s: [usize; 4], [a, b, c, d]: [usize; 4]) -> usize {
    ((a * s[1] + b) * s[2] + c) * s[3] + d
}

/// conv2d element y[n, c, oy, ox] = b[c] + Σ_{i, k} x[n, i, big(o, k)]·w[c, i, k].
pub(crate) fn conv_at(
    x: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    b: Option<&[f32]>,
    r: &Rel,
    [n, c, oy, ox]: [usize; 4],
) -> f64 {
    let mut acc = b.map_or(0.0, |b| b[c] as f64);
    for i in 0..xs[1] {
        for ky in 0..r.k[0] {
            let Some(iy) = r.big_at(0, oy, ky) else {
                continue;
            };
            for kx in 0..r.k[1] {
                let Some(ix) = r.big_at(1, ox, kx) else {
                    continue;
                };
                acc += x[at4(xs, [n, i, iy, ix])] as f64 * w[at4(ws, [c, i, ky, kx])] as f64;
            }
        }
    }
    acc
}

/// conv_transpose2d element y[n, c, Y, X] = b[c] + Σ x[n, i, o]·w[i, c, k] over the (o, k)
/// with big(o, k) = (Y, X): found by testing every tap for divisibility (the kernel instead
/// iterates the taps of each phase directly).
pub(crate) fn convt_at(
    x: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    b: Option<&[f32]>,
    r: &Rel,
    [n, c, y, xx]: [usize; 4],
) -> f64 {
    let small_at = |a: usize, i: usize, k: usize| -> Option<usize> {
        let t = (i + r.p[a]) as isize - k as isize;
        (t >= 0 && (t as usize).is_multiple_of(r.s[a]) && (t as usize / r.s[a]) < r.small[a])
            .then(|| t as usize / r.s[a])
    };
    let mut acc = b.map_or(0.0, |b| b[c] as f64);
    for i in 0..xs[1] {
        for ky in 0..r.k[0] {
            let Some(oy) = small_at(0, y, ky) else {
                continue;
            };
            for kx in 0..r.k[1] {
                let Some(ox) = small_at(1, xx, kx) else {
                    continue;
                };
                acc += x[at4(xs, [n, i, oy, ox])] as f64 * w[at4(ws, [i, c, ky, kx])] as f64;
            }
        }
    }
    acc
}

/// Weight-gradient element dw[c, i, ky, kx] = Σ_{n, o} g[n, c, o]·x[n, i, big(o, k)], with x
/// on the big side and g on the small side.
pub(crate) fn wgrad_at(
    x: &[f32],
    xs: [usize; 4],
    g: &[f32],
    gs: [usize; 4],
    r: &Rel,
    [c, i, ky, kx]: [usize; 4],
) -> f64 {
    let mut acc = 0f64;
    for n in 0..xs[0] {
        for oy in 0..r.small[0] {
            let Some(iy) = r.big_at(0, oy, ky) else {
                continue;
            };
            for ox in 0..r.small[1] {
                let Some(ix) = r.big_at(1, ox, kx) else {
                    continue;
                };
                acc += g[at4(gs, [n, c, oy, ox])] as f64 * x[at4(xs, [n, i, iy, ix])] as f64;
            }
        }
    }
    acc
}

/// Compares `got` (of `shape`) with the reference `f` at every element, or — when that would
/// cost more than a few million multiply-adds (`cost` per element) — at every k-th element for
/// a prime k, which still visits every channel block and image border of these shapes.
pub(crate) fn check_ref(
    got: &[f32],
    shape: [usize; 4],
    cost: usize,
    f: impl Fn([usize; 4]) -> f64,
    what: &str,
) {
    let total: usize = shape.iter().product();
    let budget = 3_000_000 / cost.max(1);
    let stride = [
        1, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749,
    ]
    .into_iter()
    .find(|&k| total / k <= budget)
    .unwrap_or(65521);
    let idx: Vec<usize> = (0..total).step_by(stride).chain([total - 1]).collect();
    let unravel = |i: usize| {
        [
            i / (shape[1] * shape[2] * shape[3]),
            i / (shape[2] * shape[3]) % shape[1],
            i / shape[3] % shape[2],
            i % shape[3],
        ]
    };
    let want: Vec<f32> = idx.iter().map(|&i| f(unravel(i)) as f32).collect();
    let got: Vec<f32> = idx.iter().map(|&i| got[i]).collect();
    let atol = 1e-5 * want.iter().fold(1f32, |m, x| m.max(x.abs()));
    assert_close(
        &got,
        &want,
        1e-4,
        atol,
        &format!("{what} ({} of {total} elements)", idx.len()),
    );
}

// ---------------------------------------------------------------------------------------------
// Kernel checks.

/// One layer: `transposed` = ConvTranspose2d(cin → cout) else Conv2d(cin → cout), on an
/// `hw`-sized input, batch `n`, kernel `k`, geometry `g`.
pub(crate) struct Layer {
    pub(crate) transposed: bool,
    pub(crate) n: usize,
    pub(crate) cin: usize,
    pub(crate) cout: usize,
    pub(crate) hw: [usize; 2],
    pub(crate) k: [usize; 2],
    pub(crate) g: Conv2dGeom,
    pub(crate) bias: bool,
}

/// What [`Layer::data`] makes: a description, the relation, the shapes of x, W and y, and
/// the values of x, W, b and the output gradient.
struct LayerData {
    what: String,
    r: Rel,
    xs: [usize; 4],
    ws: [usize; 4],
    ys: [usize; 4],
    xv: Vec<f32>,
    wv: Vec<f32>,
    bv: Vec<f32>,
    gv: Vec<f32>,
}

pub(crate) fn conv(cin: usize, cout: usize, hw: usize, k: usize, s: usize, p: usize) -> Layer {
    Layer {
        transposed: false,
        n: 2,
        cin,
        cout,
        hw: [hw, hw],
        k: [k, k],
        g: Conv2dGeom::new(s, p),
        bias: true,
    }
}

pub(crate) fn convt(cin: usize, cout: usize, hw: usize, k: usize, s: usize, p: usize) -> Layer {
    Layer {
        transposed: true,
        ..conv(cin, cout, hw, k, s, p)
    }
}

impl Layer {
    pub(crate) fn same(mut self) -> Self {
        self.g.padding = Padding::Same;
        self
    }
    pub(crate) fn batch(mut self, n: usize) -> Self {
        self.n = n;
        self
    }
    pub(crate) fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }

    /// The relation between big and small images.
    pub(crate) fn rel(&self) -> Rel {
        let mut r = Rel {
            big: [0; 2],
            small: [0; 2],
            k: self.k,
            s: self.g.stride,
            p: [0; 2],
        };
        for a in 0..2 {
            if self.transposed {
                let (p, out) = convt_axis(&self.g, a, self.hw[a], self.k[a]);
                (r.p[a], r.small[a], r.big[a]) = (p, self.hw[a], out);
            } else {
                let (p, out) = conv_axis(&self.g, a, self.hw[a], self.k[a]);
                (r.p[a], r.big[a], r.small[a]) = (p, self.hw[a], out);
            }
        }
        r
    }

    /// The layer's description, relation, shapes (x, W, y) and random operands (x, W, b and
    /// the output gradient g) for `seed`.
    fn data(&self, seed: u64) -> LayerData {
        let what = format!(
            "{} {}→{} on {:?} k{:?} {:?} n{}",
            if self.transposed { "ConvT" } else { "Conv" },
            self.cin,
            self.cout,
            self.hw,
            self.k,
            self.g,
            self.n
        );
        let r = self.rel();
        let (n, ci, co) = (self.n, self.cin, self.cout);
        let (in_hw, out_hw) = if self.transposed {
            (r.small, r.big)
        } else {
            (r.big, r.small)
        };
        let xs = [n, ci, in_hw[0], in_hw[1]];
        let ws = if self.transposed {
            [ci, co, self.k[0], self.k[1]]
        } else {
            [co, ci, self.k[0], self.k[1]]
        };
        let ys = [n, co, out_hw[0], out_hw[1]];
        LayerData {
            what,
            r,
            xs,
            ws,
            ys,
            xv: rand_vec(xs.iter().product(), seed, -1.0, 1.0),
            wv: rand_vec(ws.iter().product(), seed + 1, -1.0, 1.0),
            bv: rand_vec(co, seed + 2, -1.0, 1.0),
            gv: rand_vec(ys.iter().product(), seed + 3, -1.0, 1.0),
        }
    }

    /// Runs forward, input gradient and weight gradient on the GPU and on the CPU.
    pub(crate) fn check(&self, seed: u64) {
        let d = self.data(seed);
        let (x, w, b, gy) = (
            t(&d.xv, &d.xs),
            t(&d.wv, &d.ws),
            t(&d.bv, &[self.cout]),
            t(&d.gv, &d.ys),
        );
        let bias = self.bias.then_some(&b);
        // Transposed: input gradient = conv2d of the output gradient, weight gradient =
        // Wg(output gradient, input). Conv: input gradient = conv_transpose2d to the input
        // size, weight gradient = Wg(input, output gradient).
        let (y, dx, dw) = if self.transposed {
            (
                x.conv_transpose2d(&w, bias, &self.g).unwrap(),
                gy.conv2d(&w, None, &geom_of(&d.r)).unwrap(),
                gy.conv2d_weight_grad(&x, &self.g, self.k).unwrap(),
            )
        } else {
            (
                x.conv2d(&w, bias, &self.g).unwrap(),
                conv_transpose_to(&gy, &w, &d.r),
                x.conv2d_weight_grad(&gy, &self.g, self.k).unwrap(),
            )
        };
        assert_eq!(y.shape(), &d.ys, "{}: output shape", d.what);
        let got = Tensor::read_all(&[&y, &dx, &dw]).unwrap();
        let bref = self.bias.then_some(d.bv.as_slice());
        let ks = self.k[0] * self.k[1];
        let (s, what) = (d.r.s[0] * d.r.s[1], format!("{}: forward", d.what));
        if self.transposed {
            let cost = self.cin * ks / s + 1;
            let at = |e| convt_at(&d.xv, d.xs, &d.wv, d.ws, bref, &d.r, e);
            check_ref(&got[0], d.ys, cost, at, &what);
        } else {
            let at = |e| conv_at(&d.xv, d.xs, &d.wv, d.ws, bref, &d.r, e);
            check_ref(&got[0], d.ys, self.cin * ks, at, &what);
        }
        self.check_grads(&d, &got[1], &got[2]);
    }

    /// Checks an input gradient `dx` and a weight gradient `dw` of output gradient `d.gv`
    /// against the CPU reference.
    fn check_grads(&self, d: &LayerData, dx: &[f32], dw: &[f32]) {
        let (ks, s) = (self.k[0] * self.k[1], d.r.s[0] * d.r.s[1]);
        let (dx_what, dw_what) = (
            format!("{}: input grad", d.what),
            format!("{}: weight grad", d.what),
        );
        if self.transposed {
            let at = |e| conv_at(&d.gv, d.ys, &d.wv, d.ws, None, &d.r, e);
            check_ref(dx, d.xs, self.cout * ks, at, &dx_what);
            let at = |e| wgrad_at(&d.gv, d.ys, &d.xv, d.xs, &d.r, e);
            check_ref(dw, d.ws, self.n * d.ys[2] * d.ys[3], at, &dw_what);
        } else {
            let at = |e| convt_at(&d.gv, d.ys, &d.wv, d.ws, None, &d.r, e);
            check_ref(dx, d.xs, self.cout * ks / s + 1, at, &dx_what);
            let at = |e| wgrad_at(&d.xv, d.xs, &d.gv, d.ys, &d.r, e);
            check_ref(dw, d.ws, self.n * d.ys[2] * d.ys[3], at, &dw_what);
        }
    }

    /// Runs the layer forward and its gradients through autograd (`grad_with` on the output
    /// with gradient g) and checks the input, weight and bias gradients against the CPU
    /// reference. Unlike [`Layer::check`], which calls the gradient ops directly, this runs
    /// the backward rules as training does, with whatever they hand from one op to the next.
    pub(crate) fn check_autograd(&self, seed: u64) {
        let mut d = self.data(seed);
        d.what = format!("autograd {}", d.what);
        let (n, co) = (self.n, self.cout);
        let (x, w, b) = (var(&d.xv, &d.xs), var(&d.wv, &d.ws), var(&d.bv, &[co]));
        let y = if self.transposed {
            x.conv_transpose2d(&w, Some(&b), &self.g)
        } else {
            x.conv2d(&w, Some(&b), &self.g)
        }
        .unwrap();
        assert_eq!(y.shape(), &d.ys, "{}: output shape", d.what);
        let opts = tapegan::GradOptions {
            grad_outputs: Some(vec![t(&d.gv, &d.ys)]),
            ..Default::default()
        };
        let grads: Vec<Tensor> = tapegan::grad_with(&[&y], &[&x, &w, &b], &opts)
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let got = Tensor::read_all(&grads.iter().collect::<Vec<_>>()).unwrap();
        self.check_grads(&d, &got[0], &got[1]);
        let plane = d.ys[2] * d.ys[3];
        let db: Vec<f32> = (0..co)
            .map(|c| {
                (0..n)
                    .flat_map(|i| &d.gv[(i * co + c) * plane..(i * co + c + 1) * plane])
                    .map(|&v| v as f64)
                    .sum::<f64>() as f32
            })
            .collect();
        assert_close(&got[2], &db, 1e-4, 1e-4, &format!("{}: bias grad", d.what));
    }
}

/// Geometry of a relation as a public `Conv2dGeom` when it is expressible with symmetric
/// padding; otherwise the gradient ops are reached through autograd.
pub(crate) fn explicit_geom(r: &Rel) -> Option<Conv2dGeom> {
    let g = Conv2dGeom {
        stride: r.s,
        padding: Padding::Explicit(r.p),
        output_padding: [0; 2],
    };
    (g.conv_output_size(r.big, r.k).ok()? == r.small).then_some(g)
}

/// The input gradient of a conv2d with relation `r`: conv_transpose2d of `g` with `w`, to the
/// big size (through autograd when output_padding / asymmetric padding would be needed).
pub(crate) fn conv_transpose_to(g: &Tensor, w: &Tensor, r: &Rel) -> Tensor {
    let n = g.shape()[0];
    let ci = w.shape()[1];
    let x = Tensor::zeros(&gpu(), &[n, ci, r.big[0], r.big[1]])
        .unwrap()
        .with_grad()
        .unwrap();
    let y = x.conv2d(w, None, &geom_of(r)).unwrap();
    let opts = tapegan::GradOptions {
        grad_outputs: Some(vec![g.clone()]),
        ..Default::default()
    };
    tapegan::grad_with(&[&y], &[&x], &opts).unwrap()[0]
        .clone()
        .unwrap()
}

/// A public geometry that resolves to relation `r` as a conv2d on the big image.
pub(crate) fn geom_of(r: &Rel) -> Conv2dGeom {
    if let Some(g) = explicit_geom(r) {
        return g;
    }
    let g = Conv2dGeom {
        stride: r.s,
        padding: Padding::Same,
        output_padding: [0; 2],
    };
    let ok = (0..2).all(|a| conv_axis(&g, a, r.big[a], r.k[a]) == (r.p[a], r.small[a]));
    assert!(ok, "relation {r:?} has no public conv2d geometry");
    g
}
