// common.wgsl — prepended to every kernel.
// Linear invocation index for 1-D work spread over a 2-D dispatch grid (x ≤ 65535 groups).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * wg + lid;
}

// Reads element i (0..8) of an 8-entry index array packed as two vec4 (uniform layout rules).
fn at8(a: array<vec4<u32>, 2>, i: u32) -> u32 {
    return a[i / 4u][i % 4u];
}

// eˣ − 1 without the cancellation of exp(v) - 1 near 0: Taylor series to v⁸ for |v| < 0.5
// (truncation < 2⁻²⁶ relative), where exp(v) − 1 would lose up to log2(1/|v|) bits.
fn expm1(v: f32) -> f32 {
    if (abs(v) < 0.5) {
        return v * (1.0 + v * (1.0 / 2.0 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0
            + v * (1.0 / 720.0 + v * (1.0 / 5040.0 + v * (1.0 / 40320.0))))))));
    }
    return exp(v) - 1.0;
}

// The activations product and conv kernels apply in their stores, for a slope or α ≥ 0 (the
// backward rules read their derivatives from the output). A zero slope is a ReLU and gives
// +0 below zero, as max(v, 0) does.
fn leaky_with(v: f32, slope: f32) -> f32 {
    return select(select(slope * v, 0.0, slope == 0.0), v, v > 0.0);
}
fn elu_with(v: f32, alpha: f32) -> f32 {
    return select(alpha * expm1(v), v, v > 0.0);
}

// vᵖ for scalar p; integer p accepts negative v (sign kept for odd p); 0⁰ = 1.
fn pow_scalar(v: f32, e: f32) -> f32 {
    if (e == 0.0) { return 1.0; }
    if (e == 1.0) { return v; }
    if (e == 2.0) { return v * v; }
    if (fract(e) == 0.0) {
        let m = pow(abs(v), e);
        let odd = (i32(abs(e)) % 2) == 1;
        return select(m, -m, odd && v < 0.0);
    }
    return pow(v, e);
}

// log(1 + u) for u ≥ 0 without losing u when it is tiny (series below 1e-4).
fn log1p_small(u: f32) -> f32 {
    if (u < 1e-4) {
        return u * (1.0 - 0.5 * u);
    }
    return log(1.0 + u);
}

// (i / d, i % d) for i < 2^31 without integer division: CPU adapters have no vector integer
// divide and run eight scalar ones per SIMD group, so an index kernel spends most of its time
// there. The float quotient is within a few units of the true one; a correction step (the
// small remainder divided again in float) brings it within one, and an integer step makes it
// exact. The last step matters on GPUs: Vulkan lets float division be approximate (2.5 ulp,
// NVIDIA uses a reciprocal), so r / d for r = k·d can come out just under k and floor to
// k − 1 (seen as wrong indices at multiples of d on an H100). src/ops/broadcast.rs tests a
// step-for-step copy of this function under divisions off by up to 3 ulp: keep them alike.
fn divmod(i: u32, d: u32) -> vec2<u32> {
    let fd = f32(d);
    let di = i32(d);
    var q = i32(f32(i) / fd);
    q = q + i32(floor(f32(i32(i) - q * di) / fd));
    let r = i32(i) - q * di;
    q = q + select(0, 1, r >= di) - select(0, 1, r < 0);
    return vec2<u32>(u32(q), i - u32(q) * d);
}

// Which components of vec4 word q (flat elements 4q … 4q + 3) lie in [e0, e1): the mask of
// kernels that read a row starting anywhere in a word as whole words (reduce_rows4.wgsl,
// norm_stats_words.wgsl); the row's words are q = e0 / 4 … (e1 + 3) / 4 − 1.
fn word_in_range(q: u32, e0: u32, e1: u32) -> vec4<bool> {
    let e = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
    return e >= vec4<u32>(e0) & e < vec4<u32>(e1);
}
