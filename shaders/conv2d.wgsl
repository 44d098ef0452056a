// conv2d.wgsl — 2-D convolution and (flag TRANSPOSED) transposed convolution in gather form,
// as an implicit GEMM: no im2col buffer is ever written. The register-blocked kernel, used on
// GPUs and on CPU adapters without subgroups (conv_sg.wgsl replaces it where lanes can share).
// Parameters, bindings, flags and pixel geometry: conv2d_geom.wgsl, prepended by the host.
// Grid: x over blocks of WG·PB pixels of one phase, y over blocks of CB output channels,
// z over phases (1 for conv). Workgroup: WG invocations.
// Each invocation accumulates CB channels × PB pixels in registers (an outer product per input
// channel: CB weight loads + PB source loads feed CB·PB FMAs). Its pixels are lane, lane + WG,
// lane + 2·WG, … so neighbouring lanes read neighbouring addresses. Loops run tap row, tap
// column, then input channel innermost: bounds are tested once per tap and pixel, outside the
// channel loop, and the channel loop only adds strides (no division anywhere in the loops).
// No shared memory and no barriers: on CPU adapters (lavapipe) a barrier is a coroutine switch
// and register blocking is several times faster.
// `//#unroll v N` … `//#end` blocks are repeated N times by the host with {v} = 0, 1, …
// (src/ops/conv_launch.rs): the register block is unrolled explicitly, never left to the
// driver. Variants: CB, PB, WG.
const PB: u32 = {{PB}}u;
const WG: u32 = {{WG}}u;

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
