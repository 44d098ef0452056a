// conv_winograd_input.wgsl — the input transform of a Winograd F(2×2, 2×2) convolution,
// after conv_winograd_patches.wgsl (the derivation, V, the geometry, the transform): the
// general form, reading the source one float at a time, for convs and transposed convs of
// any size.
@group(0) @binding(1) var<storage, read> x: array<f32>;

// The 4 × 4 or 6 × 6 patch of channel ci whose top-left source pixel is (y0, x0).
fn read_patch(plane: u32, y0: i32, x0: i32) -> array<array<f32, S>, S> {
    var d: array<array<f32, S>, S>;
    for (var r = 0; r < S; r++) {
        for (var c = 0; c < S; c++) {
            let y = y0 + r;
            let xx = x0 + c;
            let inside = y >= 0 && y < H && xx >= 0 && xx < W;
            // Clamped to an address in bounds; the value is dropped when outside.
            let at = plane + u32(clamp(y, 0, H - 1) * W + clamp(xx, 0, W - 1));
            d[r][c] = select(0.0, x[at], inside);
        }
    }
    return d;
}

// Transposed conv: phase (ry, rx) of four channels' patches reads rows ry … ry + 2 and
// columns rx … rx + 2.
fn put_phase(base: u32, ry: i32, rx: i32, d0: array<array<f32, S>, S>,
             d1: array<array<f32, S>, S>, d2: array<array<f32, S>, S>,
             d3: array<array<f32, S>, S>) {
    put(base, transform_at(d0, ry, rx, 1), transform_at(d1, ry, rx, 1),
        transform_at(d2, ry, rx, 1), transform_at(d3, ry, rx, 1));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let group = i % G;
    let tile = i / G;
    let at = tile_at(tile, TT, TX);
    let n = at.x;
    let ty = at.y;
    let tx = at.z;
    let hw = u32(H * W);
    // V[b, tile, group] of batch entry b is at base + b·tiles·G.
    let base = tile * G + group;
    if (TRANSPOSED) {
        // Channels 4·group … 4·group + 3; batch entry phase·9 + pos.
        let y0 = i32(ty) * 2 - 1;
        let x0 = i32(tx) * 2 - 1;
        let c0 = (n * C + group * 4u) * hw;
        let d0 = read_patch(c0, y0, x0);
        let d1 = read_patch(c0 + hw, y0, x0);
        let d2 = read_patch(c0 + 2u * hw, y0, x0);
        let d3 = read_patch(c0 + 3u * hw, y0, x0);
        let phase = 9u * p.tiles * G;
        put_phase(base, 0, 0, d0, d1, d2, d3);
        put_phase(base + phase, 0, 1, d0, d1, d2, d3);
        put_phase(base + 2u * phase, 1, 0, d0, d1, d2, d3);
        put_phase(base + 3u * phase, 1, 1, d0, d1, d2, d3);
    } else {
        // Channel `group`, its four parities (ry, rx) in the lanes: rows ry, ry + 2, ry + 4.
        let d = read_patch((n * C + group) * hw, i32(ty) * 4 - 1, i32(tx) * 4 - 1);
        put(base, transform_at(d, 0, 0, 2), transform_at(d, 0, 1, 2), transform_at(d, 1, 0, 2),
            transform_at(d, 1, 1, 2));
    }
}
