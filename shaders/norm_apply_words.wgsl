// norm_apply_words.wgsl — norm_apply.wgsl for rows of B elements that are not whole vec4s
// (batch and instance norm on 7 × 7 maps: B = 49) in a tensor of whole vec4s. Same formulas,
// variants and bindings as norm_apply.wgsl with T = vec4<f32>, S = f32.
// Each invocation owns a run of whole vec4 words of the flat tensor [A·C rows of B], so no
// two invocations write one word. A word lies in at most two rows (B ≥ 2): lanes before the
// row's end take that row's channel values, the others the next row's; both rows' values
// are loaded once per row the run crosses, not per word.
// Why: on a CPU adapter every storage access is a loop over the SIMD lanes, so the scalar
// tiles cost one load and one store per element; words cost a quarter of them plus a few
// vector selects (norm_stats_words.wgsl does the same for the statistics).
// Parameters: words (total vec4 words), run (words per invocation), b (B), c (C), n
// (invocations), count (elements per channel's statistics), slope.
struct Params { words: u32, run: u32, b: u32, c: u32, n: u32, count: u32, slope: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read> w: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<vec4<f32>>;

const BACKWARD: bool = {{BACKWARD}};
const AFFINE: bool = {{AFFINE}};
const ACT: bool = {{ACT}};

// One channel's values: y = (x − mean)·scale + shift forward; backward
// dx = scale·(g − m1 − (x − mean)·m2), with the mask from (x − mean)·scale + shift.
struct Channel { mean: f32, scale: f32, shift: f32, m1: f32, m2: f32 }

fn channel(row: u32) -> Channel {
    let c = row % p.c;
    let invstd = stats[p.c + c];
    var ch = Channel(stats[c], invstd, 0.0, 0.0, 0.0);
    if (AFFINE) {
        ch.scale = w[c] * invstd;
        ch.shift = bias[c];
    }
    if (BACKWARD) {
        let n = f32(p.count);
        ch.m1 = sums[c] / n;
        ch.m2 = sums[p.c + c] / n * invstd;
    }
    return ch;
}

fn pick(next: f32, cur: f32, in_cur: vec4<bool>) -> vec4<f32> {
    return select(vec4<f32>(next), vec4<f32>(cur), in_cur);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 64u);
    if (t >= p.n) { return; }
    let q0 = t * p.run;
    let q1 = min(p.words, q0 + p.run);
    var row = (4u * q0) / p.b;
    var end = (row + 1u) * p.b;
    var cur = channel(row);
    var nxt = channel(row + 1u);
    for (var q = q0; q < q1; q = q + 1u) {
        let e = 4u * q;
        // Advance to the row holding the word's first element (twice per word when B < 4).
        while (e >= end) {
            row = row + 1u;
            end = end + p.b;
            cur = nxt;
            nxt = channel(row + 1u);
        }
        let in_cur = vec4<u32>(e) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(end);
        let mean = pick(nxt.mean, cur.mean, in_cur);
        let scale = pick(nxt.scale, cur.scale, in_cur);
        let shift = pick(nxt.shift, cur.shift, in_cur);
        let d = x[q] - mean;
        if (BACKWARD) {
            var gv = g[q];
            if (ACT) { gv = select(p.slope * gv, gv, d * scale + shift > vec4<f32>(0.0)); }
            let m1 = pick(nxt.m1, cur.m1, in_cur);
            let m2 = pick(nxt.m2, cur.m2, in_cur);
            out[q] = scale * (gv - m1 - d * m2);
        } else {
            var z = d * scale + shift;
            if (ACT) { z = select(p.slope * z, z, z > vec4<f32>(0.0)); }
            out[q] = z;
        }
    }
}
