// conv_winograd_common.wgsl — prepended to the Winograd transform shaders
// (src/ops/conv_winograd.rs, conv_winograd_wgrad.rs): their parameter block (invocations,
// tiles and first image of this chunk of images, the output's bias and activation flags,
// slope or α) and where a tile lies.
struct Params {
    total: u32, tiles: u32, first: u32, flags: u32, alpha: f32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

// Tile `tile` of this chunk, with `per_image` tiles per image in rows of `per_row`: its
// image (counted in the whole call), tile row and tile column. Called with constants, so the
// divisions compile to multiplications.
fn tile_at(tile: u32, per_image: u32, per_row: u32) -> vec3<u32> {
    return vec3<u32>(p.first + tile / per_image, (tile % per_image) / per_row, tile % per_row);
}
