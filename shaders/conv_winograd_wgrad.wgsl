// conv_winograd_wgrad.wgsl — the weight gradient of a Winograd F(2×2, 2×2) conv
// (src/ops/conv_winograd_wgrad.rs) from the gradient of its transformed kernel: each 2 × 2
// sub-kernel of one parity gets dg = Gᵀ dU G, Gᵀ = [[1, 1, 0], [0, 1, 1]] (the adjoint of
// conv_winograd_weight.wgsl's G g Gᵀ), written to dW[cs, cb, 2a + ry, 2b + rx] from
// dU[pos, cb·4 + ry·2 + rx, cs].
// Bindings: 0 params (conv_winograd_common.wgsl, prepended); 1 dU [9, 4·CB, CS] (read);
// 2 dW [CS, CB, 4, 4] (written).
// Workgroup: 64 invocations, one (cs, cb, parity) each.
// Variants: CB and CS.
@group(0) @binding(1) var<storage, read> du: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
const CB = {{CB}}u;
const CS = {{CS}}u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let parity = i % 4u;
    let cb = (i / 4u) % CB;
    let cs = i / (4u * CB);
    var u: array<f32, 9>;
    for (var pos = 0u; pos < 9u; pos++) {
        u[pos] = du[(pos * CB * 4u + cb * 4u + parity) * CS + cs];
    }
    // Gᵀ dU: rows 0 + 1 and 1 + 2; then times G: columns 0 + 1 and 1 + 2.
    let r0 = vec3<f32>(u[0] + u[3], u[1] + u[4], u[2] + u[5]);
    let r1 = vec3<f32>(u[3] + u[6], u[4] + u[7], u[5] + u[8]);
    let base = (cs * CB + cb) * 16u + (parity / 2u) * 4u + parity % 2u;
    // Tap (a, b) of the sub-kernel is kernel tap (2a + ry, 2b + rx).
    dw[base] = r0.x + r0.y;
    dw[base + 2u] = r0.y + r0.z;
    dw[base + 8u] = r1.x + r1.y;
    dw[base + 10u] = r1.y + r1.z;
}
