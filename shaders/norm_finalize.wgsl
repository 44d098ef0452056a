// norm_finalize.wgsl — per-channel totals of norm_stats.wgsl's partial sums.
//   FORWARD: mean and 1/√(var + ε) into stats [2, C] (biased variance, as used to normalise);
//            with RUNNING, also running_mean/var ← (1 − m)·old + m·batch (variance times
//            `unbias`, n/(n−1) in PyTorch's convention, 1 in Keras').
//   BACKWARD: Σ g and Σ g·x̂ into stats-shaped [2, C] (= the bias and weight gradients).
// Bindings: 0 params; 1 partial [2, nchunks, C]; 2 x (for the shift); 3 out [2, C] (write);
// 4 running_mean, 5 running_var (read-write; untouched without RUNNING).
// Workgroup: 64 invocations, one channel each.
// Variants: BACKWARD, RUNNING (false/true).
struct Params { c: u32, b: u32, nchunks: u32, count: u32, eps: f32, momentum: f32, unbias: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rvar: array<f32>;

const BACKWARD: bool = {{BACKWARD}};
const RUNNING: bool = {{RUNNING}};

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let c = linear_id(wid, nwg, lid, 64u);
    if (c >= p.c) { return; }
    var s1 = 0.0;
    var s2 = 0.0;
    for (var k = 0u; k < p.nchunks; k = k + 1u) {
        s1 = s1 + part[k * p.c + c];
        s2 = s2 + part[(p.nchunks + k) * p.c + c];
    }
    if (BACKWARD) {
        out[c] = s1;
        out[p.c + c] = s2;
        return;
    }
    let n = f32(p.count);
    let ms = s1 / n;
    let var_b = max(s2 / n - ms * ms, 0.0);
    let mean = x[c * p.b] + ms;
    out[c] = mean;
    out[p.c + c] = inverseSqrt(var_b + p.eps);
    if (RUNNING) {
        rmean[c] = (1.0 - p.momentum) * rmean[c] + p.momentum * mean;
        rvar[c] = (1.0 - p.momentum) * rvar[c] + p.momentum * var_b * p.unbias;
    }
}
