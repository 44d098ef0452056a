// norm_apply.wgsl — the elementwise half of batch/instance normalisation, x viewed as [A, C, B]:
//   FORWARD:  y  = (x − mean[c])·(invstd[c]·w[c]) + b[c]
//   BACKWARD: dx = w[c]·invstd[c]·(g − Σg[c]/n − (x − mean[c])·invstd[c]·Σgx̂[c]/n)
// (w = 1, b = 0 without AFFINE). With ACT a leaky ReLU (slope 0: ReLU) follows: the forward
// writes z > 0 ? z : slope·z for z = the normalised value, and the backward first takes g back
// through it (g ← slope·g where z ≤ 0, z recomputed from x; Σg and Σgx̂ then come from the
// statistics pass that did the same). One pass over the activations instead of two.
// Bindings: 0 params; 1 x; 2 g (backward; x again forward); 3 stats [2, C] (mean, invstd);
// 4 sums [2, C] (Σg, Σgx̂; backward; stats again forward); 5 w; 6 b (x again without AFFINE);
// 7 out (write).
// Each invocation owns a tile of one channel: rows a0..a1 × vectors j0..j1 of T (vec4 when B
// is a multiple of 4). Why: on lavapipe a kernel's cost is mostly its storage loads and index
// arithmetic per element; loading the per-channel values (and doing the two divmods) once per
// tile instead of once per element removes most of them (3× faster than one element per
// invocation), and vec4 rows halve the loop and index overhead again. The host keeps tiles
// small (≤ 128 elements), so the loop stays far below llvmpipe's iteration cap.
// Workgroup: 64 invocations; consecutive invocations take consecutive tiles of a row, then
// consecutive channels.
// With B = 1 and C a multiple of 4 the vec4 runs along the channels: the host passes C/4
// channels of S = vec4 (norm_stats.wgsl), and every per-channel value is an S.
// Variants: T (f32 / vec4<f32>), S (f32 or T), BACKWARD, AFFINE, ACT (false/true).
// Parameters and tiling: norm_apply_tile.wgsl, prepended by the host.
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;
@group(0) @binding(3) var<storage, read> stats: array<S>;
@group(0) @binding(4) var<storage, read> sums: array<S>;
@group(0) @binding(5) var<storage, read> w: array<S>;
@group(0) @binding(6) var<storage, read> bias: array<S>;
@group(0) @binding(7) var<storage, read_write> out: array<T>;

const BACKWARD: bool = {{BACKWARD}};
const AFFINE: bool = {{AFFINE}};
const ACT: bool = {{ACT}};

/// The fused activation (identity without ACT).
fn act(z: T) -> T {
    if (ACT) { return select(p.slope * z, z, z > T(0.0)); }
    return z;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let tl = tile(t);
    let c = tl.c;
    let mean = stats[c];
    let invstd = stats[p.c + c];
    var scale = invstd;
    var shift = S(0.0);
    if (AFFINE) {
        scale = w[c] * invstd;
        shift = bias[c];
    }
    if (BACKWARD) {
        let n = f32(p.count);
        let m1 = sums[c] / n;
        let m2 = sums[p.c + c] / n * invstd;
        for (var a = tl.a0; a < tl.a1; a = a + 1u) {
            let base = (a * p.c + c) * p.bv;
            for (var j = tl.j0; j < tl.j1; j = j + 1u) {
                let i = base + j;
                let d = x[i] - mean;
                var gv = g[i];
                if (ACT) { gv = select(p.slope * gv, gv, d * scale + shift > T(0.0)); }
                out[i] = scale * (gv - m1 - d * m2);
            }
        }
    } else {
        for (var a = tl.a0; a < tl.a1; a = a + 1u) {
            let base = (a * p.c + c) * p.bv;
            for (var j = tl.j0; j < tl.j1; j = j + 1u) {
                let i = base + j;
                out[i] = act((x[i] - mean) * scale + shift);
            }
        }
    }
}
