// softmax_rows.wgsl — softmax over the last axis, one invocation per row (for CPU adapters).
// Layout, parameters and bindings: softmax_common.wgsl, prepended by the host.
//   FORWARD (a = x): one pass keeps a running maximum m and a running Σ exp(x − m) rescaled
//            whenever m grows (per vector lane), a second pass writes exp(x − M) / S: two reads
//            and one write per element instead of the seven reads and three writes of the
//            composed max/sub/exp/sum/div.
//   BACKWARD (a = y, b = g): dx = y·(g − Σ g·y), in two passes.
//   With LOG, log-softmax: the second forward pass writes x − M − log S, and the backward is
//   dx = g − exp(y)·Σ g (y = log-softmax, so exp(y) is the softmax).
// Why one invocation per row: on lavapipe every storage load costs the same however the lanes'
// addresses are laid out, so the cheapest kernel is the one with the fewest loads and no
// barriers (a barrier is a coroutine switch there).
// Workgroup: 64 invocations.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = linear_id(wid, nwg, lid, 64u);
    if (row >= p.rows) { return; }
    let base = row * p.len;
    if (BACKWARD) {
        var dot = T(0.0);
        for (var i = 0u; i < p.len; i = i + 1u) {
            if (LOG) {
                dot = dot + b[base + i];
            } else {
                dot = dot + a[base + i] * b[base + i];
            }
        }
        let d = hsum(dot);
        for (var i = 0u; i < p.len; i = i + 1u) {
            let y = a[base + i];
            if (LOG) {
                out[base + i] = b[base + i] - exp(y) * d;
            } else {
                out[base + i] = y * (b[base + i] - T(d));
            }
        }
        return;
    }
    var m = T(-3.4028235e38);
    var s = T(0.0);
    for (var i = 0u; i < p.len; i = i + 1u) {
        let v = a[base + i];
        let mn = max(m, v);
        s = s * exp(m - mn) + exp(v - mn);
        m = mn;
    }
    let top = hmax(m);
    let total = hsum(s * exp(m - T(top)));
    if (LOG) {
        // (x − M) − log S, not x − (M + log S): the sum would round log S to the ulp of M and
        // lose the digits of log-probabilities near 0 when the logits are large.
        let ls = log(total);
        for (var i = 0u; i < p.len; i = i + 1u) {
            out[base + i] = (a[base + i] - T(top)) - T(ls);
        }
        return;
    }
    let inv = 1.0 / total;
    for (var i = 0u; i < p.len; i = i + 1u) {
        out[base + i] = exp(a[base + i] - T(top)) * inv;
    }
}
