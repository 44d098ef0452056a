// subgroup_probe.wgsl — checks, once per device, what the subgroup-sharing kernels assume: a
// workgroup of SG invocations runs as exactly one full subgroup of size SG, whose lane ids are
// the local invocation indices, and subgroupBroadcast reads the lane it names. Drivers may
// vary the subgroup size per pipeline (wgpu allows it), so the adapter's reported size alone
// does not guarantee this.
// Bindings: 0 params (unused); 1 bad (one word per workgroup, 1 where a check failed).
struct Params { unused: vec4<u32> }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> bad: array<u32>;

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) size: u32) {
    let lanes = subgroupAdd(1u);
    let first = subgroupBroadcast(lid, 0u);
    let last = subgroupBroadcast(lid, {{LAST}}u);
    let ok = size == {{SG}}u && lanes == {{SG}}u && sid == lid && first == 0u
        && last == {{LAST}}u;
    if (!ok) {
        bad[wid.x] = 1u;
    }
}
