// philox.wgsl — the counter-based generator shared by random.wgsl and dropout.wgsl
// (Philox4x32-10, as in cuRAND and PyTorch CUDA), prepended by the host. One call turns a
// 128-bit counter and a 64-bit key into four independent 32-bit words.

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

// Philox block `t` of a draw: counter offset + t (64-bit, carried) under key seed.
fn philox_block(seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32, t: u32) -> vec4<u32> {
    let lo = off_lo + t;
    let hi = off_hi + select(0u, 1u, lo < t);
    return philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(seed_lo, seed_hi));
}

// Four uniforms in [0, 1) from one block.
fn unit4(r: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(unit(r.x), unit(r.y), unit(r.z), unit(r.w));
}
