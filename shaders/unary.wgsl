// unary.wgsl — y[i] = EXPR(x[i]) for every element.
// Bindings: 0 params {n, alpha, beta}; 1 x (read); 2 y (write).
// Workgroup: 256 invocations, one element each, over a 2-D grid (see linear_id).
// Variants: EXPR is an expression in `v` (the input value) and `p.alpha`, `p.beta`.
struct Params { n: u32, pad: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    let v = x[i];
    y[i] = {{EXPR}};
}
