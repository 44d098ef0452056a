// cross_entropy.wgsl — softmax cross-entropy of each row of logits x [N, C] against labels [N]:
//   FORWARD:  out[i] = log Σⱼ exp(x[i, j]) − x[i, labels[i]], computed as m + log S − x[label]
//             with m the row maximum and S = Σ exp(x − m) (one pass keeps S rescaled as m grows);
//   BACKWARD: out[i, j] = g[i]·(softmax(x)[i, j] − [j = labels[i]]).
// A label ≥ C selects no class: its row's loss and gradient are 0 (as the composed
// −Σ onehot·log_softmax gave). One kernel per direction instead of the log-softmax, one-hot,
// product and row sum of the composed form.
// Bindings: 0 params {n rows, c classes}; 1 x (read); 2 labels (read, u32); 3 g (read; [N],
// backward only, x again forward); 4 out (write).
// Workgroup: 64 invocations, one row each (the host keeps C within the loop budget).
// Variants: BACKWARD (false/true).
struct Params { n: u32, c: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const BACKWARD: bool = {{BACKWARD}};

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = linear_id(wid, nwg, lid, 64u);
    if (row >= p.n) { return; }
    let base = row * p.c;
    var m = -3.4028235e38;
    var s = 0.0;
    for (var j = 0u; j < p.c; j = j + 1u) {
        let v = x[base + j];
        let mn = max(m, v);
        s = s * exp(m - mn) + exp(v - mn);
        m = mn;
    }
    let label = labels[row];
    let valid = label < p.c;
    if (BACKWARD) {
        let gi = select(0.0, g[row], valid);
        let inv = 1.0 / s;
        for (var j = 0u; j < p.c; j = j + 1u) {
            let hot = select(0.0, 1.0, j == label);
            out[base + j] = gi * (exp(x[base + j] - m) * inv - hot);
        }
        return;
    }
    var loss = 0.0;
    if (valid) {
        // (m − x[label]) + log S: adding log S to m first would round it to the ulp of m.
        loss = (m - x[base + label]) + log(s);
    }
    out[row] = loss;
}
