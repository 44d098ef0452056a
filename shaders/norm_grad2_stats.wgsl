// norm_grad2_stats.wgsl — partial per-channel sums for the second-order rule of a
// normalisation's input gradient (norm_grad2_apply.wgsl uses them).
// The first-order rule (norm_apply.wgsl, BACKWARD) is dx = s·(G − mean G − x̂·mean(G·x̂)) per
// channel, with s = 1/√(var + ε), x̂ = (x − mean)·s and G = g (or g through a leaky ReLU whose
// input was x̂: G = g where x̂ > 0, slope·g elsewhere, with ACT). Its derivatives for an upstream
// gradient u of dx need five sums per channel, all read from x, g and u in one pass:
//   Σ G, Σ G·x̂, Σ u, Σ u·x̂, Σ u·G.
// The input is viewed as [A, C, B] as in norm_stats.wgsl; invocation (chunk, c) sums rows
// a0..a1 of channel c and writes out[k, chunk, c] for k = 0..4 ([5, nchunks, C]); the host sums
// the chunks. Rows are read as T (vec4 along B when B is a multiple of 4; with B = 1 and C a
// multiple of 4, four channels per vec4 and S = vec4), as in norm_stats.wgsl.
// Bindings: 0 params, 1 x, 2 g (norm_rows.wgsl, prepended); 3 u; 4 stats [2, C] (mean, invstd); 5 out (write).
// Workgroup: 64 invocations; the host keeps each loop under llvmpipe's iteration cap.
// Variants: T, S, TOTAL (sum of `v: T` as an S), ACT (false/true).
@group(0) @binding(3) var<storage, read> u: array<T>;
@group(0) @binding(4) var<storage, read> stats: array<S>;
@group(0) @binding(5) var<storage, read_write> out: array<S>;

const ACT: bool = {{ACT}};

fn total(v: T) -> S { return {{TOTAL}}; }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let sh = share(t);
    let c = sh.c;
    let mean = stats[c];
    let invstd = stats[p.c + c];
    var sg = T(0.0);
    var sgx = T(0.0);
    var su = T(0.0);
    var sux = T(0.0);
    var sug = T(0.0);
    for (var a = sh.a0; a < sh.a1; a = a + 1u) {
        let base = (a * p.c + c) * p.bv;
        for (var j = 0u; j < p.bv; j = j + 1u) {
            let xh = (x[base + j] - mean) * invstd;
            var gv = g[base + j];
            if (ACT) { gv = select(p.slope * gv, gv, xh > T(0.0)); }
            let uv = u[base + j];
            sg = sg + gv;
            sgx = sgx + gv * xh;
            su = su + uv;
            sux = sux + uv * xh;
            sug = sug + uv * gv;
        }
    }
    let stride = p.nchunks * p.c;
    let at = sh.chunk * p.c + c;
    out[at] = total(sg);
    out[stride + at] = total(sgx);
    out[2u * stride + at] = total(su);
    out[3u * stride + at] = total(sux);
    out[4u * stride + at] = total(sug);
}
