// norm_apply_tile.wgsl — the parameter block and tiling of the normalisation's elementwise
// passes (norm_apply.wgsl, norm_grad2_apply.wgsl), prepended to each by the host. x is viewed
// as [A, C, B] and read as T (vec4 along B when B is a multiple of 4; S is the per-channel
// type). Each invocation owns a tile of one channel: rows a0..a1 × vectors j0..j1, so its
// per-channel values are loaded once per tile.
alias T = {{T}};
alias S = {{S}};
struct Params {
    a: u32, c: u32, bv: u32, kb: u32, nbc: u32, ra: u32, n: u32, count: u32,
    slope: f32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

struct Tile { c: u32, a0: u32, a1: u32, j0: u32, j1: u32 }

// Invocation t's tile: t = (row chunk · C + c) · nbc + column chunk.
fn tile(t: u32) -> Tile {
    let q = divmod(t, p.nbc);
    let r = divmod(q.x, p.c);
    let a0 = r.x * p.ra;
    let j0 = q.y * p.kb;
    return Tile(r.y, a0, min(p.a, a0 + p.ra), j0, min(p.bv, j0 + p.kb));
}
