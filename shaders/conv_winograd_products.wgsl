// conv_winograd_products.wgsl — prepended to the output transforms of a Winograd F(2×2, 2×2)
// convolution with a 4 × 4 kernel at stride 2, padding 1 (conv_winograd_output.wgsl,
// conv_winograd_output_rows.wgsl; conv_winograd_input.wgsl has the derivation): the products
// M, the bias, the geometry, and each 2 × 2 output tile as Aᵀ M A, Aᵀ = [[1, 1, 0], [0, 1, 1]],
// of the 3 × 3 products of its tile.
//   conv (TRANSPOSED false): M[pos, p, co] gives y[n, co, 2ty + i, 2tx + j];
//   transposed conv: M[phase·9 + pos, p, co] gives, for phase (ry, rx),
//     y[n, co, 2(2ty + i) + ry, 2(2tx + j) + rx].
// Bindings: 0 params (conv_winograd_common.wgsl); 1 M (read); 2 bias [D] (read; any buffer
// without the bias flag); 3 y [N, D, OH, OW] (written; declared by the file that follows).
// M and the bias are read as vec4s of four output channels (D a multiple of 4).
@group(0) @binding(1) var<storage, read> m: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
const TRANSPOSED: bool = {{TRANSPOSED}};
const D = {{D}}u;
// Groups of four output channels.
const G = D / 4u;
// Tile grid: the conv's output, or one phase of the transposed conv's (= its source).
const SY = {{SY}}u;
const SX = {{SX}}u;
const TT = {{TT}}u;
const TX = {{TX}}u;
// Output size.
const OH = {{OH}}u;
const OW = {{OW}}u;

// The bias and activation (flags as conv2d_geom.wgsl's).
fn finish(z: f32) -> f32 {
    if ((p.flags & 8u) == 0u) { return z; }
    if ((p.flags & 16u) != 0u) { return elu_with(z, p.alpha); }
    return leaky_with(z, p.alpha);
}

// Aᵀ M A of one phase's nine vec4s of products (four output channels in the lanes) at
// batch entry `b0`: the tile's four pixels, rows first.
fn tile_values(b0: u32, tile: u32, group: u32) -> array<vec4<f32>, 4> {
    var mm: array<vec4<f32>, 9>;
    for (var pos = 0u; pos < 9u; pos++) {
        mm[pos] = m[((b0 + pos) * p.tiles + tile) * G + group];
    }
    // Aᵀ M: rows 0 + 1 and 1 + 2; then times A: columns 0 + 1 and 1 + 2.
    let s0 = array<vec4<f32>, 3>(mm[0] + mm[3], mm[1] + mm[4], mm[2] + mm[5]);
    let s1 = array<vec4<f32>, 3>(mm[3] + mm[6], mm[4] + mm[7], mm[5] + mm[8]);
    return array<vec4<f32>, 4>(s0[0] + s0[1], s0[1] + s0[2], s1[0] + s1[1], s1[1] + s1[2]);
}

// The bias of output channels 4·group … 4·group + 3 (zero without the bias flag).
fn bias_of(group: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), bias[group], (p.flags & 2u) != 0u);
}
