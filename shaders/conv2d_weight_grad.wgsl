// conv2d_weight_grad.wgsl — dW of a convolution: out[split, co, ci, kh, kw] =
//   Σ over the image rows r = n·SH + oy in chunk `split` and columns ox of
//   small[n, co, oy, ox] · big[n, ci, oy·sy − py + kh, ox·sx − px + kw],
// a GEMM whose reduction axis is N·OH·OW, read straight from the tensors (no im2col).
// For conv2d `big` is the input x and `small` the output gradient; for conv_transpose2d the
// roles swap (big = output gradient, small = input x).
// Bindings: 0 params; 1 ut, 2 lt: the "uniform-side" and "lane-side" tensors (read), which
// are small [N, CS, SH, SW] and big [N, CB, BH, BW] in that order, or the reverse when
// p.swap = 1; 3 out [nsplit, CS, CB, KH, KW] (write; the host sums the splits).
// Grid: x over blocks of WG·LB lane channels, y over (blocks of UB uniform channels) × taps,
// z over chunks of `rows` small-image rows (the reduction split). Workgroup: WG invocations.
// Each workgroup owns one tap (kh, kw), so the range of small pixels whose big partner lies
// inside the image is the same for all its invocations: computed once, the inner loop then
// runs without any bounds test or division. Each invocation accumulates UB "uniform-side"
// channels (the same for the whole workgroup) × LB "lane-side" channels (lane, lane + WG, …)
// in registers: UB + LB loads feed UB·LB FMAs. The host puts the side with more channels on
// the lanes (p.swap = 1: small channels on lanes; a big side with fewer than 8 channels goes
// to conv2d_weight_grad_taps.wgsl instead). Splitting the reduction gives enough workgroups
// when the weight is small and the batch large, and keeps every invocation under lavapipe's
// limit of 65535 loop iterations.
// No shared memory and no barriers (see conv2d.wgsl). `//#unroll v N` … `//#end` blocks are
// repeated by the host with {v} = 0 … N−1. Variants: UB, LB, WG.
struct Params {
    n: u32, cb: u32, bh: u32, bw: u32,
    cs: u32, sh: u32, sw: u32, kw: u32,
    sy: u32, sx: u32, py: u32, px: u32,
    taps: u32, rows: u32, swap: u32, pad0: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ut: array<f32>;
@group(0) @binding(2) var<storage, read> lt: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const UB: u32 = {{UB}}u;
const LB: u32 = {{LB}}u;
const WG: u32 = {{WG}}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let tap = wid.y % p.taps;
    let ub = wid.y / p.taps;
    let khh = tap / p.kw;
    let kww = tap % p.kw;
    // Small rows oy with 0 ≤ oy·sy − py + kh < bh, and likewise columns.
    let oy0 = select(0u, (p.py - khh + p.sy - 1u) / p.sy, khh < p.py);
    let oy1 = select(0u, min(p.sh, (p.bh - 1u + p.py - khh) / p.sy + 1u), p.bh - 1u + p.py >= khh);
    let ox0 = select(0u, (p.px - kww + p.sx - 1u) / p.sx, kww < p.px);
    let ox1 = select(0u, min(p.sw, (p.bw - 1u + p.px - kww) / p.sx + 1u), p.bw - 1u + p.px >= kww);
    let bimg = p.bh * p.bw;
    let simg = p.sh * p.sw;
    let swap = p.swap != 0u;
    let nu = select(p.cs, p.cb, swap);
    let nl = select(p.cb, p.cs, swap);
    // Per-column steps of the two reading positions: 1 on the small image, sx on the big one.
    let ustep = select(1u, p.sx, swap);
    let lstep = select(p.sx, 1u, swap);
    let u0 = ub * UB;
    let l0 = wid.x * WG * LB + lane;
    // Channel offsets inside one image; channels past the end are clamped (stores skip them).
    //#unroll u UB
    let uofs{u} = min(u0 + {u}u, nu - 1u) * select(simg, bimg, swap);
    //#unroll j LB
    var acc{u}_{j} = 0.0;
    //#end
    //#end
    //#unroll j LB
    let lofs{j} = min(l0 + {j}u * WG, nl - 1u) * select(bimg, simg, swap);
    //#end
    let r0 = wid.z * p.rows;
    let r1 = min(p.n * p.sh, r0 + p.rows);
    for (var r = r0; r < r1; r++) {
        let n = r / p.sh;
        let oy = r % p.sh;
        if (oy < oy0 || oy >= oy1) {
            continue;
        }
        let iy = oy * p.sy + khh - p.py;
        let so = (n * p.cs * p.sh + oy) * p.sw + ox0;
        let bo = (n * p.cb * p.bh + iy) * p.bw + ox0 * p.sx + kww - p.px;
        var ua = select(so, bo, swap);
        var la = select(bo, so, swap);
        for (var ox = ox0; ox < ox1; ox++) {
            //#unroll u UB
            let uv{u} = ut[ua + uofs{u}];
            //#end
            //#unroll j LB
            let lv{j} = lt[la + lofs{j}];
            //#end
            //#unroll u UB
            //#unroll j LB
            acc{u}_{j} = fma(uv{u}, lv{j}, acc{u}_{j});
            //#end
            //#end
            ua += ustep;
            la += lstep;
        }
    }
    let split_base = wid.z * p.cs * p.cb;
    //#unroll u UB
    //#unroll j LB
    if (u0 + {u}u < nu && l0 + {j}u * WG < nl) {
        let co = select(u0 + {u}u, l0 + {j}u * WG, swap);
        let ci = select(l0 + {j}u * WG, u0 + {u}u, swap);
        out[(split_base + co * p.cb + ci) * p.taps + tap] = acc{u}_{j};
    }
    //#end
    //#end
}
