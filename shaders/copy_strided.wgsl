// copy_strided.wgsl — the one layout kernel: permute, slice, broadcast, concat, pad.
// For each linear index over the iteration `shape` with coordinates c:
//   out[out_off + Σ c_d·so_d] = x[in_off + Σ c_d·si_d]
// Bindings: 0 params; 1 x (read); 2 out (write). Elements are copied as raw 32-bit words, so
// f32 and u32 tensors share the kernel. Workgroup: 256 invocations, one element each.
struct Params {
    n: u32, rank: u32, in_off: u32, out_off: u32,
    shape: array<vec4<u32>, 2>,
    si: array<vec4<u32>, 2>,
    so: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    var rem = i;
    var ii = p.in_off;
    var io = p.out_off;
    for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
        let s = at8(p.shape, u32(d));
        let c = rem % s;
        rem = rem / s;
        ii = ii + c * at8(p.si, u32(d));
        io = io + c * at8(p.so, u32(d));
    }
    out[io] = x[ii];
}
