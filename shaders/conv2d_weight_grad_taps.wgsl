// conv2d_weight_grad_taps.wgsl — the weight gradient of conv2d_weight_grad.wgsl,
//   out[split, co, ci, kh, kw] = Σ_{rows r = n·SH + oy in chunk, ox}
//       small[n, co, oy, ox] · big[n, ci, oy·sy − py + kh, ox·sx − px + kw],
// for a big side with few channels (a grayscale or RGB image: Conv(1→64), ConvT(64→1)).
// There, one tap per workgroup would leave one big-side value per reduction step to share
// among the lanes' channels (about one FMA per load); here a workgroup owns UB (channel, tap)
// entries instead, so every step loads UB big-side values (each at its own tap offset, tested
// against the image bounds) and LB small-side values once, shared by all UB taps.
// Bindings: 0 params; 1 big [N, CB, BH, BW] (read); 2 small [N, CS, SH, SW] (read);
// 3 out [nsplit, CS, CB, KH, KW] (write; the host sums the splits).
// Grid: x over blocks of WG·LB small channels (lane, lane + WG, …), y over blocks of UB
// entries e = ci·taps + tap, z over chunks of `rows` small-image rows. Workgroup: WG.
// No shared memory, no barriers; `//#unroll v N` … `//#end` blocks are expanded by the host
// (src/ops/conv_launch.rs). Variants: UB, LB, WG.
struct Params {
    n: u32, cb: u32, bh: u32, bw: u32,
    cs: u32, sh: u32, sw: u32, kw: u32,
    sy: u32, sx: u32, py: u32, px: u32,
    taps: u32, rows: u32, entries: u32, pad0: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> big: array<f32>;
@group(0) @binding(2) var<storage, read> small: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const LB: u32 = {{LB}}u;
const WG: u32 = {{WG}}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let bimg = p.bh * p.bw;
    let simg = p.sh * p.sw;
    let eb = wid.y * {{UB}}u;
    let l0 = wid.x * WG * LB + lane;
    // Entry u: big channel offset and the tap's row/column offset (big = small·s + d).
    //#unroll u UB
    let e{u} = min(eb + {u}u, p.entries - 1u);
    let cofs{u} = (e{u} / p.taps) * bimg;
    let dy{u} = i32((e{u} % p.taps) / p.kw) - i32(p.py);
    let dx{u} = i32((e{u} % p.taps) % p.kw) - i32(p.px);
    //#unroll j LB
    var acc{u}_{j} = 0.0;
    //#end
    //#end
    //#unroll j LB
    let lofs{j} = min(l0 + {j}u * WG, p.cs - 1u) * simg;
    //#end
    let r0 = wid.z * p.rows;
    let r1 = min(p.n * p.sh, r0 + p.rows);
    for (var r = r0; r < r1; r++) {
        let n = r / p.sh;
        let oy = r % p.sh;
        let sbase = (n * p.cs * p.sh + oy) * p.sw;
        let bbase = n * p.cb * bimg;
        //#unroll u UB
        let iy{u} = i32(oy * p.sy) + dy{u};
        let rok{u} = iy{u} >= 0 && iy{u} < i32(p.bh);
        let rb{u} = bbase + cofs{u} + u32(max(iy{u}, 0)) * p.bw;
        //#end
        for (var ox = 0u; ox < p.sw; ox++) {
            let xb = i32(ox * p.sx);
            //#unroll u UB
            let ix{u} = xb + dx{u};
            let ok{u} = rok{u} && ix{u} >= 0 && ix{u} < i32(p.bw);
            let uv{u} = select(0.0, big[select(0u, rb{u} + u32(ix{u}), ok{u})], ok{u});
            //#end
            //#unroll j LB
            let lv{j} = small[sbase + ox + lofs{j}];
            //#end
            //#unroll u UB
            //#unroll j LB
            acc{u}_{j} = fma(uv{u}, lv{j}, acc{u}_{j});
            //#end
            //#end
        }
    }
    let split_base = wid.z * p.cs * p.cb * p.taps;
    //#unroll u UB
    //#unroll j LB
    if (eb + {u}u < p.entries && l0 + {j}u * WG < p.cs) {
        let ci = (eb + {u}u) / p.taps;
        let tap = (eb + {u}u) % p.taps;
        out[split_base + ((l0 + {j}u * WG) * p.cb + ci) * p.taps + tap] = acc{u}_{j};
    }
    //#end
    //#end
}
