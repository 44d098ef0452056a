// fill.wgsl — y[i] = value (f32 or u32 bit pattern) for every element.
// Bindings: 0 params {n, bits}; 1 y (write). Workgroup: 256 invocations.
struct Params { n: u32, bits: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    y[i] = p.bits;
}
