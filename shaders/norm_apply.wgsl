// norm_apply.wgsl — the elementwise half of batch/instance normalisation, x viewed as [A, C, B]:
//   FORWARD:  y  = (x − mean[c])·invstd[c]·w[c] + b[c]
//   BACKWARD: dx = w[c]·invstd[c]·(g − Σg[c]/n − x̂·Σgx̂[c]/n), x̂ = (x − mean[c])·invstd[c]
// (w = 1, b = 0 without AFFINE). Bindings: 0 params; 1 x; 2 g (backward; x again forward);
// 3 stats [2, C] (mean, invstd); 4 sums [2, C] (Σg, Σgx̂; backward; stats again forward);
// 5 w; 6 b (x again when absent); 7 out (write).
// Workgroup: 256 invocations, one element each.
// Variants: BACKWARD, AFFINE (false/true).
struct Params { c: u32, b: u32, n: u32, count: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read> w: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

const BACKWARD: bool = {{BACKWARD}};
const AFFINE: bool = {{AFFINE}};

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    let c = divmod(divmod(i, p.b).x, p.c).y;
    let mean = stats[c];
    let invstd = stats[p.c + c];
    var scale = 1.0;
    if (AFFINE) { scale = w[c]; }
    let xhat = (x[i] - mean) * invstd;
    if (BACKWARD) {
        let n = f32(p.count);
        out[i] = scale * invstd * (g[i] - sums[c] / n - xhat * sums[p.c + c] / n);
    } else {
        var shift = 0.0;
        if (AFFINE) { shift = bias[c]; }
        out[i] = xhat * scale + shift;
    }
}
