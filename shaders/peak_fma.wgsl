// peak_fma.wgsl — arithmetic-throughput probe behind `gpu::measure_fma_peak`: pure FMAs, no
// memory traffic in the loop, no shared memory, no barriers.
// Bindings: 0 params {iters, m, c}; 1 out (write, one f32 per invocation).
// Workgroup: 64 invocations. Each invocation keeps N independent vec4 accumulators a0…aN−1
// (4N scalar FMA chains, enough to hide FMA latency) and runs `iters` iterations of 4 steps of
// a = fma(a, m, c) on each: iters · 4 · 4N FMAs = iters · 32N FLOPs per invocation.
// m and c come from the uniform block, so nothing can be folded at compile time; with m < 1
// the accumulators stay bounded. The final sum is stored so that no chain is dead code.
// Variants: N is set by the host through DECL (declares and seeds a0…aN−1), STEP (one FMA on
// each) and SUM (their sum); the best N depends on the register file (a CPU adapter's 16
// vector registers want few chains, a GPU tolerates many).
struct Params { iters: u32, pad: u32, m: f32, c: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 64u);
    let m = vec4<f32>(p.m);
    let c = vec4<f32>(p.c);
    let s = f32(i & 1023u) * 1e-3;
    let seed = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
    {{DECL}}
    for (var k = 0u; k < p.iters; k = k + 1u) {
        {{STEP}}
        {{STEP}}
        {{STEP}}
        {{STEP}}
    }
    out[i] = dot({{SUM}}, vec4<f32>(1.0));
}
