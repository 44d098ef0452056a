// matmul.wgsl — batched C[b] = op(A[b]) · op(B[b]), register-blocked, no shared memory.
// Bindings: 0 params {m, n, k, batch strides}; 1 A (read); 2 B (read); 3 C (write).
// Workgroup: 8×8 invocations; each computes a 4×4 block of C, so a workgroup covers 32×32.
// Grid: x over column blocks, y over row blocks, z over the batch.
// Why no shared memory: on CPU adapters (lavapipe) every workgroupBarrier is a coroutine
// switch, and a register-blocked loop is ~9× faster than a 16×16 tiled one there.
// Variants: TA / TB (true: the operand is stored transposed, i.e. A is K×M or B is N×K).
struct Params { m: u32, n: u32, k: u32, pad: u32, a_bs: u32, b_bs: u32, c_bs: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TA: bool = {{TA}};
const TB: bool = {{TB}};

fn load_a(base: u32, row: u32, kk: u32) -> f32 {
    if (TA) { return a[base + kk * p.m + row]; }
    return a[base + row * p.k + kk];
}

fn load_b(base: u32, kk: u32, col: u32) -> f32 {
    if (TB) { return b[base + col * p.k + kk]; }
    return b[base + kk * p.n + col];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * 4u;
    let n0 = gid.x * 4u;
    if (m0 >= p.m || n0 >= p.n) { return; }
    let abase = gid.z * p.a_bs;
    let bbase = gid.z * p.b_bs;
    // Rows and columns past the edge are clamped for loading and skipped when storing.
    let r = min(vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u), vec4<u32>(p.m - 1u));
    let q = min(vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u), vec4<u32>(p.n - 1u));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let av = vec4<f32>(load_a(abase, r.x, kk), load_a(abase, r.y, kk),
                           load_a(abase, r.z, kk), load_a(abase, r.w, kk));
        let bv = vec4<f32>(load_b(bbase, kk, q.x), load_b(bbase, kk, q.y),
                           load_b(bbase, kk, q.z), load_b(bbase, kk, q.w));
        acc0 = fma(vec4<f32>(av.x), bv, acc0);
        acc1 = fma(vec4<f32>(av.y), bv, acc1);
        acc2 = fma(vec4<f32>(av.z), bv, acc2);
        acc3 = fma(vec4<f32>(av.w), bv, acc3);
    }
    let cbase = gid.z * p.c_bs;
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = m0 + i;
        if (row < p.m) {
            for (var j = 0u; j < 4u; j = j + 1u) {
                let col = n0 + j;
                if (col < p.n) {
                    c[cbase + row * p.n + col] = rows[i][j];
                }
            }
        }
    }
}
