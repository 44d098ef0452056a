// unary.wgsl — y[i] = EXPR(x[i]) for every element.
// Bindings: 0 params {n, alpha, beta}; 1 x (read); 2 y (write).
// Workgroup: 256 invocations over a 2-D grid (see linear_id), each one element of T: a vec4
// of four elements when the element count is a multiple of 4 (the host passes n in units of
// T). On lavapipe a storage access costs about the same for a vec4 as for a scalar, so the
// vec4 form does a quarter of the accesses.
// Variants: EXPR is an expression in `v` (one input value) and `p.alpha`, `p.beta`; T and
// APPLY (`op(v)` for f32, `op` on each component for vec4).
alias T = {{T}};
struct Params { n: u32, pad: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

fn op(v: f32) -> f32 { return {{EXPR}}; }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    let v = x[i];
    y[i] = {{APPLY}};
}
