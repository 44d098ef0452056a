// conv_winograd_output.wgsl — the output transform of a Winograd F(2×2, 2×2) convolution
// with a 4 × 4 kernel at stride 2, padding 1 (conv_winograd_input.wgsl has the derivation):
// each 2 × 2 output tile is Aᵀ M A, Aᵀ = [[1, 1, 0], [0, 1, 1]], of the 3 × 3 products M of
// its tile, plus the bias, then the activation (flags as conv2d_geom.wgsl's).
//   conv (TRANSPOSED false): M[pos, p, co] gives y[n, co, 2ty + i, 2tx + j];
//   transposed conv: M[phase·9 + pos, p, co] gives, for phase (ry, rx),
//     y[n, co, 2(2ty + i) + ry, 2(2tx + j) + rx].
// Pixels past the output's edge (a tile row or column of an odd size) are not stored.
// Bindings: 0 params (conv_winograd_common.wgsl, prepended); 1 M (read); 2 bias [D]
// (read; any buffer without the bias flag); 3 y [N, D, OH, OW] (written).
// Workgroup: 64 invocations, one (tile p, four output channels) each, channels fastest;
// M and the bias read as vec4s (D a multiple of 4).
// Variants: TRANSPOSED and the geometry as constants.
@group(0) @binding(1) var<storage, read> m: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
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

// Stores the four channels of one pixel, unless it is past the tile grid's edge.
fn store(inside: bool, n: u32, group: u32, oy: u32, ox: u32, z: vec4<f32>) {
    if (!inside) { return; }
    let at = ((n * D + group * 4u) * OH + oy) * OW + ox;
    y[at] = finish(z.x);
    y[at + OH * OW] = finish(z.y);
    y[at + 2u * OH * OW] = finish(z.z);
    y[at + 3u * OH * OW] = finish(z.w);
}

// The tile's pixels from batch entries b0 … b0 + 8: output (2gy + ry, 2gx + rx) of a
// transposed conv's phase (ry, rx), or (gy, gx) of a conv (`ry` < 0).
fn store_tile(b0: u32, ry: i32, rx: i32, tile: u32, group: u32, n: u32, gy: u32, gx: u32,
              b: vec4<f32>) {
    let t = tile_values(b0, tile, group);
    for (var k = 0u; k < 4u; k++) {
        let py = gy + k / 2u;
        let px = gx + k % 2u;
        let oy = select(py, py * 2u + u32(ry), ry >= 0);
        let ox = select(px, px * 2u + u32(rx), rx >= 0);
        store(py < SY && px < SX, n, group, oy, ox, t[k] + b);
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    // Output channels 4·group … 4·group + 3.
    let group = i % G;
    let tile = i / G;
    let at = tile_at(tile, TT, TX);
    let n = at.x;
    let gy = at.y * 2u;
    let gx = at.z * 2u;
    let b = select(vec4<f32>(0.0), bias[group], (p.flags & 2u) != 0u);
    if (TRANSPOSED) {
        store_tile(0u, 0, 0, tile, group, n, gy, gx, b);
        store_tile(9u, 0, 1, tile, group, n, gy, gx, b);
        store_tile(18u, 1, 0, tile, group, n, gy, gx, b);
        store_tile(27u, 1, 1, tile, group, n, gy, gx, b);
    } else {
        store_tile(0u, -1, -1, tile, group, n, gy, gx, b);
    }
}
