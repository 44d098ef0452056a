// random.wgsl — counter-based random numbers (Philox4x32-10, as in cuRAND and PyTorch CUDA).
// Invocation t draws one Philox block from counter (offset + t) under key seed and writes
// elements 4t..4t+3, so the numbers depend only on (seed, offset, index), never on scheduling.
// Bindings: 0 params; 1 out (write). Workgroup: 256 invocations.
// Variants: DIST = 0 uniform [a, b), 1 normal (mean a, std b; Box–Muller), 2 Bernoulli(a) → {0, b}.
struct Params { n: u32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32, pad: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// 32×32 → 64-bit product as (hi, lo), from 16-bit halves (WGSL has no mulhi).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu; let ah = a >> 16u;
    let bl = b & 0xffffu; let bh = b >> 16u;
    let p0 = al * bl; let p1 = al * bh; let p2 = ah * bl; let p3 = ah * bh;
    let mid = (p0 >> 16u) + (p1 & 0xffffu) + (p2 & 0xffffu);
    let hi = p3 + (p1 >> 16u) + (p2 >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(ctr_in: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
    var c = ctr_in;
    var k = key_in;
    for (var r = 0u; r < 10u; r = r + 1u) {
        let m0 = mulhilo(0xD2511F53u, c.x);
        let m1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(m1.x ^ c.y ^ k.x, m1.y, m0.x ^ c.w ^ k.y, m0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

// Uniform in [0, 1) with 24 bits; `open` shifts to (0, 1] for logarithms.
fn unit(x: u32) -> f32 { return f32(x >> 8u) * 5.9604645e-8; }
fn unit_open(x: u32) -> f32 { return (f32(x >> 8u) + 1.0) * 5.9604645e-8; }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t * 4u >= p.n) { return; }
    let lo = p.off_lo + t;
    let hi = p.off_hi + select(0u, 1u, lo < t);
    let r = philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
    var v: vec4<f32>;
    if ({{DIST}}u == 0u) {
        v = p.a + (p.b - p.a) * vec4<f32>(unit(r.x), unit(r.y), unit(r.z), unit(r.w));
    } else if ({{DIST}}u == 1u) {
        let tau = 6.2831853;
        let r0 = sqrt(-2.0 * log(unit_open(r.x)));
        let r1 = sqrt(-2.0 * log(unit_open(r.z)));
        let z = vec4<f32>(r0 * cos(tau * unit(r.y)), r0 * sin(tau * unit(r.y)),
                          r1 * cos(tau * unit(r.w)), r1 * sin(tau * unit(r.w)));
        v = p.a + p.b * z;
    } else {
        v = select(vec4<f32>(0.0), vec4<f32>(p.b),
                   vec4<f32>(unit(r.x), unit(r.y), unit(r.z), unit(r.w)) < vec4<f32>(p.a));
    }
    let base = t * 4u;
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (base + j < p.n) { out[base + j] = v[j]; }
    }
}
