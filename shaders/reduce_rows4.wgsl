// reduce_rows4.wgsl — sums or maxima along the rows of a row-major (outer, r) array read as
// vec4 words (the inner = 1 case of reduce.wgsl).
// Why: on a CPU adapter every storage-buffer load is a scalar loop over the SIMD lanes, and a
// row read one element per invocation step costs one such loop per element; read as words it
// costs one per four. The per-channel sums of a [N, C, H, W] map (bias and instance-norm
// gradients) are such rows: on dcgan-28's 7 × 7 maps each row is 49 elements and starts
// anywhere in a word, so every word is masked to the elements of its row's chunk, with the
// identity elsewhere.
// Bindings: 0 params; 1 x (read, numel a multiple of 4); 2 out (write).
// Invocation idx = o·nchunks + c combines elements [c·chunk, min(r, (c+1)·chunk)) of row o,
// times `scale`; the host reduces the chunks' partials again when nchunks > 1.
// Variants: INIT (identity), COMBINE(acc, v) (valid for f32 and vec4<f32> alike).
struct Params { outer: u32, r: u32, inner: u32, chunk: u32, nchunks: u32, n: u32, scale: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn combine4(acc: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
    return {{COMBINE}};
}

fn combine1(acc: f32, v: f32) -> f32 {
    return {{COMBINE}};
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid, 256u);
    if (idx >= p.n) { return; }
    let oc = divmod(idx, p.nchunks);
    let k0 = oc.y * p.chunk;
    let k1 = min(p.r, k0 + p.chunk);
    // Elements [e0, e1) of the flat array.
    let e0 = oc.x * p.r + k0;
    let e1 = oc.x * p.r + k1;
    let identity = vec4<f32>({{INIT}});
    var acc = identity;
    for (var w = e0 / 4u; w < (e1 + 3u) / 4u; w++) {
        acc = combine4(acc, select(identity, x[w], word_in_range(w, e0, e1)));
    }
    out[idx] = combine1(combine1(acc.x, acc.y), combine1(acc.z, acc.w)) * p.scale;
}
