// row_hit.wgsl — out[i] = 1.0 when row i of x [N, C] reaches its maximum at column labels[i]
// (a tie with another column counts), else 0.0; a label ≥ C is a miss. The per-sample
// correctness behind a classification accuracy, in one pass instead of the max, compare,
// one-hot, product and sum of the composed form.
// Bindings: 0 params {n rows, c columns}; 1 x (read); 2 labels (read, u32); 3 out (write).
// Workgroup: 64 invocations, one row each (the host keeps C within the loop budget).
struct Params { n: u32, c: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = linear_id(wid, nwg, lid, 64u);
    if (row >= p.n) { return; }
    let base = row * p.c;
    // Start from the first logit, not −FLT_MAX, so a row of −∞ still has its maximum.
    var top = x[base];
    for (var j = 1u; j < p.c; j = j + 1u) {
        top = max(top, x[base + j]);
    }
    let label = labels[row];
    var hit = 0.0;
    if (label < p.c) {
        if (x[base + label] >= top) { hit = 1.0; }
    }
    out[row] = hit;
}
