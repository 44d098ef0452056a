// gather_u8_words.wgsl — gather_u8.wgsl four bytes at a time, for rows whose width is a
// multiple of four (every row then starts on a word): out[r, 4w..4w+4] = scale·bytes of
// word w of row idx[r] + shift, written as one vec4.
// Why: on a CPU adapter each storage access is a loop over the SIMD lanes, so one word load
// and one vec4 store per four outputs cost about a quarter of the per-byte kernel.
// Bindings: 0 params; 1 data (read, packed bytes); 2 idx (read, u32 row numbers); 3 out
// (write, f32 as vec4). n counts output words (rows · width / 4).
struct Params { rows: u32, width: u32, n: u32, pad: u32, scale: f32, shift: f32, pad2: u32, pad3: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid, 256u);
    if (o >= p.n) { return; }
    let words = p.width / 4u;
    let rc = divmod(o, words);
    let w = data[idx[rc.x] * words + rc.y];
    let bytes = vec4<u32>(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u);
    out[o] = p.scale * vec4<f32>(bytes) + p.shift;
}
