// optim.wgsl — one fused update of a parameter tensor: Adam, RMSprop or SGD, then optional
// weight clipping, in a single pass over the elements.
// Bindings: 0 params; 1 param (read-write); 2 grad (read); 3 m (read-write: Adam's first moment,
// SGD/RMSprop momentum buffer); 4 v (read-write: second moment / square average).
// Workgroup: 256 invocations, one element of T each (vec4 when the tensor's size is a multiple
// of 4: on lavapipe a vec4 load costs little more than a scalar one, so the update reads and
// writes its four arrays in a quarter of the per-lane load loops). `kind` is a uniform
// (0 Adam, 1 RMSprop, 2 SGD) rather than a compile-time variant so every binding is used by
// every variant. Variant: T (f32 / vec4<f32>); `n` counts elements of T.
// Adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − step·m / (√v·vscale + ε)
//          (PyTorch: step = lr/(1−β1ᵗ), vscale = 1/√(1−β2ᵗ); Keras: step = lr·√(1−β2ᵗ)/(1−β1ᵗ), vscale = 1)
// RMSprop: v ← α·v + (1−α)·g²;  d = g/(√v + ε);  with momentum μ: m ← μ·m + d, p ← p − lr·m;
//          else p ← p − lr·d
// SGD:     with momentum μ: m ← μ·m + g (m = g on the first step), p ← p − lr·m; else p ← p − lr·g
// Weight decay (L2, PyTorch style) adds wd·p to g first. Clipping clamps p to [−clip, clip].
struct Params {
    n: u32, kind: u32, first: u32, clip_on: u32,
    step: f32, b1: f32, b2: f32, eps: f32,
    vscale: f32, momentum: f32, wd: f32, clip: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
alias T = {{T}};
@group(0) @binding(1) var<storage, read_write> w: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;
@group(0) @binding(3) var<storage, read_write> m: array<T>;
@group(0) @binding(4) var<storage, read_write> v: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= p.n) { return; }
    var wi = w[i];
    let gi = g[i] + p.wd * wi;
    if (p.kind == 0u) {
        let mi = p.b1 * m[i] + (1.0 - p.b1) * gi;
        let vi = p.b2 * v[i] + (1.0 - p.b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        wi = wi - p.step * mi / (sqrt(vi) * p.vscale + p.eps);
    } else if (p.kind == 1u) {
        let vi = p.b2 * v[i] + (1.0 - p.b2) * gi * gi;
        v[i] = vi;
        let d = gi / (sqrt(vi) + p.eps);
        if (p.momentum != 0.0) {
            let mi = p.momentum * m[i] + d;
            m[i] = mi;
            wi = wi - p.step * mi;
        } else {
            wi = wi - p.step * d;
        }
    } else {
        if (p.momentum != 0.0) {
            let mi = select(p.momentum * m[i] + gi, gi, p.first != 0u);
            m[i] = mi;
            wi = wi - p.step * mi;
        } else {
            wi = wi - p.step * gi;
        }
    }
    if (p.clip_on != 0u) {
        wi = clamp(wi, T(-p.clip), T(p.clip));
    }
    w[i] = wi;
}
