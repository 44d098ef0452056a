// transpose4.wgsl — y[b, c, r] = x[b, r, c] for x of shape [B, R, C] with R and C multiples
// of 4: the channels-last copies the vec4 convolution kernels read (src/ops/transpose.rs).
// Why not copy_strided: that kernel moves one element per invocation with a rank-generic
// index; here an invocation moves a 4×4 block with four vec4 loads and four vec4 stores, a
// quarter of the memory operations (each a loop over the lanes on lavapipe).
// Bindings: 0 params {b, r4 = R/4, c4 = C/4}; 1 x (read); 2 y (write), both as vec4s.
// Workgroup: 64 invocations, one block each, blocks numbered (b, column block, row block) so
// that neighbouring invocations write neighbouring vec4s.
struct Params { b: u32, r4: u32, c4: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.b * p.r4 * p.c4) { return; }
    let rq_rest = divmod(i, p.r4);
    let cq_b = divmod(rq_rest.x, p.c4);
    let rq = rq_rest.y;
    let cq = cq_b.y;
    let b = cq_b.x;
    // Rows 4·rq … 4·rq + 3 of x, columns 4·cq … 4·cq + 3.
    let src = (b * p.r4 * 4u + rq * 4u) * p.c4 + cq;
    let r0 = x[src];
    let r1 = x[src + p.c4];
    let r2 = x[src + 2u * p.c4];
    let r3 = x[src + 3u * p.c4];
    // Rows 4·cq … 4·cq + 3 of y, columns 4·rq … 4·rq + 3.
    let dst = (b * p.c4 * 4u + cq * 4u) * p.r4 + rq;
    y[dst] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
    y[dst + p.r4] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
    y[dst + 2u * p.r4] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
    y[dst + 3u * p.r4] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
}
