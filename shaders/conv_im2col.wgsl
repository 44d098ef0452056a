// conv_im2col.wgsl — the im2col matrix of a conv2d's source, channels last:
// y[n, oy, ox, k] = x[n, ci, oy·sh − ph + ky, ox·sw − pw + kx] for k = (ci, ky, kx) < K,
// zero where the tap falls on padding and for k in [K, KP) (KP: K rounded up to 4).
// Why: a conv with one to three input channels reduces over only a few channels per tap, so
// the gather kernel (conv_sg.wgsl) paid a tap's geometry and a scalar load per FMA row for
// each of them. Over this copy the conv is a 1×1 conv with KP channels, which the gather
// kernel reads four channels (here: taps) per vec4 load (src/ops/conv_im2col.rs).
// Bindings: 0 params (the count of output vec4s); 1 x ([N, CS, H, W], read); 2 y
// ([N, OH, OW, KP], written as vec4s).
// Workgroup: 64 invocations, one output vec4 (four consecutive k) each.
// Variants: the geometry (CS, H, W, OH, OW, KH, KW, SH, SW, PH, PW, K, KP4) as constants, so
// that its divisions compile to multiplications (a u32 division by a uniform is a scalar loop
// over the lanes on a CPU adapter: 0.56 ms per call for dcgan-28's first layer).
struct Params { total: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
const CS = {{CS}}u;
const H = {{H}}u;
const W = {{W}}u;
const OW = {{OW}}u;
const OHW = {{OH}}u * {{OW}}u;
const KW = {{KW}}u;
const TAPS = {{KH}}u * {{KW}}u;
const SH = {{SH}}u;
const SW = {{SW}}u;
const PH = {{PH}};
const PW = {{PW}};
const K = {{K}}u;
const KP4 = {{KP4}}u;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

// Element k of output pixel `pix` (n·OH·OW + oy·OW + ox); zero off the image and past K.
fn element(n: u32, oy: u32, ox: u32, k: u32) -> f32 {
    let ci = k / TAPS;
    let tap = k % TAPS;
    let iy = i32(oy * SH + tap / KW) - PH;
    let ix = i32(ox * SW + tap % KW) - PW;
    let inside = k < K && iy >= 0 && ix >= 0 && iy < i32(H) && ix < i32(W);
    // Clamped to an address in bounds; the value is dropped when outside.
    let at = ((n * CS + min(ci, CS - 1u)) * H + u32(clamp(iy, 0, i32(H) - 1))) * W
        + u32(clamp(ix, 0, i32(W) - 1));
    return select(0.0, x[at], inside);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let pix = i / KP4;
    let k0 = (i % KP4) * 4u;
    let n = pix / OHW;
    let oy = (pix % OHW) / OW;
    let ox = pix % OW;
    y[i] = vec4<f32>(
        element(n, oy, ox, k0),
        element(n, oy, ox, k0 + 1u),
        element(n, oy, ox, k0 + 2u),
        element(n, oy, ox, k0 + 3u),
    );
}
