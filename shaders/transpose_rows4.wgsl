// transpose_rows4.wgsl — y[b, c, r] = x[b, r, c] for x of shape [B, R, C] with R a multiple
// of 4 and any C (e.g. 7×7 pixels): each invocation gathers four scalars down a column of x
// and stores them as one vec4 of y (src/ops/transpose.rs; transpose4.wgsl when C is a
// multiple of 4 too).
// Bindings: 0 params {b, r4 = R/4, c = C}; 1 x (read, scalars); 2 y (write, vec4s).
// Workgroup: 64 invocations, one vec4 of y each, numbered in y's order.
struct Params { b: u32, r4: u32, c: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.b * p.c * p.r4) { return; }
    // i = (b·C + col)·r4 + rq: y's vec4 index.
    let rq_bc = divmod(i, p.r4);
    let col_b = divmod(rq_bc.x, p.c);
    let src = (col_b.x * p.r4 * 4u + rq_bc.y * 4u) * p.c + col_b.y;
    y[i] = vec4<f32>(x[src], x[src + p.c], x[src + 2u * p.c], x[src + 3u * p.c]);
}
