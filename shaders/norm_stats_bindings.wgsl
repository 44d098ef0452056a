// norm_stats_bindings.wgsl — the parameter block, bindings and flags of the normalisation
// statistics passes (norm_stats.wgsl, norm_stats_words.wgsl), prepended to each. T is the
// type rows are read as, S the per-channel type (see norm_stats.wgsl); each invocation sums
// one channel over one chunk of rows.
alias T = {{T}};
alias S = {{S}};
struct Params { a: u32, c: u32, bv: u32, rows: u32, nchunks: u32, n: u32, slope: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;
@group(0) @binding(3) var<storage, read> stats: array<S>;
@group(0) @binding(4) var<storage, read_write> out: array<S>;
@group(0) @binding(5) var<storage, read> w: array<S>;
@group(0) @binding(6) var<storage, read> bias: array<S>;

const BACKWARD: bool = {{BACKWARD}};
const ACT: bool = {{ACT}};
const AFFINE: bool = {{AFFINE}};

// Invocation t's share of the pass: channel c, rows [a0, a1) of row chunk `chunk`.
struct Share { chunk: u32, c: u32, a0: u32, a1: u32 }

fn share(t: u32) -> Share {
    let kc = divmod(t, p.c);
    let a0 = kc.x * p.rows;
    return Share(kc.x, kc.y, a0, min(p.a, a0 + p.rows));
}

// Writes a share's two partial sums to out [2, nchunks, C].
fn put_sums(sh: Share, s1: S, s2: S) {
    out[sh.chunk * p.c + sh.c] = s1;
    out[(p.nchunks + sh.chunk) * p.c + sh.c] = s2;
}
