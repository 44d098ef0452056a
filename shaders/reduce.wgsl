// reduce.wgsl — sums or maxima over the middle axis of a (outer, r, inner) view.
// Bindings: 0 params; 1 x (read); 2 out (write).
// Workgroup: 256 invocations; one output element per invocation. Invocation idx writes
// out[(o·nchunks + c)·inner + i] = COMBINE over k in chunk c of x[(o·r + k)·inner + i], times
// `scale`. With nchunks > 1 the host runs a second pass over the partial results, so long
// reductions with few outputs still spread over many invocations (no shared memory, no barriers).
// Where inner is a multiple of 4 the element type T is vec4<f32> and every index counts vec4s
// (p.inner = inner / 4): four neighbouring outputs per invocation, one load per four elements.
// Rows (inner = 1) have their own kernel, reduce_rows4.wgsl.
// Variants: T (f32 or vec4<f32>), INIT (identity), COMBINE(acc, v).
struct Params { outer: u32, r: u32, inner: u32, chunk: u32, nchunks: u32, n: u32, scale: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> out: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = linear_id(wid, nwg, lid, 256u);
    if (idx >= p.n) { return; }
    let ti = divmod(idx, p.inner);
    let i = ti.y;
    let oc = divmod(ti.x, p.nchunks);
    let c = oc.y;
    let o = oc.x;
    let k0 = c * p.chunk;
    let k1 = min(p.r, k0 + p.chunk);
    var acc = {{T}}({{INIT}});
    var at = (o * p.r + k0) * p.inner + i;
    for (var k = k0; k < k1; k = k + 1u) {
        let v = x[at];
        acc = {{COMBINE}};
        at = at + p.inner;
    }
    out[idx] = acc * p.scale;
}
