// norm_stats.wgsl — partial per-channel sums for batch/instance normalisation.
// The input is viewed as [A, C, B] (A: outer rows, C: channels, B: inner elements); channel c
// owns x[(a·C + c)·B + b]. Invocation (chunk, c) sums rows a0..a1 of its channel:
//   FORWARD: Σ (x − s) and Σ (x − s)², with s = x[c·B] (the channel's first value: shifting
//            keeps the one-pass variance free of cancellation for data far from zero);
//   BACKWARD: Σ g and Σ g·x̂ with x̂ = (x − mean[c])·invstd[c].
// Bindings: 0 params; 1 x; 2 g (backward; x again when forward); 3 stats [2, C] (mean,
// invstd; backward only); 4 out [2, nchunks, C] (write).
// Workgroup: 64 invocations; the host picks chunks so each loops at most 16 384 times
// (llvmpipe's iteration cap) and there are enough invocations to fill the device.
// Variant: BACKWARD (false/true).
struct Params { a: u32, c: u32, b: u32, rows: u32, nchunks: u32, n: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const BACKWARD: bool = {{BACKWARD}};

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let kc = divmod(t, p.c);
    let chunk = kc.x;
    let c = kc.y;
    let a0 = chunk * p.rows;
    let a1 = min(p.a, a0 + p.rows);
    var s1 = 0.0;
    var s2 = 0.0;
    if (BACKWARD) {
        let mean = stats[c];
        let invstd = stats[p.c + c];
        for (var a = a0; a < a1; a = a + 1u) {
            let base = (a * p.c + c) * p.b;
            for (var b = 0u; b < p.b; b = b + 1u) {
                let gv = g[base + b];
                s1 = s1 + gv;
                s2 = s2 + gv * (x[base + b] - mean) * invstd;
            }
        }
    } else {
        let shift = x[c * p.b];
        for (var a = a0; a < a1; a = a + 1u) {
            let base = (a * p.c + c) * p.b;
            for (var b = 0u; b < p.b; b = b + 1u) {
                let d = x[base + b] - shift;
                s1 = s1 + d;
                s2 = s2 + d * d;
            }
        }
    }
    out[chunk * p.c + c] = s1;
    out[(p.nchunks + chunk) * p.c + c] = s2;
}
