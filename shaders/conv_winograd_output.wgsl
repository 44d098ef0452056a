// conv_winograd_output.wgsl — the output transform of a Winograd F(2×2, 2×2) convolution
// with a 4 × 4 kernel at stride 2, padding 1, after conv_winograd_products.wgsl (M, the bias,
// the geometry, the tile transform): the general form, storing one float at a time, for
// convs and for transposed convs whose tiles do not fill whole rows of four.
// Pixels past the output's edge (a tile row or column of an odd size) are not stored.
// Workgroup: 64 invocations, one (tile p, four output channels) each, channels fastest.
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

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
    let b = bias_of(group);
    if (TRANSPOSED) {
        store_tile(0u, 0, 0, tile, group, n, gy, gx, b);
        store_tile(9u, 0, 1, tile, group, n, gy, gx, b);
        store_tile(18u, 1, 0, tile, group, n, gy, gx, b);
        store_tile(27u, 1, 1, tile, group, n, gy, gx, b);
    } else {
        store_tile(0u, -1, -1, tile, group, n, gy, gx, b);
    }
}
