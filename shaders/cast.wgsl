// cast.wgsl — element type conversion: f32 → u32 (truncation toward zero, negatives and NaN
// to 0) or u32 → f32, selected by TO_U32.
// Bindings: 0 params {n}; 1 x (read, raw words); 2 y (write, raw words).
// Workgroup: 256 invocations, one element each.
struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    if ({{TO_U32}}) {
        let v = bitcast<f32>(x[i]);
        y[i] = select(0u, u32(v), v >= 1.0);
    } else {
        y[i] = bitcast<u32>(f32(x[i]));
    }
}
