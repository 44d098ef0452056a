// binary.wgsl — out[i] = EXPR(a[ia], b[ib]) with NumPy broadcasting.
// Bindings: 0 params; 1 a (read); 2 b (read); 3 out (write).
// Workgroup: 256 invocations, one output element each.
// The host collapses dimensions that need no index arithmetic, so `rank` is usually 1 or 2;
// `sa`/`sb` are element strides of a and b over the output's dimensions (0 = broadcast).
// Variants: EXPR in `x` (from a) and `y` (from b); SAME=1 when both match the output exactly.
struct Params {
    n: u32, rank: u32, pad0: u32, pad1: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    var ia = i;
    var ib = i;
    if ({{SAME}}u == 0u) {
        ia = 0u;
        ib = 0u;
        var rem = i;
        for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
            let s = at8(p.shape, u32(d));
            let c = rem % s;
            rem = rem / s;
            ia = ia + c * at8(p.sa, u32(d));
            ib = ib + c * at8(p.sb, u32(d));
        }
    }
    let x = a[ia];
    let y = b[ib];
    out[i] = {{EXPR}};
}
