// optim.wgsl — one fused optimizer update of up to 16 parameter tensors in a single dispatch:
// Adam, RMSprop or SGD, then optional weight clipping, one pass over each tensor's elements.
// Every tensor contributes the bindings and the `update<J>` function of `optim_tensor.wgsl`
// (instantiated once per tensor slot J by the generator in src/optim/fused.rs), and a
// generated branch in `main` sends each workgroup to its tensor. Tensor J's elements start at workgroup `start[J]`, so a
// workgroup never straddles two tensors.
// Workgroup: 256 invocations, one element of T each (vec4 when every tensor's size in the
// dispatch is a multiple of 4: on lavapipe a vec4 load costs little more than a scalar one, so
// the update reads and writes its four arrays in a quarter of the per-lane load loops). `kind`
// is a uniform (0 Adam, 1 RMSprop, 2 SGD) rather than a compile-time variant so every binding
// is used by every variant. Variants: T (f32 / vec4<f32>), the tensor count.
// Adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − step·m / (√v·vscale + ε)
//          (PyTorch: step = lr/(1−β1ᵗ), vscale = 1/√(1−β2ᵗ); Keras: step = lr·√(1−β2ᵗ)/(1−β1ᵗ), vscale = 1)
// RMSprop: v ← α·v + (1−α)·g²;  d = g/(√v + ε);  with momentum μ: m ← μ·m + d, p ← p − lr·m;
//          else p ← p − lr·d
// SGD:     with momentum μ: m ← μ·m + g (m = g on the first step), p ← p − lr·m; else p ← p − lr·g
// Weight decay (L2, PyTorch style) adds wd·p to g first. Clipping clamps p to [−clip, clip].
// The block starts with a padding word: on lavapipe (Mesa 22.3) the kernel ran 2–3× slower
// with `kind`, which the branches test, as the first word (measured; see docs/PERFORMANCE.md).
struct Params {
    _pad: u32, kind: u32, first: u32, clip_on: u32,
    step: f32, b1: f32, b2: f32, eps: f32,
    vscale: f32, momentum: f32, wd: f32, clip: f32,
    // Per tensor slot J at [J / 4][J % 4]: its element count (in T) and first workgroup.
    n: array<vec4<u32>, 4>,
    start: array<vec4<u32>, 4>,
}
@group(0) @binding(0) var<uniform> p: Params;
alias T = {{T}};

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    // The branch depends on the workgroup alone, so it is uniform: lavapipe then runs only the
    // taken tensor's code instead of every tensor's under a lane mask.
    let wg = wid.y * nwg.x + wid.x;
{{DISPATCH}}
}
