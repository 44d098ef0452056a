// random.wgsl — counter-based random numbers (Philox4x32-10 from the prefix philox.wgsl).
// Invocation t draws one Philox block from counter (offset + t) under key seed and writes
// elements 4t..4t+3, so the numbers depend only on (seed, offset, index), never on scheduling.
// Bindings: 0 params; 1 out (write). Workgroup: 256 invocations.
// Variants: DIST = 0 uniform [a, b), 1 normal (mean a, std b; Box–Muller), 2 Bernoulli(a) → {0, b}.
struct Params { n: u32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32, pad: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t * 4u >= p.n) { return; }
    let r = philox_block(p.seed_lo, p.seed_hi, p.off_lo, p.off_hi, t);
    var v: vec4<f32>;
    if ({{DIST}}u == 0u) {
        v = p.a + (p.b - p.a) * unit4(r);
    } else if ({{DIST}}u == 1u) {
        let tau = 6.2831853;
        let r0 = sqrt(-2.0 * log(unit_open(r.x)));
        let r1 = sqrt(-2.0 * log(unit_open(r.z)));
        let z = vec4<f32>(r0 * cos(tau * unit(r.y)), r0 * sin(tau * unit(r.y)),
                          r1 * cos(tau * unit(r.w)), r1 * sin(tau * unit(r.w)));
        v = p.a + p.b * z;
    } else {
        v = select(vec4<f32>(0.0), vec4<f32>(p.b), unit4(r) < vec4<f32>(p.a));
    }
    let base = t * 4u;
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (base + j < p.n) { out[base + j] = v[j]; }
    }
}
