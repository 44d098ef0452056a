// conv_winograd_patches.wgsl — prepended to the input transforms (conv_winograd_input.wgsl,
// conv_winograd_input_rows.wgsl) of a Winograd F(2×2, 2×2) convolution with a 4 × 4 kernel
// at stride 2, padding 1 (src/ops/conv_winograd.rs): V = Bᵀ d B for every 3 × 3 patch d a
// 2 × 2 output tile reads, with Bᵀ = [[1, −1, 0], [0, 1, 0], [0, −1, 1]].
// Why the 4 × 4 stride-2 kernel is a sum of 2 × 2 stride-1 ones: tap k = 2a + r of a conv
// reads source row 2(o + a) + r − 1, so for each parity r ∈ {0, 1} of a tap the conv is a
// 2-tap correlation of the rows d_r[t] = x[2t + r − 1]; a transposed conv's output row
// 2t + r is a 2-tap correlation of x[t + a + r − 1] with taps 3 − 2a − r. Each 2-tap
// correlation gives two outputs from three inputs in three products instead of four.
//   conv (TRANSPOSED false): per tile a 6 × 6 patch from rows 4ty − 1 …; the parities
//     (ry, rx) become four more reduction channels: V[pos, p, ci·4 + ry·2 + rx].
//   transposed conv (C a multiple of 4): per tile a 4 × 4 patch from rows 2ty − 1 …; the
//     parities are the output phases, four separate products: V[(ry·2 + rx)·9 + pos, p, ci].
// Each invocation writes four consecutive reduction values as one vec4 per position: a
// channel's four parities, or four channels of a transposed conv. (Per element, a vec4
// access is a quarter of the per-lane loop a scalar one is on lavapipe.)
// Taps outside the source read zero (the padding).
// Bindings: 0 params (conv_winograd_common.wgsl); 1 x [N, C, H, W] (read; declared by the
// file that follows); 2 V (written).
// Workgroup: 64 invocations, one (tile p, group of four reduction values) each, groups fastest.
// Variants: TRANSPOSED and the geometry as constants (a u32 division by a uniform is a scalar
// loop over the lanes on a CPU adapter).
@group(0) @binding(2) var<storage, read_write> v: array<vec4<f32>>;
const TRANSPOSED: bool = {{TRANSPOSED}};
const C = {{C}}u;
const H = {{H}};
const W = {{W}};
// Groups of four reduction values per tile: C (conv), C / 4 (transposed conv).
const G = {{G}}u;
// Tiles per image and per tile row.
const TT = {{TT}}u;
const TX = {{TX}}u;
// Patch side: 6 for a conv, 4 for a transposed conv.
const S = {{S}};

// Bᵀ d B of the 3 × 3 patch with rows a, b, c: rows combined first, then columns.
fn transform(a: vec3<f32>, b: vec3<f32>, c: vec3<f32>) -> array<f32, 9> {
    let u0 = a - b;
    let u2 = c - b;
    return array<f32, 9>(
        u0.x - u0.y, u0.y, u0.z - u0.y,
        b.x - b.y, b.y, b.z - b.y,
        u2.x - u2.y, u2.y, u2.z - u2.y,
    );
}

// Bᵀ d B of the 3 × 3 sub-patch of d at (r0, c0), taking every `step`-th row and column.
fn transform_at(d: array<array<f32, S>, S>, r0: i32, c0: i32, step: i32) -> array<f32, 9> {
    let r1 = r0 + step;
    let r2 = r0 + 2 * step;
    let c1 = c0 + step;
    let c2 = c0 + 2 * step;
    return transform(
        vec3<f32>(d[r0][c0], d[r0][c1], d[r0][c2]),
        vec3<f32>(d[r1][c0], d[r1][c1], d[r1][c2]),
        vec3<f32>(d[r2][c0], d[r2][c1], d[r2][c2]),
    );
}

// Writes the nine vec4s of one phase (transposed conv: four channels) or of one tile's four
// parities (conv), lane k of each from t[k]. A function called with constant arguments
// rather than a loop, so that every array index is a constant once it is inlined (an array
// indexed by a loop counter that stays a loop lives in memory on lavapipe).
fn put(base: u32, t0: array<f32, 9>, t1: array<f32, 9>, t2: array<f32, 9>, t3: array<f32, 9>) {
    for (var pos = 0u; pos < 9u; pos++) {
        v[base + pos * p.tiles * G] = vec4<f32>(t0[pos], t1[pos], t2[pos], t3[pos]);
    }
}

