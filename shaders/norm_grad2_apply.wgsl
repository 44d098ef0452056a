// norm_grad2_apply.wgsl — the second-order rule of a normalisation's input gradient
// dx = s·(G − mean G − x̂·mean(G·x̂)) (see norm_grad2_stats.wgsl for the notation): for an
// upstream gradient u of dx, both derivatives in one pass over x, g and u:
//   ∂/∂g = m·s·(u − mean u − x̂·B)
//   ∂/∂x = −s²·((C − 3·A·B)·x̂ + B·(G − mean G) + A·(u − mean u))
// with A = mean(G·x̂), B = mean(u·x̂), C = mean(u·G) − mean u·mean G per channel, and m the
// leaky ReLU's derivative at x̂ (1 without ACT). The mask is piecewise constant, so x gets no
// gradient through it (as PyTorch).
// Why one kernel: written in elementwise ops and reductions this rule is about twenty
// dispatches per normalisation, each a full pass over the activations; here the sums are one
// pass (norm_grad2_stats.wgsl) and both gradients a second.
// Bindings: 0 params; 1 x; 2 g; 3 u; 4 stats [2, C] (mean, invstd); 5 sums [5, C] (Σ G, Σ G·x̂,
// Σ u, Σ u·x̂, Σ u·G); 6 dx out (write); 7 dg out (write).
// Tiling, T and S as norm_apply.wgsl: each invocation owns rows a0..a1 × vectors j0..j1 of
// one channel, so the per-channel coefficients are computed once per tile.
// Variants: T, S, ACT (false/true). Parameters and tiling: norm_apply_tile.wgsl, prepended
// by the host.
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;
@group(0) @binding(3) var<storage, read> u: array<T>;
@group(0) @binding(4) var<storage, read> stats: array<S>;
@group(0) @binding(5) var<storage, read> sums: array<S>;
@group(0) @binding(6) var<storage, read_write> dx: array<T>;
@group(0) @binding(7) var<storage, read_write> dg: array<T>;

const ACT: bool = {{ACT}};

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let tl = tile(t);
    let c = tl.c;
    let mean = stats[c];
    let s = stats[p.c + c];
    let inv_n = 1.0 / f32(p.count);
    let gbar = sums[c] * inv_n;
    let ca = sums[p.c + c] * inv_n;
    let ubar = sums[2u * p.c + c] * inv_n;
    let cb = sums[3u * p.c + c] * inv_n;
    let cc = sums[4u * p.c + c] * inv_n - ubar * gbar;
    let s2 = s * s;
    // ∂/∂x = kx·x̂ + kg·(G − mean G) + ku·(u − mean u).
    let kx = -s2 * (cc - 3.0 * ca * cb);
    let kg = -s2 * cb;
    let ku = -s2 * ca;
    for (var a = tl.a0; a < tl.a1; a = a + 1u) {
        let base = (a * p.c + c) * p.bv;
        for (var j = tl.j0; j < tl.j1; j = j + 1u) {
            let i = base + j;
            let xh = (x[i] - mean) * s;
            var m = T(1.0);
            if (ACT) { m = select(T(p.slope), T(1.0), xh > T(0.0)); }
            let uc = u[i] - ubar;
            dx[i] = kx * xh + kg * (m * g[i] - gbar) + ku * uc;
            dg[i] = m * (s * (uc - xh * cb));
        }
    }
}
