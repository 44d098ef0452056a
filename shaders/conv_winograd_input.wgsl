// conv_winograd_input.wgsl — the input transform of a Winograd F(2×2, 2×2) convolution with
// a 4 × 4 kernel at stride 2, padding 1 (src/ops/conv_winograd.rs): V = Bᵀ d B for every
// 3 × 3 patch d a 2 × 2 output tile reads, with Bᵀ = [[1, −1, 0], [0, 1, 0], [0, −1, 1]].
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
// Bindings: 0 params (conv_winograd_common.wgsl, prepended); 1 x [N, C, H, W] (read);
// 2 V (written).
// Workgroup: 64 invocations, one (tile p, group of four reduction values) each, groups fastest.
// Variants: TRANSPOSED and the geometry as constants (a u32 division by a uniform is a scalar
// loop over the lanes on a CPU adapter).
@group(0) @binding(1) var<storage, read> x: array<f32>;
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

// The 4 × 4 or 6 × 6 patch of channel ci whose top-left source pixel is (y0, x0).
fn read_patch(plane: u32, y0: i32, x0: i32) -> array<array<f32, S>, S> {
    var d: array<array<f32, S>, S>;
    for (var r = 0; r < S; r++) {
        for (var c = 0; c < S; c++) {
            let y = y0 + r;
            let xx = x0 + c;
            let inside = y >= 0 && y < H && xx >= 0 && xx < W;
            // Clamped to an address in bounds; the value is dropped when outside.
            let at = plane + u32(clamp(y, 0, H - 1) * W + clamp(xx, 0, W - 1));
            d[r][c] = select(0.0, x[at], inside);
        }
    }
    return d;
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

// Transposed conv: phase (ry, rx) of four channels' patches reads rows ry … ry + 2 and
// columns rx … rx + 2.
fn put_phase(base: u32, ry: i32, rx: i32, d0: array<array<f32, S>, S>,
             d1: array<array<f32, S>, S>, d2: array<array<f32, S>, S>,
             d3: array<array<f32, S>, S>) {
    put(base, transform_at(d0, ry, rx, 1), transform_at(d1, ry, rx, 1),
        transform_at(d2, ry, rx, 1), transform_at(d3, ry, rx, 1));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    if (i >= p.total) { return; }
    let group = i % G;
    let tile = i / G;
    let at = tile_at(tile, TT, TX);
    let n = at.x;
    let ty = at.y;
    let tx = at.z;
    let hw = u32(H * W);
    // V[b, tile, group] of batch entry b is at base + b·tiles·G.
    let base = tile * G + group;
    if (TRANSPOSED) {
        // Channels 4·group … 4·group + 3; batch entry phase·9 + pos.
        let y0 = i32(ty) * 2 - 1;
        let x0 = i32(tx) * 2 - 1;
        let c0 = (n * C + group * 4u) * hw;
        let d0 = read_patch(c0, y0, x0);
        let d1 = read_patch(c0 + hw, y0, x0);
        let d2 = read_patch(c0 + 2u * hw, y0, x0);
        let d3 = read_patch(c0 + 3u * hw, y0, x0);
        let phase = 9u * p.tiles * G;
        put_phase(base, 0, 0, d0, d1, d2, d3);
        put_phase(base + phase, 0, 1, d0, d1, d2, d3);
        put_phase(base + 2u * phase, 1, 0, d0, d1, d2, d3);
        put_phase(base + 3u * phase, 1, 1, d0, d1, d2, d3);
    } else {
        // Channel `group`, its four parities (ry, rx) in the lanes: rows ry, ry + 2, ry + 4.
        let d = read_patch((n * C + group) * hw, i32(ty) * 4 - 1, i32(tx) * 4 - 1);
        put(base, transform_at(d, 0, 0, 2), transform_at(d, 0, 1, 2), transform_at(d, 1, 0, 2),
            transform_at(d, 1, 1, 2));
    }
}
