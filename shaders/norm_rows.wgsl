// norm_rows.wgsl — what every per-channel sum pass over a normalisation's input shares
// (norm_stats.wgsl, norm_stats_words.wgsl, norm_grad2_stats.wgsl; prepended before their own
// bindings): the row types T and S, the parameter block, the input x and gradient g, and how
// an invocation's share of the rows is found. The input is viewed as [A, C, B]; each
// invocation sums one channel over one chunk of rows.
alias T = {{T}};
alias S = {{S}};
struct Params { a: u32, c: u32, bv: u32, rows: u32, nchunks: u32, n: u32, slope: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;

// Invocation t's share of the pass: channel c, rows [a0, a1) of row chunk `chunk`.
struct Share { chunk: u32, c: u32, a0: u32, a1: u32 }

fn share(t: u32) -> Share {
    let kc = divmod(t, p.c);
    let a0 = kc.x * p.rows;
    return Share(kc.x, kc.y, a0, min(p.a, a0 + p.rows));
}
