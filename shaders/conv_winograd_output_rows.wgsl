// conv_winograd_output_rows.wgsl — the output transform of a Winograd F(2×2, 2×2)
// transposed convolution (4 × 4 kernel, stride 2, padding 1) whose phase grid has even sides,
// after conv_winograd_products.wgsl. A tile's four phases cover a 4 × 4 block of the output:
// row 2(2ty + i) + ry holds, from column 4tx on, pixel (i, 0) of phases (ry, 0) and (ry, 1),
// then pixel (i, 1) of both. So each row of a channel is one vec4 store: 16 stores per
// invocation where the general form (conv_winograd_output.wgsl) makes 64 scalar ones, and a
// storage access costs lavapipe about the same whatever its width.
// Workgroup: 64 invocations, one (tile p, four output channels) each, channels fastest.
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

// Vec4s per output row.
const OW4 = OW / 4u;

fn finish4(z: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(finish(z.x), finish(z.y), finish(z.z), finish(z.w));
}

// Output row `oy` from column 4tx on, for channels 4·group … 4·group + 3, of its four pixels
// in order (each a vec4 of the four channels) plus the bias `b`: a 4 × 4 transpose.
fn store_row(n: u32, group: u32, oy: u32, tx: u32, b: vec4<f32>, p0: vec4<f32>, p1: vec4<f32>,
             p2: vec4<f32>, p3: vec4<f32>) {
    let at = ((n * D + group * 4u) * OH + oy) * OW4 + tx;
    let z0 = p0 + b;
    let z1 = p1 + b;
    let z2 = p2 + b;
    let z3 = p3 + b;
    y[at] = finish4(vec4<f32>(z0.x, z1.x, z2.x, z3.x));
    y[at + OH * OW4] = finish4(vec4<f32>(z0.y, z1.y, z2.y, z3.y));
    y[at + 2u * OH * OW4] = finish4(vec4<f32>(z0.z, z1.z, z2.z, z3.z));
    y[at + 3u * OH * OW4] = finish4(vec4<f32>(z0.w, z1.w, z2.w, z3.w));
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
    let oy = at.y * 4u;
    let tx = at.z;
    let b = bias_of(group);
    // Phases (ry, rx) in M's order: (0, 0), (0, 1), (1, 0), (1, 1).
    let e00 = tile_values(0u, tile, group);
    let e01 = tile_values(9u, tile, group);
    let e10 = tile_values(18u, tile, group);
    let e11 = tile_values(27u, tile, group);
    store_row(n, group, oy, tx, b, e00[0], e01[0], e00[1], e01[1]);
    store_row(n, group, oy + 1u, tx, b, e10[0], e11[0], e10[1], e11[1]);
    store_row(n, group, oy + 2u, tx, b, e00[2], e01[2], e00[3], e01[3]);
    store_row(n, group, oy + 3u, tx, b, e10[2], e11[2], e10[3], e11[3]);
}
