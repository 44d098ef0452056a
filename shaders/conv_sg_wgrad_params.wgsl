// conv_sg_wgrad_params.wgsl — parameters and bindings shared by the two subgroup weight-
// gradient kernels (conv_sg_wgrad.wgsl, conv_sg_wgrad_taps.wgsl), prepended by the host.
// Bindings: 0 params; 1 big [N, CB, BH, BW] (read); 2 small [N, CS, SH, SW] (read);
// 3 out [nsplit, CS, CB, KH, KW] (write; the host sums the splits).
struct Params {
    n: u32, cb: u32, bh: u32, bw: u32,
    cs: u32, sh: u32, sw: u32, kw: u32,
    sy: u32, sx: u32, py: u32, px: u32,
    taps: u32, rows: u32, extra: u32, pad0: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> big: array<f32>;
@group(0) @binding(2) var<storage, read> small: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
