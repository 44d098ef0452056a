// conv_winograd_weight.wgsl — the kernel transform of a Winograd F(2×2, 2×2) convolution
// with a 4 × 4 kernel at stride 2, padding 1 (conv_winograd_input.wgsl has the derivation):
// U = G g Gᵀ for each 2 × 2 sub-kernel g of one parity, with G = [[1, 0], [1, 1], [0, 1]].
//   conv (TRANSPOSED false), w [D, C, 4, 4]: g[a][b] = w[co, ci, 2a + ry, 2b + rx], written
//     to U[pos, ci·4 + ry·2 + rx, co] (the parities are reduction channels);
//   transposed conv, w [C, D, 4, 4]: g[a][b] = w[ci, co, 3 − 2a − ry, 3 − 2b − rx], written
//     to U[(ry·2 + rx)·9 + pos, ci, co] (the parities are output phases).
// U is the right-hand operand of the products, [batch, K, D] row-major.
// Bindings: 0 params (conv_winograd_common.wgsl, prepended); 1 w (read); 2 U (written).
// Workgroup: 64 invocations, one (parity, ci, co) each, output channels fastest.
// Variants: TRANSPOSED, C and D.
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
const TRANSPOSED: bool = {{TRANSPOSED}};
const C = {{C}}u;
const D = {{D}}u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let co = i % D;
    let ci = (i / D) % C;
    let parity = i / (C * D);
    let ry = parity / 2u;
    let rx = parity % 2u;
    // The 2 × 2 sub-kernel: tap (a, b) at row ky0 + a·kstep, column kx0 + b·kstep.
    let base = select((co * C + ci) * 16u, (ci * D + co) * 16u, TRANSPOSED);
    let kstep = select(2, -2, TRANSPOSED);
    let ky0 = select(i32(ry), 3 - i32(ry), TRANSPOSED);
    let kx0 = select(i32(rx), 3 - i32(rx), TRANSPOSED);
    let g0 = vec2<f32>(w[base + u32(ky0 * 4 + kx0)], w[base + u32(ky0 * 4 + kx0 + kstep)]);
    let g1 = vec2<f32>(w[base + u32((ky0 + kstep) * 4 + kx0)],
                       w[base + u32((ky0 + kstep) * 4 + kx0 + kstep)]);
    // Rows of G g, then each row times Gᵀ.
    let rows = array<vec2<f32>, 3>(g0, g0 + g1, g1);
    for (var r = 0u; r < 3u; r++) {
        let t = array<f32, 3>(rows[r].x, rows[r].x + rows[r].y, rows[r].y);
        for (var c = 0u; c < 3u; c++) {
            let pos = r * 3u + c;
            let at = select((pos * C * 4u + ci * 4u + parity) * D + co,
                            ((parity * 9u + pos) * C + ci) * D + co, TRANSPOSED);
            u[at] = t[c];
        }
    }
}
