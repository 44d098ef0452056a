// dropout.wgsl — inverted dropout after a leaky ReLU, in one pass (Philox from the prefix
// philox.wgsl). The keep mask is the draw Generator::bernoulli_value makes from the same seed
// and offset: element i is kept when unit(word i) < keep, so fused and unfused dropout keep
// the same elements.
//   y = act(x)·m    c = act'(x)·m    with m = scale if kept, else 0,
//   act(x) = x for x > 0, slope·x otherwise (slope 1: plain dropout, 0: ReLU).
// act(x) = x·act'(x), so y = x·c: c is the derivative the backward multiplies by, a constant
// of the graph, and the op differentiates to any order as a product with a constant.
// Bindings: 0 params; 1 x (read); 2 y (write); 3 c (write). Workgroup: 256 invocations;
// invocation t draws Philox block t and handles elements 4t..4t+3.
struct Params {
    n: u32, seed_lo: u32, seed_hi: u32, off_lo: u32,
    off_hi: u32, keep: f32, scale: f32, slope: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t * 4u >= p.n) { return; }
    let r = philox_block(p.seed_lo, p.seed_hi, p.off_lo, p.off_hi, t);
    let m = select(vec4<f32>(0.0), vec4<f32>(p.scale), unit4(r) < vec4<f32>(p.keep));
    let base = t * 4u;
    for (var j = 0u; j < 4u; j = j + 1u) {
        let i = base + j;
        if (i < p.n) {
            let v = x[i];
            // As the leaky ReLU kernel computes it, so the fused forward is bit-identical to
            // the activation followed by a mask multiply; slope 0 gives +0 (not 0·v, which is
            // −0, or NaN at −∞) as ReLU's max(v, 0) does.
            let negative = select(p.slope * v, 0.0, p.slope == 0.0);
            y[i] = select(negative, v, v > 0.0) * m[j];
            c[i] = select(p.slope, 1.0, v > 0.0) * m[j];
        }
    }
}
