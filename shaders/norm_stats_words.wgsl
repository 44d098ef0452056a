// norm_stats_words.wgsl — norm_stats.wgsl for rows of B elements that are not whole vec4s
// (instance and batch norm on 7 × 7 maps: B = 49). Each row (a, c), elements
// [(a·C + c)·B, … + B) of the flat input, is read as the vec4 words it overlaps, and every
// word is masked to the row's elements (zero elsewhere).
// Why: on a CPU adapter every storage-buffer load is a loop over the SIMD lanes, so reading a
// row four elements per load takes about a quarter of the loads of the scalar pass; the
// masking is a few vector compares per word.
// Sums, parameters, bindings and variants as in norm_stats.wgsl with T = vec4<f32>, S = f32;
// here p.bv is B, in elements, and x, g (and their flat size) hold whole vec4s. Parameters
// and bindings: norm_rows.wgsl and norm_stats_bindings.wgsl, prepended by the host.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let sh = share(t);
    let c = sh.c;
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    // Backward: the channel's mean; forward: its first value, the shift of norm_stats.wgsl.
    var center = 0.0;
    var invstd = 0.0;
    var scale = 0.0;
    var shift = 0.0;
    if (BACKWARD) {
        center = stats[c];
        invstd = stats[p.c + c];
        scale = invstd;
        if (ACT && AFFINE) {
            scale = w[c] * invstd;
            shift = bias[c];
        }
    } else {
        let f = c * p.bv;
        center = x[f / 4u][f % 4u];
    }
    for (var a = sh.a0; a < sh.a1; a = a + 1u) {
        let e0 = (a * p.c + c) * p.bv;
        let e1 = e0 + p.bv;
        for (var q = e0 / 4u; q < (e1 + 3u) / 4u; q = q + 1u) {
            let inside = word_in_range(q, e0, e1);
            let d = select(vec4<f32>(0.0), x[q] - center, inside);
            if (BACKWARD) {
                var gv = select(vec4<f32>(0.0), g[q], inside);
                if (ACT) {
                    gv = select(p.slope * gv, gv, d * scale + shift > vec4<f32>(0.0));
                }
                s1 = s1 + gv;
                s2 = s2 + gv * d;
            } else {
                s1 = s1 + d;
                s2 = s2 + d * d;
            }
        }
    }
    if (BACKWARD) {
        s2 = s2 * invstd;
    }
    put_sums(sh, (s1.x + s1.y) + (s1.z + s1.w), (s2.x + s2.y) + (s2.z + s2.w));
}
