// gather.wgsl — row gather (embedding lookup, batch selection): out[i, :] = table[idx[i], :].
// Bindings: 0 params {rows, width, vocab, n}; 1 table (read, raw 32-bit words); 2 idx (read, u32);
// 3 out (write). Workgroup: 256 invocations, one output element each.
// An index ≥ vocab yields zeros rather than reading outside the table.
struct Params { rows: u32, width: u32, vocab: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    let rc = divmod(i, p.width);
    let row = rc.x;
    let col = rc.y;
    let src = idx[row];
    out[i] = select(0u, table[src * p.width + col], src < p.vocab);
}
