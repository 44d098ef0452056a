// gather_u8.wgsl — batch assembly from a byte data set: out[r, i] = scale·byte(idx[r], i) + shift,
// where the data set is rows of `width` bytes packed four to a u32 word (little-endian).
// Bindings: 0 params; 1 data (read, packed bytes); 2 idx (read, u32 row numbers); 3 out (write, f32).
// Workgroup: 256 invocations, one output element each. Keeping images as bytes on the GPU
// makes a data set four times smaller than f32 (64×64 MNIST fits one binding).
struct Params { rows: u32, width: u32, n: u32, pad: u32, scale: f32, shift: f32, pad2: u32, pad3: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid, 256u);
    if (o >= p.n) { return; }
    let rc = divmod(o, p.width);
    let at = idx[rc.x] * p.width + rc.y;
    let byte = (data[at / 4u] >> ((at % 4u) * 8u)) & 0xffu;
    out[o] = p.scale * f32(byte) + p.shift;
}
