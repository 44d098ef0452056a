// matmul_strided.wgsl — the parameter block and bindings of the strided matmul kernels
// (matmul_sg.wgsl for CPU adapters, matmul_tiled.wgsl for GPUs), prepended by the host;
// `StridedParams` in src/ops/matmul_sg.rs. Addressing by strides:
//   A'(m, k) = a[a_off + z·a_bs + m·sam + k·sak]   B'(k, n) = b[b_off + z·b_bs + k·sbk + n·sbn]
//   C(m, n)  = c[z·c_bs + m·scm + n·scn]
// Flags: 1 add bias[n], 4 add bias[m], 2 accumulate into C (K split across dispatches),
// 8 apply the activation to the finished output (set only on the dispatch that completes C):
// a leaky ReLU of slope `alpha` (0: ReLU), or with 16 also set an ELU of `alpha`.
// kc: K per slice when the tiled kernel splits K (0: no split; matmul_sg ignores it).
// Bindings: 0 params; 1 A; 2 B (read); 3 C (read-write: accumulate mode reads it); 4 bias.
struct Params {
    m: u32, n: u32, k: u32, flags: u32,
    sam: u32, sak: u32, sbk: u32, sbn: u32,
    scm: u32, scn: u32, a_bs: u32, b_bs: u32,
    c_bs: u32, a_off: u32, b_off: u32, kc: u32,
    alpha: f32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// The leaky ReLU of slope `p.alpha`, computed as the leaky ReLU kernel does (slope 0 gives
// +0 below zero, as ReLU's max(v, 0)), and the ELU of `p.alpha`, as the ELU kernel does;
// `leaky4` / `elu4` for the vec4 stores of matmul_sg.
fn leaky(v: f32) -> f32 {
    return leaky_with(v, p.alpha);
}
fn leaky4(v: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(leaky(v.x), leaky(v.y), leaky(v.z), leaky(v.w));
}
fn elu(v: f32) -> f32 {
    return elu_with(v, p.alpha);
}
fn elu4(v: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(elu(v.x), elu(v.y), elu(v.z), elu(v.w));
}

// The output epilogue after bias and accumulation (matmul_tiled): flag 8's activation.
// matmul_sg fixes the epilogue per variant instead (src/ops/matmul_sg_store.rs).
fn activate(v: f32) -> f32 {
    if ((p.flags & 8u) == 0u) { return v; }
    if ((p.flags & 16u) != 0u) { return elu(v); }
    return leaky(v);
}
