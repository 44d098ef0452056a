// conv2d.wgsl — 2-D convolution and (flag TRANSPOSED) transposed convolution in gather form,
// as an implicit GEMM: no im2col buffer is ever written.
// Bindings: 0 params; 1 src [N, CS, SH, SW] (read); 2 weight (read); 3 dst [N, CD, DH, DW]
// (read_write); 4 bias (read; any buffer when flag BIAS is off): channel co adds
// bias[co / bias_div] (bias_div > 1 when output channels are (channel, tap) pairs).
// Weight element (co, ci, kh, kw) is at co·w_co + ci·w_ci + kh·KW + kw, which covers both the
// conv layout [CD, CS, KH, KW] and the transposed-conv layout [CS, CD, KH, KW].
// Geometry: big position i meets small position o at tap k when i = o·stride − pad + k.
//   Conv (src big, dst small): dst pixel o reads src o·s − p + k for every tap k.
//   Transposed (src small, dst big): dst pixel y reads src (y + p − k)/s for the taps with
//   k ≡ y + p (mod s). Destination pixels are split into s_y·s_x phases (y mod s, x mod s);
//   within a phase every pixel has the same tap set k = k0 + s·t and reads src row
//   base − t, so the taps are iterated directly and none is tested and thrown away.
// Grid: x over blocks of WG·PB pixels of one phase, y over blocks of CB output channels,
// z over phases (1 for conv). Workgroup: WG invocations.
// Each invocation accumulates CB channels × PB pixels in registers (an outer product per input
// channel: CB weight loads + PB source loads feed CB·PB FMAs). Its pixels are lane, lane + WG,
// lane + 2·WG, … so neighbouring lanes read neighbouring addresses. Loops run tap row, tap
// column, then input channel innermost: bounds are tested once per tap and pixel, outside the
// channel loop, and the channel loop only adds strides (no division anywhere in the loops).
// Input channels [ci0, ci1) only: the host splits very long reductions into several dispatches
// that add into dst (flag ACCUM), because lavapipe stops any invocation after 65535 loop
// iterations in total. Flags (uniform, so conv and transposed conv share one pipeline per
// block size): TRANSPOSED = 1, BIAS = 2, ACCUM = 4.
// No shared memory and no barriers: on CPU adapters (lavapipe) a barrier is a coroutine switch
// and register blocking is several times faster.
// `//#unroll v N` … `//#end` blocks are repeated N times by the host with {v} = 0, 1, …
// (src/ops/conv_launch.rs): the register block is unrolled explicitly, never left to the
// driver. Variants: CB, PB, WG.
struct Params {
    n: u32, cs: u32, sh: u32, sw: u32,
    cd: u32, dh: u32, dw: u32, npix: u32,
    kh: u32, kw: u32, sy: u32, sx: u32,
    py: u32, px: u32, jy: u32, jx: u32,
    w_co: u32, w_ci: u32, ci0: u32, ci1: u32,
    flags: u32, bias_div: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const PB: u32 = {{PB}}u;
const WG: u32 = {{WG}}u;

// One destination pixel: whether it exists, the source coordinates of tap 0, the offset of
// its source image (at channel ci0) and its destination offset in channel 0.
struct Pixel { live: bool, by: i32, bx: i32, sbase: u32, dofs: u32 }

// The phase of a workgroup: destination pixel (ry + sy·qy, rx + sx·qx) (conv: 0 and 1) and
// its taps kh = k0y + ksy·t for t < nty (likewise for x).
struct Phase { ry: u32, rx: u32, k0y: u32, k0x: u32, nty: u32, ntx: u32, ksy: u32, ksx: u32 }

fn transposed() -> bool {
    return (p.flags & 1u) != 0u;
}

fn phase(z: u32) -> Phase {
    if (!transposed()) {
        return Phase(0u, 0u, 0u, 0u, p.kh, p.kw, 1u, 1u);
    }
    let ry = z / p.sx;
    let rx = z % p.sx;
    let k0y = (ry + p.py) % p.sy;
    let k0x = (rx + p.px) % p.sx;
    let nty = select(0u, (p.kh - k0y + p.sy - 1u) / p.sy, k0y < p.kh);
    let ntx = select(0u, (p.kw - k0x + p.sx - 1u) / p.sx, k0x < p.kw);
    return Phase(ry, rx, k0y, k0x, nty, ntx, p.sy, p.sx);
}

fn pixel(pix: u32, f: Phase) -> Pixel {
    let pc = min(pix, p.npix - 1u);
    let qx = pc % p.jx;
    let t = pc / p.jx;
    let qy = t % p.jy;
    let n = t / p.jy;
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
    let live = pix < p.npix && y < p.dh && x < p.dw;
    let simg = p.sh * p.sw;
    return Pixel(live, by, bx, (n * p.cs + p.ci0) * simg, (n * p.cd * p.dh + y) * p.dw + x);
}

// Source offset of `px` at tap offset (dy, dx), or none (0xffffffff) if outside the image.
fn tap(px: Pixel, dy: i32, dx: i32) -> u32 {
    let sy = px.by + dy;
    let sx = px.bx + dx;
    let ok = px.live && sy >= 0 && sy < i32(p.sh) && sx >= 0 && sx < i32(p.sw);
    return select(0xffffffffu, px.sbase + u32(sy) * p.sw + u32(sx), ok);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let f = phase(wid.z);
    let simg = p.sh * p.sw;
    let dimg = p.dh * p.dw;
    let dir = select(1, -1, transposed());
    let use_bias = (p.flags & 2u) != 0u;
    let accum = (p.flags & 4u) != 0u;
    let co0 = wid.y * {{CB}}u;
    //#unroll j PB
    let px{j} = pixel((wid.x * PB + {j}u) * WG + lane, f);
    //#end
    //#unroll c CB
    let wrow{c} = min(co0 + {c}u, p.cd - 1u) * p.w_co;
    //#unroll j PB
    var acc{c}_{j} = 0.0;
    //#end
    //#end
    for (var ty = 0u; ty < f.nty; ty++) {
        let khh = f.k0y + ty * f.ksy;
        for (var tx = 0u; tx < f.ntx; tx++) {
            let kww = f.k0x + tx * f.ksx;
            // The source offset of each pixel at this tap; a pixel the tap misses reads
            // src[(ci − ci0)·simg] (in bounds) and drops the value.
            var any_ok = false;
            //#unroll j PB
            let t{j} = tap(px{j}, dir * i32(ty), dir * i32(tx));
            let ok{j} = t{j} != 0xffffffffu;
            var xa{j} = select(0u, t{j}, ok{j});
            any_ok = any_ok || ok{j};
            //#end
            if (!any_ok) {
                continue;
            }
            var wi = khh * p.kw + kww + p.ci0 * p.w_ci;
            for (var ci = p.ci0; ci < p.ci1; ci++) {
                //#unroll j PB
                let x{j} = select(0.0, src[xa{j}], ok{j});
                xa{j} += simg;
                //#end
                //#unroll c CB
                let w{c} = wt[wrow{c} + wi];
                //#unroll j PB
                acc{c}_{j} = fma(w{c}, x{j}, acc{c}_{j});
                //#end
                //#end
                wi += p.w_ci;
            }
        }
    }
    //#unroll c CB
    if (co0 + {c}u < p.cd) {
        let co = co0 + {c}u;
        let b = select(0.0, bias[min(co / p.bias_div, arrayLength(&bias) - 1u)], use_bias);
        //#unroll j PB
        if (px{j}.live) {
            let o = px{j}.dofs + co * dimg;
            dst[o] = select(0.0, dst[o], accum) + acc{c}_{j} + b;
        }
        //#end
    }
    //#end
}
