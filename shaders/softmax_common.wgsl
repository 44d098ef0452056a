// softmax_common.wgsl — element type, parameters, bindings and horizontal max/sum shared by
// softmax_rows.wgsl and softmax_wg.wgsl (prepended to each).
// The input is `rows` contiguous rows of `len` elements of T (vec4 when the row length is a
// multiple of 4; the host passes len in units of T).
// Bindings: 0 params; 1 a (x forward, y backward); 2 b (x again forward, g backward);
// 3 out (write).
// Variants: T with HMAX and HSUM (max / sum of `v: T`), BACKWARD, LOG (log-softmax: forward
// writes x − M − log S, backward dx = g − exp(y)·Σ g).
alias T = {{T}};
struct Params { rows: u32, len: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

const BACKWARD: bool = {{BACKWARD}};
const LOG: bool = {{LOG}};

fn hmax(v: T) -> f32 { return {{HMAX}}; }
fn hsum(v: T) -> f32 { return {{HSUM}}; }
