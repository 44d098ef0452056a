//! Plain-Rust CPU references for the kernel tests (`tests/kernels/`): broadcasting, reductions,
//! layout copies, matrix products, index ops and the Philox4x32-10 generator. Everything here is
//! written the obvious way, in f64 where rounding matters, so that it can be trusted by reading.
#![allow(dead_code)]

/// Row-major strides of a contiguous array of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Coordinates of linear index `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        c[d] = i % shape[d];
        i /= shape[d];
    }
    c
}

/// NumPy broadcast shape of `shapes` (panics when they are incompatible).
pub fn broadcast_shape(shapes: &[&[usize]]) -> Vec<usize> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; rank];
    for s in shapes {
        let off = rank - s.len();
        for (d, &n) in s.iter().enumerate() {
            let o = &mut out[off + d];
            if *o == 1 {
                *o = n;
            } else {
                assert!(n == 1 || n == *o, "incompatible shapes {shapes:?}");
            }
        }
    }
    out
}

/// Linear index into an operand of shape `s` for output coordinates `c` (broadcast rules).
pub fn bcast_index(c: &[usize], s: &[usize]) -> usize {
    let off = c.len() - s.len();
    let st = strides(s);
    (0..s.len())
        .map(|d| if s[d] == 1 { 0 } else { c[off + d] * st[d] })
        .sum()
}

/// `f(a, b)` elementwise with broadcasting; returns (shape, values).
pub fn binary<T: Copy, U>(
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    f: impl Fn(T, T) -> U,
) -> (Vec<usize>, Vec<U>) {
    let shape = broadcast_shape(&[sa, sb]);
    let n: usize = shape.iter().product();
    let out = (0..n)
        .map(|i| {
            let c = unravel(i, &shape);
            f(a[bcast_index(&c, sa)], b[bcast_index(&c, sb)])
        })
        .collect();
    (shape, out)
}

/// `f(c, a, b)` elementwise with broadcasting; returns (shape, values).
#[allow(clippy::too_many_arguments)]
pub fn ternary<T: Copy, U>(
    c: &[T],
    sc: &[usize],
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    f: impl Fn(T, T, T) -> U,
) -> (Vec<usize>, Vec<U>) {
    let shape = broadcast_shape(&[sc, sa, sb]);
    let n: usize = shape.iter().product();
    let out = (0..n)
        .map(|i| {
            let k = unravel(i, &shape);
            f(
                c[bcast_index(&k, sc)],
                a[bcast_index(&k, sa)],
                b[bcast_index(&k, sb)],
            )
        })
        .collect();
    (shape, out)
}

/// Output shape of a reduction over `axes` (sorted, unique).
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (d, &n) in shape.iter().enumerate() {
        if axes.contains(&d) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(n);
        }
    }
    out
}

/// Reduction over `axes` (empty = all). Returns per output: (sum in f64, Σ|x|, max, count).
pub struct Reduced {
    pub sum: Vec<f64>,
    pub abs_sum: Vec<f64>,
    pub max: Vec<f32>,
    pub count: usize,
}

pub fn reduce(x: &[f32], shape: &[usize], axes: &[usize]) -> Reduced {
    let axes: Vec<usize> = if axes.is_empty() {
        (0..shape.len()).collect()
    } else {
        axes.to_vec()
    };
    let out_shape = reduced_shape(shape, &axes, true);
    let n_out: usize = out_shape.iter().product();
    let count: usize = axes.iter().map(|&a| shape[a]).product();
    let mut r = Reduced {
        sum: vec![0.0; n_out],
        abs_sum: vec![0.0; n_out],
        max: vec![f32::NEG_INFINITY; n_out],
        count,
    };
    let ost = strides(&out_shape);
    for (i, &v) in x.iter().enumerate() {
        let c = unravel(i, shape);
        let o: usize = (0..shape.len())
            .map(|d| if axes.contains(&d) { 0 } else { c[d] * ost[d] })
            .sum();
        r.sum[o] += v as f64;
        r.abs_sum[o] += (v as f64).abs();
        r.max[o] = r.max[o].max(v);
    }
    r
}

/// Output dimension i is input dimension `dims[i]`.
pub fn permute<T: Copy>(x: &[T], shape: &[usize], dims: &[usize]) -> (Vec<usize>, Vec<T>) {
    let out_shape: Vec<usize> = dims.iter().map(|&d| shape[d]).collect();
    let st = strides(shape);
    let n: usize = out_shape.iter().product();
    let out = (0..n)
        .map(|i| {
            let c = unravel(i, &out_shape);
            let src: usize = dims.iter().zip(&c).map(|(&d, &k)| k * st[d]).sum();
            x[src]
        })
        .collect();
    (out_shape, out)
}

/// Elements `start..start+len` of `axis`.
pub fn narrow<T: Copy>(x: &[T], shape: &[usize], axis: usize, start: usize, len: usize) -> Vec<T> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        for k in start..start + len {
            let base = (o * shape[axis] + k) * inner;
            out.extend_from_slice(&x[base..base + inner]);
        }
    }
    out
}

/// `x` placed at `start` of `axis` inside zeros of size `full` along that axis.
pub fn pad_into(x: &[f32], shape: &[usize], axis: usize, start: usize, full: usize) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let len = shape[axis];
    let mut out = vec![0.0; outer * full * inner];
    for o in 0..outer {
        for k in 0..len {
            let src = (o * len + k) * inner;
            let dst = (o * full + start + k) * inner;
            out[dst..dst + inner].copy_from_slice(&x[src..src + inner]);
        }
    }
    out
}

/// Concatenation of `parts` (data, shape) along `axis`.
pub fn concat<T: Copy>(parts: &[(&[T], &[usize])], axis: usize) -> Vec<T> {
    let shape0 = parts[0].1;
    let outer: usize = shape0[..axis].iter().product();
    let inner: usize = shape0[axis + 1..].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for (data, shape) in parts {
            let run = shape[axis] * inner;
            out.extend_from_slice(&data[o * run..(o + 1) * run]);
        }
    }
    out
}

/// `x` broadcast to `shape`.
pub fn broadcast_to<T: Copy>(x: &[T], xs: &[usize], shape: &[usize]) -> Vec<T> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| x[bcast_index(&unravel(i, shape), xs)])
        .collect()
}

/// Row-major transpose of an r×c matrix.
pub fn transpose2(x: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = x[i * c + j];
        }
    }
    out
}

/// C = A·B for row-major A (m×k) and B (k×n), in f64. Returns (C, Σ_k |a_ik·b_kj|).
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut c = vec![0.0f64; m * n];
    let mut s = vec![0.0f64; m * n];
    for i in 0..m {
        for kk in 0..k {
            let av = a[i * k + kk] as f64;
            let brow = &b[kk * n..(kk + 1) * n];
            let crow = &mut c[i * n..(i + 1) * n];
            let srow = &mut s[i * n..(i + 1) * n];
            for j in 0..n {
                let p = av * brow[j] as f64;
                crow[j] += p;
                srow[j] += p.abs();
            }
        }
    }
    (c, s)
}

/// Rows of `table` (rows of `width` words) picked by `idx`; out-of-range indices give zeros.
pub fn gather_rows<T: Copy + Default>(table: &[T], width: usize, idx: &[u32]) -> Vec<T> {
    let vocab = table.len() / width.max(1);
    let mut out = Vec::with_capacity(idx.len() * width);
    for &i in idx {
        let i = i as usize;
        if i < vocab {
            out.extend_from_slice(&table[i * width..(i + 1) * width]);
        } else {
            out.extend(std::iter::repeat_n(T::default(), width));
        }
    }
    out
}

/// out[v] = Σ_{i: idx[i] = v} src[i], summed in index order in f32 (as the kernel does).
pub fn scatter_add_rows(src: &[f32], width: usize, idx: &[u32], vocab: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; vocab * width];
    for (r, &i) in idx.iter().enumerate() {
        let i = i as usize;
        if i < vocab {
            for c in 0..width {
                out[i * width + c] += src[r * width + c];
            }
        }
    }
    out
}

/// Philox4x32-10 block for counter `ctr` under `key` (Salmon et al. 2011, as in cuRAND).
pub fn philox(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (ctr, key);
    for _ in 0..10 {
        let p0 = 0xD251_1F53u64 * c[0] as u64;
        let p1 = 0xCD9E_8D57u64 * c[2] as u64;
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [
            k[0].wrapping_add(0x9E37_79B9),
            k[1].wrapping_add(0xBB67_AE85),
        ];
    }
    c
}

/// The raw 32-bit words a draw of `n` numbers from (seed, offset) consumes, in output order.
pub fn philox_words(seed: u64, offset: u64, n: usize) -> Vec<u32> {
    let key = [seed as u32, (seed >> 32) as u32];
    let mut out = Vec::with_capacity(n.div_ceil(4) * 4);
    for t in 0..n.div_ceil(4) as u64 {
        let ctr = offset.wrapping_add(t);
        out.extend_from_slice(&philox([ctr as u32, (ctr >> 32) as u32, 0, 0], key));
    }
    out.truncate(n);
    out
}

/// Uniform [0, 1) with 24 bits, as the kernel maps a word.
pub fn unit(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// Uniform (0, 1] with 24 bits, as the kernel maps a word for logarithms.
pub fn unit_open(x: u32) -> f32 {
    ((x >> 8) as f32 + 1.0) * (1.0 / (1u32 << 24) as f32)
}

/// Normal numbers the kernel's Box–Muller transform makes from a draw's words (whole blocks of
/// four), in f64, each with the radius √(−2 ln u) it was scaled by.
pub fn box_muller(words: &[u32]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(words.len());
    for q in words.chunks(4) {
        let mut w = [0u32; 4];
        w[..q.len()].copy_from_slice(q);
        let tau = std::f64::consts::TAU;
        let r0 = (-2.0 * (unit_open(w[0]) as f64).ln()).sqrt();
        let r1 = (-2.0 * (unit_open(w[2]) as f64).ln()).sqrt();
        let z = [
            (r0 * (tau * unit(w[1]) as f64).cos(), r0),
            (r0 * (tau * unit(w[1]) as f64).sin(), r0),
            (r1 * (tau * unit(w[3]) as f64).cos(), r1),
            (r1 * (tau * unit(w[3]) as f64).sin(), r1),
        ];
        out.extend_from_slice(&z[..q.len()]);
    }
    out
}

/// softplus(x) = log(1 + eˣ) in f64 without overflow.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// 1/(1 + e⁻ˣ) in f64 without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}
