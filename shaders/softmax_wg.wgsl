// softmax_wg.wgsl — softmax over the last axis, one workgroup of 64 invocations per row (for
// GPUs, where neighbouring invocations should read neighbouring elements and a row's work
// should be spread over many threads). Same passes and layout as softmax_rows.wgsl: each
// invocation folds every 64th element of the row, then the partial results are combined in
// workgroup memory by a tree of 6 barrier-separated steps.
//   FORWARD (a = x): partial (maximum, Σ exp(x − maximum)) pairs, merged by rescaling.
//   BACKWARD (a = y, b = g): partial Σ g·y, then dx = y·(g − Σ g·y).
//   With LOG (log-softmax): forward writes x − M − log S; backward sums g and writes
//   dx = g − exp(y)·Σ g.
// Parameters and bindings: softmax_common.wgsl, prepended by the host.
var<workgroup> part_m: array<f32, 64>;
var<workgroup> part_s: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nwg.x + wid.x;
    if (row >= p.rows) { return; }
    let base = row * p.len;
    if (BACKWARD) {
        var dot = T(0.0);
        for (var i = lid; i < p.len; i = i + 64u) {
            if (LOG) {
                dot = dot + b[base + i];
            } else {
                dot = dot + a[base + i] * b[base + i];
            }
        }
        part_s[lid] = hsum(dot);
        for (var half = 32u; half > 0u; half = half / 2u) {
            workgroupBarrier();
            if (lid < half) { part_s[lid] = part_s[lid] + part_s[lid + half]; }
        }
        workgroupBarrier();
        let d = part_s[0];
        for (var i = lid; i < p.len; i = i + 64u) {
            if (LOG) {
                out[base + i] = b[base + i] - exp(a[base + i]) * d;
            } else {
                out[base + i] = a[base + i] * (b[base + i] - T(d));
            }
        }
        return;
    }
    var m = T(-3.4028235e38);
    var s = T(0.0);
    for (var i = lid; i < p.len; i = i + 64u) {
        let v = a[base + i];
        let mn = max(m, v);
        s = s * exp(m - mn) + exp(v - mn);
        m = mn;
    }
    let top = hmax(m);
    part_m[lid] = top;
    part_s[lid] = hsum(s * exp(m - T(top)));
    for (var half = 32u; half > 0u; half = half / 2u) {
        workgroupBarrier();
        if (lid < half) {
            let m1 = part_m[lid];
            let m2 = part_m[lid + half];
            let mn = max(m1, m2);
            part_s[lid] = part_s[lid] * exp(m1 - mn) + part_s[lid + half] * exp(m2 - mn);
            part_m[lid] = mn;
        }
    }
    workgroupBarrier();
    let row_max = part_m[0];
    if (LOG) {
        // (x − M) − log S keeps the digits of log-probabilities near 0 (softmax_rows.wgsl).
        let ls = log(part_s[0]);
        for (var i = lid; i < p.len; i = i + 64u) {
            out[base + i] = (a[base + i] - T(row_max)) - T(ls);
        }
        return;
    }
    let inv = 1.0 / part_s[0];
    for (var i = lid; i < p.len; i = i + 64u) {
        out[base + i] = exp(a[base + i] - T(row_max)) * inv;
    }
}
