// conv_winograd_small.wgsl — for the weight gradient of a Winograd F(2×2, 2×2) layer
// (src/ops/conv_winograd_wgrad.rs): the output gradient's tiles taken back through the
// output transform, dM = A g Aᵀ for every 2 × 2 tile g of the small side, with
// A = [[1, 0], [1, 1], [0, 1]] (the adjoint of conv_winograd_output.wgsl's Aᵀ M A).
// Pixels past the small side's edge (a tile row or column of an odd size) read zero.
// dM[pos, p, cs] is stored as one vec4 per four channels (CS a multiple of 4).
// Bindings: 0 params (conv_winograd_common.wgsl, prepended); 1 g
// [N, CS, SY, SX] (read); 2 dM (written).
// Workgroup: 64 invocations, one (tile p, group of four channels) each, groups fastest.
// Variants: the geometry as constants.
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dm: array<vec4<f32>>;
const CS = {{CS}}u;
const G = CS / 4u;
const SY = {{SY}}u;
const SX = {{SX}}u;
const TT = {{TT}}u;
const TX = {{TX}}u;

// Four channels of small-side pixel (y, x), zero past the edge.
fn pixel(plane: u32, y: u32, x: u32) -> vec4<f32> {
    let inside = y < SY && x < SX;
    let at = plane + min(y, SY - 1u) * SX + min(x, SX - 1u);
    let hw = SY * SX;
    let v = vec4<f32>(g[at], g[at + hw], g[at + 2u * hw], g[at + 3u * hw]);
    return select(vec4<f32>(0.0), v, inside);
}

// Row r of A g (its two columns u0, u1) times Aᵀ: positions 3r, 3r + 1, 3r + 2.
fn put_row(base: u32, step: u32, r: u32, u0: vec4<f32>, u1: vec4<f32>) {
    dm[base + (r * 3u) * step] = u0;
    dm[base + (r * 3u + 1u) * step] = u0 + u1;
    dm[base + (r * 3u + 2u) * step] = u1;
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
    let y0 = at.y * 2u;
    let x0 = at.z * 2u;
    let plane = (n * CS + group * 4u) * SY * SX;
    let a = pixel(plane, y0, x0);
    let b = pixel(plane, y0, x0 + 1u);
    let c = pixel(plane, y0 + 1u, x0);
    let d = pixel(plane, y0 + 1u, x0 + 1u);
    // A g: rows (g0, g0 + g1, g1); then times Aᵀ: columns (c0, c0 + c1, c1).
    let base = tile * G + group;
    let step = p.tiles * G;
    put_row(base, step, 0u, a, b);
    put_row(base, step, 1u, a + c, b + d);
    put_row(base, step, 2u, c, d);
}
