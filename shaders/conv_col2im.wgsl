// conv_col2im.wgsl — the second half of a transposed convolution computed through columns
// (src/ops/conv_col2im.rs): the host first forms cols[n, (co, ky, kx), iy·W + ix] =
// Σ_ci w[ci, co, ky, kx]·x[n, ci, iy, ix] as one matrix product; this kernel sums, for every
// destination pixel, the columns of the taps that reach it:
//   out[n, co, y, x] = bias[co] + Σ cols[n, (co, ky, kx), iy·W + ix],  y = iy·sy − py + ky.
// Only taps with ky ≡ y + py (mod sy) reach row y: with q = (y + py) / sy they are
// ky = (y + py) mod sy + sy·t for t < nty = ⌈KH / sy⌉, reading source row iy = q − t.
// Why every lane runs all nty·ntx taps and drops the ones that miss (a select, not a branch):
// the loops' trip counts are then uniform. On lavapipe, loops that lanes leave at different
// times (an earlier break/continue form) took 0.83 ms per call on dcgan-28's last layer,
// this form 0.49.
// Bindings: 0 params; 1 cols (read); 2 out [N, CO, OH, OW] (write); 3 bias [CO] (read; any
// buffer when has_bias is 0). Workgroup: 256 invocations, one destination element each.
struct Params {
    total: u32, co: u32, h: u32, w: u32,
    oh: u32, ow: u32, kh: u32, kw: u32,
    sy: u32, sx: u32, py: u32, px: u32,
    has_bias: u32, nty: u32, ntx: u32, pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    let live = i < p.total;
    let ic = min(i, p.total - 1u);
    let rx = divmod(ic, p.ow);    // (image·CO + channel)·OH + y, x
    let ry = divmod(rx.x, p.oh);  // image·CO + channel, y
    let hw = p.h * p.w;
    // Column (co, ky, kx) of image n starts at ((n·CO + co)·KH·KW + ky·KW + kx)·H·W.
    let base = ry.x * p.kh * p.kw;
    let qy = divmod(ry.y + p.py, p.sy);  // source row of tap t = 0, first tap
    let qx = divmod(rx.y + p.px, p.sx);
    var acc = 0.0;
    for (var t = 0u; t < p.nty; t++) {
        let ky = qy.y + t * p.sy;
        let iy = qy.x - t;  // below row 0 it wraps to a large value, which fails iy < h
        let row_ok = ky < p.kh && iy < p.h;
        for (var s = 0u; s < p.ntx; s++) {
            let kx = qx.y + s * p.sx;
            let ix = qx.x - s;
            let ok = row_ok && kx < p.kw && ix < p.w;
            let at = select(0u, (base + ky * p.kw + kx) * hw + iy * p.w + ix, ok);
            acc += select(0.0, cols[at], ok);
        }
    }
    if (p.has_bias != 0u) {
        acc += bias[divmod(ry.x, p.co).y];
    }
    if (live) {
        out[i] = acc;
    }
}
