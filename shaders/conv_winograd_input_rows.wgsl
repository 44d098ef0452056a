// conv_winograd_input_rows.wgsl — the input transform of a Winograd F(2×2, 2×2) conv (not
// transposed) whose source width is a multiple of four, after conv_winograd_patches.wgsl.
// A tile's 6 × 6 patch starts one column before a multiple of four (column 4tx − 1), so each
// of its rows is the last float of one vec4, all of the next and the first of the one after:
// three vec4 loads per row where the general form (conv_winograd_input.wgsl) makes six
// scalar ones, and a storage access costs lavapipe about the same whatever its width.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;

const W4 = W / 4;

// Vec4 `q` of source row `y` of the plane starting at vec4 `plane`; zero outside the source
// (the padding), read from a clamped address in bounds.
fn quad(plane: u32, y: i32, q: i32) -> vec4<f32> {
    let inside = y >= 0 && y < H && q >= 0 && q < W4;
    let at = plane + u32(clamp(y, 0, H - 1) * W4 + clamp(q, 0, W4 - 1));
    return select(vec4<f32>(0.0), x[at], inside);
}

// Columns 4q − 1 … 4q + 4 of source row `y`.
fn patch_row(plane: u32, y: i32, q: i32) -> array<f32, S> {
    let a = quad(plane, y, q - 1);
    let b = quad(plane, y, q);
    let c = quad(plane, y, q + 1);
    return array<f32, S>(a.w, b.x, b.y, b.z, b.w, c.x);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let group = i % G;
    let tile = i / G;
    let at = tile_at(tile, TT, TX);
    // Channel `group`, its four parities (ry, rx) in the lanes: rows ry, ry + 2, ry + 4.
    let plane = (at.x * C + group) * u32(H * W4);
    let y0 = i32(at.y) * 4 - 1;
    let q = i32(at.z);
    let d = array<array<f32, S>, S>(
        patch_row(plane, y0, q),
        patch_row(plane, y0 + 1, q),
        patch_row(plane, y0 + 2, q),
        patch_row(plane, y0 + 3, q),
        patch_row(plane, y0 + 4, q),
        patch_row(plane, y0 + 5, q),
    );
    put(tile * G + group, transform_at(d, 0, 0, 2), transform_at(d, 0, 1, 2),
        transform_at(d, 1, 0, 2), transform_at(d, 1, 1, 2));
}
