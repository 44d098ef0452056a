// conv_sg_wgrad_taps.wgsl — the weight gradient of conv_sg_wgrad.wgsl for a big side with
// few channels (a grayscale or RGB image: Conv(1→64), ConvT(64→1)), where one tap per
// workgroup would leave too few big-side channels to fill a tile: the GEMM's columns are
// instead the (channel, tap) entries e = ci·taps + tap of the big side, each loaded at its own
// tap offset and tested against the image bounds (conv2d_weight_grad_taps.wgsl's form).
//   out[split, co, e] = Σ_{rows r = n·SH + oy in chunk, ox} small[n, co, oy, ox] ·
//                       big[n, ci, oy·sy − py + kh, ox·sx − px + kw]
// Why: CPU adapters load storage buffers one lane at a time; each lane loads R values of one
// side ("own") and CB of the other ("shared") per pixel and takes the other lanes' shared
// values by subgroupBroadcast, so R + CB loads feed SG·R·CB FMAs (see conv_sg.wgsl).
// Parameters and bindings: conv_sg_wgrad_params.wgsl, prepended by the host.
// Grid: x over tiles of TN columns, y over tiles of TM rows (rows and columns are small
// channels and entries, or the reverse, as generated), z over chunks of `rows` small-image
// rows. Workgroup: one subgroup of SG lanes. p.extra = the number of entries.
// Elements past the edge are clamped for loading and skipped when storing; a tap outside the
// image loads an in-bounds address and drops the value.
// Variants: SG, TM, TN; DECL/ROW/LOAD/BODY/STORE generated (src/ops/conv_sg_wgrad.rs).
@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) j: u32) {
    let row0 = wid.y * {{TM}}u;
    let col0 = wid.x * {{TN}}u;
    let bimg = p.bh * p.bw;
    let simg = p.sh * p.sw;
{{DECL}}
    let r0 = wid.z * p.rows;
    let r1 = min(p.n * p.sh, r0 + p.rows);
    // Image and row of r, stepped without dividing.
    var n = r0 / p.sh;
    var oy = r0 % p.sh;
    for (var r = r0; r < r1; r++) {
        let sbase = (n * p.cs * p.sh + oy) * p.sw;
        let bbase = n * p.cb * bimg;
{{ROW}}
        for (var ox = 0u; ox < p.sw; ox++) {
            let xb = i32(ox * p.sx);
{{LOAD}}
{{BODY}}
        }
        oy += 1u;
        if (oy == p.sh) {
            oy = 0u;
            n += 1u;
        }
    }
    let split_base = wid.z * p.cs * p.cb * p.taps;
{{STORE}}
}
