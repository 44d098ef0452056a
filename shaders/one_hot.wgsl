// one_hot.wgsl — out[i, c] = 1.0 if idx[i] == c else 0.0.
// Bindings: 0 params {rows, classes, n}; 1 idx (read, u32); 2 out (write).
// Workgroup: 256 invocations, one output element each.
struct Params { rows: u32, classes: u32, n: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    let rc = divmod(i, p.classes);
    out[i] = select(0.0, 1.0, idx[rc.x] == rc.y);
}
