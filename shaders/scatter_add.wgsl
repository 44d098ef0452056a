// scatter_add.wgsl — adjoint of the row gather: out[v, :] = Σ_{i : idx[i] = v} src[i, :].
// Bindings: 0 params {rows, width, vocab, n}; 1 src (read); 2 idx (read, u32); 3 out (write).
// Workgroup: 256 invocations; each owns one output element and scans the index list, so the
// sum is deterministic and needs no float atomics (which GL and many GPUs lack).
struct Params { rows: u32, width: u32, vocab: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid, 256u);
    if (o >= p.n) { return; }
    let vc = divmod(o, p.width);
    let v = vc.x;
    let col = vc.y;
    var acc = 0.0;
    for (var i = 0u; i < p.rows; i = i + 1u) {
        if (idx[i] == v) {
            acc = acc + src[i * p.width + col];
        }
    }
    out[o] = acc;
}
