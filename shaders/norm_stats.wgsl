// norm_stats.wgsl — partial per-channel sums for batch/instance normalisation.
// The input is viewed as [A, C, B] (A: outer rows, C: channels, B: inner elements); channel c
// owns x[(a·C + c)·B + b]. Invocation (chunk, c) sums rows a0..a1 of its channel:
//   FORWARD: Σ (x − s) and Σ (x − s)², with s = x[c·B] (the channel's first value: shifting
//            keeps the one-pass variance free of cancellation for data far from zero);
//   BACKWARD: Σ g and Σ g·x̂ with x̂ = (x − mean[c])·invstd[c]. With ACT the layer's output
//            went through a leaky ReLU (slope 0: ReLU) after the affine transform, so g is
//            first taken back through it: g ← g where z = x̂·w[c] + b[c] > 0, slope·g elsewhere
//            (z is recomputed from x, which the pass reads anyway, instead of storing a mask).
// Rows are read as arrays of T (vec4 when B is a multiple of 4; the host passes bv = B/4):
// on lavapipe that measured ~1.5–2× faster per element than scalar loads (a quarter of the loop
// iterations and index arithmetic). The four lanes of the vector accumulators are also four
// independent partial sums, added only at the end. With B = 1 (batch norm of [N, C]) and C a
// multiple of 4 the vec4 runs along the channels instead: the host passes C/4 channels of
// S = vec4 (four real channels each), every per-channel value is an S, and nothing is added
// across lanes (TOTAL and FIRST are the identity).
// Bindings: 0 params; 1 x; 2 g (backward; x again when forward); 3 stats [2, C] (mean,
// invstd; backward only); 4 out [2, nchunks, C] (write); 5 w, 6 b (ACT with AFFINE; x again
// otherwise).
// Workgroup: 64 invocations; the host picks chunks so each loops at most 16 384 times
// (llvmpipe's iteration cap) and there are enough invocations to fill the device.
// Variants: T (f32 / vec4<f32>) and S (the per-channel type, f32 or T) with TOTAL and FIRST
// (sum of / first component of `v: T`, as an S), BACKWARD, ACT, AFFINE (false/true).
// Parameters and bindings: norm_rows.wgsl and norm_stats_bindings.wgsl, prepended by the host.
fn total(v: T) -> S { return {{TOTAL}}; }
fn first(v: T) -> S { return {{FIRST}}; }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let sh = share(t);
    let c = sh.c;
    var s1 = T(0.0);
    var s2 = T(0.0);
    if (BACKWARD) {
        let mean = stats[c];
        let invstd = stats[p.c + c];
        var scale = invstd;
        var shift = S(0.0);
        if (ACT && AFFINE) {
            scale = w[c] * invstd;
            shift = bias[c];
        }
        for (var a = sh.a0; a < sh.a1; a = a + 1u) {
            let base = (a * p.c + c) * p.bv;
            for (var j = 0u; j < p.bv; j = j + 1u) {
                var gv = g[base + j];
                let d = x[base + j] - mean;
                if (ACT) {
                    gv = select(p.slope * gv, gv, d * scale + shift > T(0.0));
                }
                s1 = s1 + gv;
                s2 = s2 + gv * d;
            }
        }
        // Σ g·(x − mean)·invstd: invstd is per channel, so it is applied once.
        s2 = s2 * invstd;
    } else {
        let shift = first(x[c * p.bv]);
        for (var a = sh.a0; a < sh.a1; a = a + 1u) {
            let base = (a * p.c + c) * p.bv;
            for (var j = 0u; j < p.bv; j = j + 1u) {
                let d = x[base + j] - shift;
                s1 = s1 + d;
                s2 = s2 + d * d;
            }
        }
    }
    put_sums(sh, total(s1), total(s2));
}
