// conv_sg.wgsl — conv2d and transposed conv2d (the gather form of conv2d.wgsl) for CPU
// adapters with subgroups, where the lanes of a subgroup share their loads. Parameters,
// bindings, flags and pixel geometry: conv2d_geom.wgsl, prepended by the host.
// Why: on a CPU adapter every storage-buffer load is a scalar loop over the SIMD lanes, tens
// of cycles per element, while subgroupBroadcast is a register shuffle. As an implicit GEMM
// (output channels × pixels of one phase, reduced over input channels × taps), each lane
// loads only R elements of one edge of the tile ("own": its rows) and CB of the other
// ("shared"), and obtains the other lanes' shared elements by broadcast: SG·R·CB FMAs per
// R + CB loads (matmul_sg.wgsl, the same technique).
// Tile: a workgroup is one subgroup of SG lanes; grid x over tiles of TP pixels, y over tiles
// of TC output channels. A transposed conv's workgroup computes its tile in every phase in
// turn: the phases of one pixel index are neighbouring destination pixels (a 2×2 block at
// stride 2), so one workgroup writes whole cache lines. With a grid z over phases, workgroups
// running on different cores wrote alternate floats of the same lines, and the lines moved
// between the cores at every store: dcgan-28's ConvT(64→32) forward took up to 8.3 ms on
// two lavapipe threads, no less than on one (7.9); 4.1 ms with the phase loop.
// Where the output size is not a multiple of the stride the phases differ in size (7 × 7 at
// stride 2: 16, 12, 12 and 9 pixels per image, with 1, 2, 2 and 4 taps), and each phase
// counts only its own pixels: a tile past a phase's last pixel skips it. Sized alike, the
// phases computed 9,216 tap-pixels per channel pair and image group for 6,400 real ones;
// dcgan-28's ConvT(128→64, k3 s2) 4→7 went from 2.8 to 1.9 ms per call.
// Which edge is own and which is shared is generated
// (the host picks whichever wastes less of the tile): either lane j owns R channel rows
// (weight loads) and loads CB pixels (source loads), or owns R pixels and loads CB channels.
// Own element i of lane j is j·R + i; shared element c of lane l is column c·SG + l.
// Pixels and channels past the edge are clamped for loading and skipped when storing; a tap
// outside the image loads an in-bounds address and drops the value. A tap that misses every
// pixel of the subgroup is skipped (subgroupAny keeps the control flow uniform, which the
// broadcasts need).
// Variants: SG; TP, TC (tile sizes); DECL/TAP/LOAD/BODY/STORE generated (src/ops/conv_sg.rs).
// Reads: two input channels per step from the operands in their own layouts (C_STEP 2; the
// second is zero past the chunk's last channel), or four (C_STEP 4) from channels-last
// copies bound at 5 (source, [N, SH, SW, CS]) and 6 (weight, [CD, taps, CS]) and read as
// vec4s through ld_a / ld_b (OPERANDS: buffers or textures, src/ops/conv_channels_last.rs).
// BODY then gives each accumulator the step's products in a row.
// W_START and W_STEP place the weight index in either layout.
// dst[o] = v, or += v in the accumulating variant (flag ACCUM). A separate variant because
// reading dst in every store of the unrolled tile makes lavapipe's compile 3× slower.
{{OPERANDS}}
fn put(o: u32, v: f32) {
    {{PUT}}
}

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) j: u32) {
    let simg = p.sh * p.sw;
    let dimg = p.dh * p.dw;
    let dir = select(1, -1, transposed());
    let use_bias = (p.flags & 2u) != 0u;
    // Pixel tile of this workgroup: the grid's x order dealt into p.chunks runs (the host
    // makes nwg.x a multiple of it), so run c holds tiles c, c + chunks, c + 2·chunks, …
    // Why: lavapipe gives each of its threads one contiguous run of workgroups, and when
    // phases differ in size the low tiles have work in every phase and the high ones in
    // the largest only; dealt out, every run gets its share of both.
    let per_run = nwg.x / p.chunks;
    let pix0 = ((wid.x % per_run) * p.chunks + wid.x / per_run) * {{TP}}u;
    let co0 = wid.y * {{TC}}u;
    {{PHASES}} {
        let f = phase(z);
{{SKIP}}
{{DECL}}
        for (var ty = 0u; ty < f.nty; ty++) {
            let khh = f.k0y + ty * f.ksy;
            for (var tx = 0u; tx < f.ntx; tx++) {
                let kww = f.k0x + tx * f.ksx;
                // Source offsets of this lane's pixels at this tap (channel ci0).
                var any_ok = false;
{{TAP}}
                if (!subgroupAny(any_ok)) {
                    continue;
                }
                var wi = {{W_START}};
                for (var ci = p.ci0; ci < p.ci1; ci += {{C_STEP}}u) {
{{LOAD}}
{{BODY}}
                    wi += {{W_STEP}};
                }
            }
        }
{{STORE}}
    }
}
