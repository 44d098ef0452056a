//! vec4 operand loads for the subgroup-sharing matmul (`matmul_sg.rs`).
//!
//! On lavapipe a storage load costs about as much for a vec4 as for one float (the per-lane
//! loop runs once, not four times), so the kernel reads each operand four elements at a time
//! along whichever dimension is contiguous in memory:
//! - A along k (row-major activations, `x·Wᵀ`): one vec4 per row holds four k steps;
//! - A along m (a transposed operand, `dYᵀ·X`): one vec4 per k holds a lane's four rows;
//! - B along k (`Wᵀ` of a `[out, in]` weight): one vec4 per column holds four k steps;
//! - B along n (row-major B): one vec4 per k holds four neighbouring columns, and lane j owns
//!   columns 4·(j + SG·q) + e instead of SG·c + j — accumulators are named by column, so the
//!   scalar code for the remaining k steps (K mod 4) and the store are unchanged.
//!
//! The vector loop advances four k at a time; `p.k mod 4` steps run in the scalar loop after
//! it. Rows and columns past the edge are not clamped in vector loads (a vec4 spans four of
//! them): their values feed only accumulators that are never stored.

use super::matmul_sg::Problem;
use crate::gpu::{texel_wgsl, Bind};

/// How the kernel reads A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadA {
    Scalar,
    AlongK,
    AlongM,
}

/// How the kernel reads B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadB {
    Scalar,
    AlongK,
    AlongN,
}

/// The widest reads the strides (in floats) of the oriented problem `s` allow for a tile of
/// `r` rows and `cb` column loads per lane.
/// Every vec4 must start on a multiple of 4 floats, so the other strides must be multiples of 4.
pub(crate) fn choose(r: usize, cb: usize, s: &Problem) -> (ReadA, ReadB) {
    let a = if s.sak == 1 && s.sam.is_multiple_of(4) && s.a_bs.is_multiple_of(4) {
        ReadA::AlongK
    } else if s.sam == 1
        && s.sak.is_multiple_of(4)
        && s.a_bs.is_multiple_of(4)
        && r.is_multiple_of(4)
    {
        ReadA::AlongM
    } else {
        ReadA::Scalar
    };
    let b = if s.sbk == 1 && s.sbn.is_multiple_of(4) && s.b_bs.is_multiple_of(4) {
        ReadB::AlongK
    } else if s.sbn == 1
        && s.sbk.is_multiple_of(4)
        && s.b_bs.is_multiple_of(4)
        && cb.is_multiple_of(4)
    {
        ReadB::AlongN
    } else {
        ReadB::Scalar
    };
    (a, b)
}

/// Where the vector loop reads an operand from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The operand's storage buffer, as an array of vec4.
    Buffer,
    /// A texture holding a copy of the buffer (`gpu::operand_texture`).
    Texture,
}

impl Source {
    /// Where a binding reads from.
    pub(crate) fn of(bind: &Bind) -> Source {
        match bind {
            Bind::Texture(_) => Source::Texture,
            Bind::Buffer(_) => Source::Buffer,
        }
    }
}

/// Declarations of bindings 5 (A) and 6 (B) and their vec4 load functions `ld_a(q)` /
/// `ld_b(q)` (q counts vec4s from the buffer's start).
pub(crate) fn operands(a: Source, b: Source) -> String {
    let mut s = String::new();
    for (binding, name, src) in [(5, "a", a), (6, "b", b)] {
        s += &match src {
            Source::Buffer => format!(
                "@group(0) @binding({binding}) var<storage, read> {name}4: array<vec4<f32>>;\n\
                 fn ld_{name}(q: u32) -> vec4<f32> {{ return {name}4[q]; }}\n"
            ),
            Source::Texture => texel_wgsl(binding, &format!("{name}4"), &format!("ld_{name}")),
        };
    }
    s
}

/// WGSL components of a vec4, in order (also used by the conv kernels' vec4 variants).
pub(super) const LANE: [&str; 4] = ["x", "y", "z", "w"];

/// Body of the vector loop (`kq` counts groups of four k) for SG lanes, `r` rows and `cb`
/// column loads per lane. Empty when neither operand is read as vectors.
pub(crate) fn body(sg: usize, r: usize, cb: usize, ra: ReadA, rb: ReadB) -> String {
    if ra == ReadA::Scalar && rb == ReadB::Scalar {
        return String::new();
    }
    let mut s = String::new();
    let k_at = |t: usize| format!("(kq * 4u + {t}u)");
    // A values: a(i, t) for row i of the lane and k step t.
    match ra {
        ReadA::AlongK => {
            for i in 0..r {
                s += &format!("        let av{i} = ld_a((ar{i} + kq * 4u * p.sak) / 4u);\n");
            }
        }
        ReadA::AlongM => {
            for t in 0..4 {
                s += &format!(
                    "        let am{t} = ld_a((abase + row0 + {} * p.sak) / 4u);\n",
                    k_at(t)
                );
            }
        }
        ReadA::Scalar => {
            for t in 0..4 {
                for i in 0..r {
                    s += &format!("        let as{i}_{t} = a[ar{i} + {} * p.sak];\n", k_at(t));
                }
            }
        }
    }
    let a_val = |i: usize, t: usize| match ra {
        ReadA::AlongK => format!("av{i}.{}", LANE[t]),
        ReadA::AlongM => format!("am{t}.{}", LANE[i]),
        ReadA::Scalar => format!("as{i}_{t}"),
    };
    let fma = |s: &mut String, col: usize, t: usize, b: &str| {
        for i in 0..r {
            *s += &format!(
                "        acc{i}_{col} = fma({}, {b}, acc{i}_{col});\n",
                a_val(i, t)
            );
        }
    };
    match rb {
        ReadB::AlongK => {
            for c in 0..cb {
                s += &format!("        let bv{c} = ld_b((bc{c} + kq * 4u * p.sbk) / 4u);\n");
            }
            for c in 0..cb {
                for l in 0..sg {
                    s += &format!("        let bb{c}_{l} = subgroupBroadcast(bv{c}, {l}u);\n");
                    for (t, lane) in LANE.iter().enumerate() {
                        fma(&mut s, c * sg + l, t, &format!("bb{c}_{l}.{lane}"));
                    }
                }
            }
        }
        ReadB::AlongN => {
            for q in 0..cb / 4 {
                for t in 0..4 {
                    s += &format!(
                        "        let bn{q}_{t} = ld_b((bbase + {} * p.sbk + col0 + {}u * (j + {}u)) / 4u);\n",
                        k_at(t),
                        4,
                        sg * q
                    );
                }
            }
            // Each accumulator takes its four k products in a row: the tile's accumulators
            // live in memory on a CPU adapter, so this loads and stores each once per four FMAs.
            for q in 0..cb / 4 {
                for l in 0..sg {
                    for t in 0..4 {
                        s += &format!(
                            "        let bb{q}_{l}_{t} = subgroupBroadcast(bn{q}_{t}, {l}u);\n"
                        );
                    }
                    for (e, lane) in LANE.iter().enumerate() {
                        for t in 0..4 {
                            fma(
                                &mut s,
                                4 * (l + sg * q) + e,
                                t,
                                &format!("bb{q}_{l}_{t}.{lane}"),
                            );
                        }
                    }
                }
            }
        }
        ReadB::Scalar => {
            for c in 0..cb {
                for t in 0..4 {
                    s += &format!("        let bs{c}_{t} = b[bc{c} + {} * p.sbk];\n", k_at(t));
                }
            }
            for c in 0..cb {
                for l in 0..sg {
                    for t in 0..4 {
                        let b = format!("subgroupBroadcast(bs{c}_{t}, {l}u)");
                        s += &format!("        let bb{c}_{l}_{t} = {b};\n");
                        fma(&mut s, c * sg + l, t, &format!("bb{c}_{l}_{t}"));
                    }
                }
            }
        }
    }
    s
}
