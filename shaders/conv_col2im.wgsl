// conv_col2im.wgsl — the second half of a transposed convolution computed through columns
// (src/ops/conv_col2im.rs): the host first forms cols[n, (co, ky, kx), iy·W + ix] =
// Σ_ci w[ci, co, ky, kx]·x[n, ci, iy, ix] as one matrix product; this kernel sums, for every
// destination pixel, the columns of the taps that reach it:
//   out[n, co, y, x] = bias[co] + Σ cols[n, (co, ky, kx), iy·W + ix],  y = iy·sy − py + ky.
// Only taps with ky ≡ y + py (mod sy) reach row y, so they are walked directly in steps of sy
// (as in conv2d_geom.wgsl), from the one whose source row is the largest down to row 0.
// Bindings: 0 params; 1 cols (read); 2 out [N, CO, OH, OW] (write); 3 bias [CO] (read; any
// buffer when has_bias is 0). Workgroup: 256 invocations, one destination element each.
struct Params {
    total: u32, co: u32, h: u32, w: u32,
    oh: u32, ow: u32, kh: u32, kw: u32,
    sy: u32, sx: u32, py: u32, px: u32,
    has_bias: u32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.total) { return; }
    let rx = divmod(i, p.ow);     // (image·CO + channel)·OH + y, x
    let ry = divmod(rx.x, p.oh);  // image·CO + channel, y
    let rc = divmod(ry.x, p.co);  // image, channel
    let hw = p.h * p.w;
    // Column (co, ky, kx) of image n starts at ((n·CO + co)·KH·KW + ky·KW + kx)·H·W.
    let base = ry.x * p.kh * p.kw;
    var acc = 0.0;
    if (p.has_bias != 0u) { acc = bias[rc.y]; }
    // ny = y + py − ky, a multiple of sy for the taps walked; the source row is ny / sy.
    let ty = i32(ry.y + p.py);
    let tx = i32(rx.y + p.px);
    for (var ky = u32(ty) % p.sy; ky < p.kh; ky = ky + p.sy) {
        let ny = ty - i32(ky);
        if (ny < 0) { break; }
        let iy = u32(ny) / p.sy;
        if (iy >= p.h) { continue; }
        for (var kx = u32(tx) % p.sx; kx < p.kw; kx = kx + p.sx) {
            let nx = tx - i32(kx);
            if (nx < 0) { break; }
            let ix = u32(nx) / p.sx;
            if (ix >= p.w) { continue; }
            acc = acc + cols[(base + ky * p.kw + kx) * hw + iy * p.w + ix];
        }
    }
    out[i] = acc;
}
