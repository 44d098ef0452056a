// conv2d_geom.wgsl — shared by the two gather kernels, conv2d.wgsl (register-blocked) and
// conv_sg.wgsl (subgroup load sharing): the parameter block, the bindings, and the geometry
// of one destination pixel. The host prepends it to either kernel (src/ops/conv_launch.rs,
// src/ops/conv_sg.rs), so both read the same parameters and agree on every index.
// Bindings: 0 params; 1 src [N, CS, SH, SW] (read); 2 weight (read); 3 dst [N, CD, DH, DW]
// (read_write: ACCUM adds to it); 4 bias (read; any buffer when flag BIAS is off): channel co
// adds bias[co / bias_div] (bias_div > 1 when output channels are (channel, tap) pairs).
// Weight element (co, ci, kh, kw) is at co·w_co + ci·w_ci + kh·KW + kw, which covers both the
// conv layout [CD, CS, KH, KW] and the transposed-conv layout [CS, CD, KH, KW].
// Geometry: big position i meets small position o at tap k when i = o·stride − pad + k.
//   Conv (src big, dst small): dst pixel o reads src o·s − p + k for every tap k.
//   Transposed (src small, dst big): dst pixel y reads src (y + p − k)/s for the taps with
//   k ≡ y + p (mod s). Destination pixels are split into s_y·s_x phases (y mod s, x mod s);
//   within a phase every pixel has the same tap set k = k0 + s·t and reads src row
//   base − t, so the taps are iterated directly and none is tested and thrown away.
//   conv2d.wgsl's workgroup works inside one phase (grid z), conv_sg.wgsl's loops over the
//   phases; pixel index pix counts the pixels of one phase, N·jy·jx with the phase's own
//   grid of jy × jx pixels per image (all N·DH·DW pixels for conv). Phases differ in size
//   when DH or DW is not a multiple of the stride (4 × 4, 4 × 3, 3 × 4 and 3 × 3 pixels
//   for 7 × 7 at stride 2); each counts only its own pixels, so none computes a row of
//   pixels past the image edge.
// Input channels [ci0, ci1) only: the host splits very long reductions into dispatches that
// add into dst (flag ACCUM), because lavapipe stops any invocation after 65535 loop
// iterations in total. Flags (uniform, so conv and transposed conv share one pipeline):
// TRANSPOSED = 1, BIAS = 2, ACCUM = 4.
// npix, jy and jx are the largest phase's (phase 0): they size the grid.
// chunks: conv_sg.wgsl's workgroup order (see there); 1 keeps the grid's order.
// alpha: the slope or α of the activation conv_sg.wgsl's activated variants apply in their
// store (in the last dispatch of a split reduction only).
struct Params {
    n: u32, cs: u32, sh: u32, sw: u32,
    cd: u32, dh: u32, dw: u32, npix: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    py: u32, px: u32, jy: u32, jx: u32,
    w_co: u32, w_ci: u32, ci0: u32, ci1: u32,
    flags: u32, bias_div: u32, chunks: u32, alpha: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// One destination pixel: whether it exists, the source coordinates of tap 0, the offset of
// its source image (at channel ci0), its destination offset in channel 0 and its image.
struct Pixel { live: bool, by: i32, bx: i32, sbase: u32, dofs: u32, img: u32 }

// Phase z: destination pixel (ry + sy·qy, rx + sx·qx) (conv: 0 and 1) for qy < jy, qx < jx
// (npix = N·jy·jx pixels), and its taps kh = k0y + ksy·t for t < nty (likewise for x).
struct Phase {
    ry: u32, rx: u32, k0y: u32, k0x: u32, nty: u32, ntx: u32, ksy: u32, ksx: u32,
    jy: u32, jx: u32, npix: u32,
}

fn transposed() -> bool {
    return (p.flags & 1u) != 0u;
}

fn phase(z: u32) -> Phase {
    if (!transposed()) {
        return Phase(0u, 0u, 0u, 0u, p.kh, p.kw, 1u, 1u, p.jy, p.jx, p.npix);
    }
    let ry = z / p.sx;
    let rx = z % p.sx;
    let k0y = (ry + p.py) % p.sy;
    let k0x = (rx + p.px) % p.sx;
    let nty = select(0u, (p.kh - k0y + p.sy - 1u) / p.sy, k0y < p.kh);
    let ntx = select(0u, (p.kw - k0x + p.sx - 1u) / p.sx, k0x < p.kw);
    // Destination rows ry, ry + sy, … below dh (none when ry ≥ dh).
    let jy = select(0u, (p.dh - ry + p.sy - 1u) / p.sy, ry < p.dh);
    let jx = select(0u, (p.dw - rx + p.sx - 1u) / p.sx, rx < p.dw);
    return Phase(ry, rx, k0y, k0x, nty, ntx, p.sy, p.sx, jy, jx, p.n * jy * jx);
}

fn pixel(pix: u32, f: Phase) -> Pixel {
    let pc = min(pix, max(f.npix, 1u) - 1u);
    let qx = pc % max(f.jx, 1u);
    let t = pc / max(f.jx, 1u);
    let qy = t % max(f.jy, 1u);
    let n = t / max(f.jy, 1u);
    var y = qy;
    var x = qx;
    var by = i32(qy * p.sy) - i32(p.py);
    var bx = i32(qx * p.sx) - i32(p.px);
    if (transposed()) {
        y = f.ry + p.sy * qy;
        x = f.rx + p.sx * qx;
        by = i32(qy + (f.ry + p.py - f.k0y) / p.sy);
        bx = i32(qx + (f.rx + p.px - f.k0x) / p.sx);
    }
    let live = pix < f.npix && y < p.dh && x < p.dw;
    let simg = p.sh * p.sw;
    return Pixel(live, by, bx, (n * p.cs + p.ci0) * simg, (n * p.cd * p.dh + y) * p.dw + x, n);
}

// Source offset of `px` at tap offset (dy, dx), or none (0xffffffff) if outside the image.
fn tap(px: Pixel, dy: i32, dx: i32) -> u32 {
    let sy = px.by + dy;
    let sx = px.bx + dx;
    let ok = px.live && sy >= 0 && sy < i32(p.sh) && sx >= 0 && sx < i32(p.sw);
    return select(0xffffffffu, px.sbase + u32(sy) * p.sw + u32(sx), ok);
}

// Like `tap`, for a source copied channels last ([N, SH, SW, CS], CS a multiple of 4) and read
// as vec4s: the index of the vec4 holding channels ci0…ci0+3 of the tapped pixel.
fn tap_cl(px: Pixel, dy: i32, dx: i32) -> u32 {
    let sy = px.by + dy;
    let sx = px.bx + dx;
    let ok = px.live && sy >= 0 && sy < i32(p.sh) && sx >= 0 && sx < i32(p.sw);
    let pixel = (px.img * p.sh + u32(sy)) * p.sw + u32(sx);
    return select(0xffffffffu, (pixel * p.cs + p.ci0) / 4u, ok);
}
