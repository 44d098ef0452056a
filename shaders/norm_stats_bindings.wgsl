// norm_stats_bindings.wgsl — the rest of the bindings and the flags of the normalisation
// statistics passes (norm_stats.wgsl, norm_stats_words.wgsl), after norm_rows.wgsl. T is the
// type rows are read as, S the per-channel type (see norm_stats.wgsl).
@group(0) @binding(3) var<storage, read> stats: array<S>;
@group(0) @binding(4) var<storage, read_write> out: array<S>;
@group(0) @binding(5) var<storage, read> w: array<S>;
@group(0) @binding(6) var<storage, read> bias: array<S>;

const BACKWARD: bool = {{BACKWARD}};
const ACT: bool = {{ACT}};
const AFFINE: bool = {{AFFINE}};

// Writes a share's two partial sums to out [2, nchunks, C].
fn put_sums(sh: Share, s1: S, s2: S) {
    out[sh.chunk * p.c + sh.c] = s1;
    out[(p.nchunks + sh.chunk) * p.c + sh.c] = s2;
}
