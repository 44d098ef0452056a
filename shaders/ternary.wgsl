// ternary.wgsl — out[i] = EXPR(c[ic], a[ia], b[ib]) with NumPy broadcasting (select, lerp).
// Bindings: 0 params; 1 c; 2 a; 3 b (read); 4 out (write).
// Workgroup: 256 invocations, one output element each; strides as in binary.wgsl.
// Variants: EXPR in `c`, `x` (from a), `y` (from b); INDEX, the unrolled index arithmetic.
struct Params {
    n: u32, rank: u32, pad0: u32, pad1: u32,
    shape: array<vec4<u32>, 2>,
    sc: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cin: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
{{INDEX}}    let c = cin[ic];
    let x = a[ia];
    let y = b[ib];
    out[i] = {{EXPR}};
}
