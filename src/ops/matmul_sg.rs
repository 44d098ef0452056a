//! The subgroup-sharing matmul for CPU adapters (`shaders/matmul_sg.wgsl`): kernel source
//! generation for a register tile, tile and orientation choice, and the launch.
//!
//! Measured on lavapipe (2 cores, AVX2, SG = 8) at 512³: 1.9 GFLOP/s for the best
//! register-blocked kernel without sharing, 7.8 GFLOP/s with R = 4, CB = 8. Operands are read
//! as vec4s along their contiguous dimension where the strides allow (`matmul_sg_vec.rs`):
//! the matmuls of an mlp-wgan-gp step 905–927 → 830–850 ms on lavapipe.

use super::linear_act::FusedAct;
use super::matmul_sg_store::{self, Act, Bias, Epilogue, Store};
use super::matmul_sg_vec::{self, ReadA, ReadB, Source};
use super::reduce::MAX_LOOP;
use super::{bytes_of, operand_source};
use crate::error::Result;
use crate::gpu::{Bind, Gpu, Kernel, PooledTexture, Storage};
use crate::kernel;

const MATMUL_SG: Kernel = kernel!("matmul_sg", "matmul_strided.wgsl", "matmul_sg.wgsl");

/// Flags of the kernel's parameter block.
pub(crate) const BIAS_COL: u32 = 1;
const ACCUMULATE: u32 = 2;
const BIAS_ROW: u32 = 4;
/// Apply the activation (`FusedAct::flags`); with `ELU` also set, an ELU.
pub(crate) const ACTIVATE: u32 = 8;
pub(crate) const ELU: u32 = 16;

/// The parameter block of the strided matmul kernels (`matmul_sg.wgsl`, `matmul_tiled.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct StridedParams {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    sam: u32,
    sak: u32,
    sbk: u32,
    sbn: u32,
    scm: u32,
    scn: u32,
    a_bs: u32,
    b_bs: u32,
    c_bs: u32,
    a_off: u32,
    b_off: u32,
    /// K per slice when the tiled kernel splits K (0: no split); unused by matmul_sg.
    pub(crate) kc: u32,
    /// The activation's slope or α.
    alpha: f32,
    pad: [u32; 3],
}

impl StridedParams {
    /// What a store of this dispatch adds to each output (the flags, as a kernel variant).
    fn epilogue(&self) -> Epilogue {
        let bias = if self.flags & BIAS_COL != 0 {
            Bias::Col
        } else if self.flags & BIAS_ROW != 0 {
            Bias::Row
        } else {
            Bias::None
        };
        Epilogue {
            bias,
            accumulate: self.flags & ACCUMULATE != 0,
            act: if self.flags & ACTIVATE == 0 {
                Act::None
            } else if self.flags & ELU != 0 {
                Act::Elu
            } else {
                Act::Leaky
            },
        }
    }

    /// Makes the dispatch apply the activation `act` to the outputs it completes.
    pub(crate) fn activate(&mut self, act: Option<FusedAct>) {
        if let Some(act) = act {
            self.flags |= act.flags();
            self.alpha = act.alpha();
        }
    }
}

/// Rows per lane and B loads per lane: the tile is SG·R × SG·CB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tile {
    r: usize,
    cb: usize,
}

/// Largest first; the big tile keeps 4·64 accumulators per lane (spilled, but a spill is far
/// cheaper than a storage load on these adapters).
const TILES: [Tile; 3] = [
    Tile { r: 4, cb: 8 },
    Tile { r: 2, cb: 4 },
    Tile { r: 1, cb: 2 },
];

/// One operand's view: element (i, k) of the first or (k, j) of the second at
/// `base + i·s_outer + k·s_k` (with `s_outer` the row or column stride).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    pub sam: usize,
    pub sak: usize,
    pub sbk: usize,
    pub sbn: usize,
    pub a_bs: usize,
    pub b_bs: usize,
}

impl Problem {
    /// The problem of computing Cᵀ = op(B)ᵀ·op(A)ᵀ instead: the operands and their strides
    /// exchange roles.
    fn transposed(&self) -> Problem {
        Problem {
            m: self.n,
            n: self.m,
            sam: self.sbn,
            sak: self.sbk,
            sbk: self.sak,
            sbn: self.sam,
            a_bs: self.b_bs,
            b_bs: self.a_bs,
            ..*self
        }
    }
}

/// The parameter blocks of one product, one per K chunk of at most `MAX_LOOP` (so that no
/// invocation loops long enough to trip a driver watchdog), with the chunk's K. `o` is the
/// oriented problem the kernel computes (`pr.transposed()` when `swap`); the first chunk adds
/// the bias, later ones accumulate into C, and the last applies the activation `act`.
pub(crate) fn chunk_params(
    pr: &Problem,
    o: &Problem,
    swap: bool,
    has_bias: bool,
    act: Option<FusedAct>,
) -> Vec<(StridedParams, usize)> {
    let chunks = pr.k.div_ceil(MAX_LOOP).max(1);
    (0..chunks)
        .map(|ci| {
            let k0 = ci * MAX_LOOP;
            let kn = (pr.k - k0).min(MAX_LOOP);
            let mut p = params(pr, o, swap, has_bias, k0..k0 + kn);
            if ci + 1 == chunks {
                p.activate(act);
            }
            (p, kn)
        })
        .collect()
}

/// The parameter block for the k range `ks` of a product (see [`chunk_params`]): the first
/// range adds the bias, later ones accumulate into C.
pub(crate) fn params(
    pr: &Problem,
    o: &Problem,
    swap: bool,
    has_bias: bool,
    ks: std::ops::Range<usize>,
) -> StridedParams {
    let (scm, scn) = if swap { (1, pr.n) } else { (pr.n, 1) };
    let bias_flag = if swap { BIAS_ROW } else { BIAS_COL };
    let mut flags = 0;
    if ks.start == 0 && has_bias {
        flags |= bias_flag;
    }
    if ks.start > 0 {
        flags |= ACCUMULATE;
    }
    StridedParams {
        m: o.m as u32,
        n: o.n as u32,
        k: ks.len() as u32,
        flags,
        sam: o.sam as u32,
        sak: o.sak as u32,
        sbk: o.sbk as u32,
        sbn: o.sbn as u32,
        scm: scm as u32,
        scn: scn as u32,
        a_bs: o.a_bs as u32,
        b_bs: o.b_bs as u32,
        c_bs: (pr.m * pr.n) as u32,
        a_off: (ks.start * o.sak) as u32,
        b_off: (ks.start * o.sbk) as u32,
        kc: 0,
        alpha: 0.0,
        pad: [0; 3],
    }
}

fn generate(
    sg: usize,
    t: Tile,
    (ra, rb): (ReadA, ReadB),
    src: (Source, Source),
    (epi, how): (Epilogue, Store),
) -> Vec<(&'static str, String)> {
    let tn = sg * t.cb;
    let mut decl = String::new();
    for i in 0..t.r {
        decl += &format!("    let ar{i} = abase + min(row0 + {i}u, p.m - 1u) * p.sam;\n");
    }
    for c in 0..t.cb {
        decl += &format!(
            "    let bc{c} = bbase + min(col0 + {}u + j, p.n - 1u) * p.sbn;\n",
            c * sg
        );
    }
    for i in 0..t.r {
        for col in 0..tn {
            decl += &format!("    var acc{i}_{col} = 0.0;\n");
        }
    }
    let mut load = String::new();
    for i in 0..t.r {
        load += &format!("        let a{i} = a[ar{i} + kk * p.sak];\n");
    }
    for c in 0..t.cb {
        load += &format!("        let bl{c} = b[bc{c} + kk * p.sbk];\n");
    }
    let mut body = String::new();
    for c in 0..t.cb {
        for l in 0..sg {
            let col = c * sg + l;
            body += &format!("        let bv{col} = subgroupBroadcast(bl{c}, {l}u);\n");
            for i in 0..t.r {
                body += &format!("        acc{i}_{col} = fma(a{i}, bv{col}, acc{i}_{col});\n");
            }
        }
    }
    let (epilogue, store) = matmul_sg_store::generate(epi, how, t.r, tn);
    let vbody = matmul_sg_vec::body(sg, t.r, t.cb, ra, rb);
    let k4 = if vbody.is_empty() { "0u" } else { "p.k / 4u" };
    vec![
        ("OPERANDS", matmul_sg_vec::operands(src.0, src.1)),
        ("K4", k4.to_string()),
        ("VBODY", vbody),
        ("SG", sg.to_string()),
        ("R", t.r.to_string()),
        ("TM", (sg * t.r).to_string()),
        ("TN", tn.to_string()),
        ("DECL", decl),
        ("LOAD", load),
        ("BODY", body),
        ("EPILOGUE", epilogue),
        ("STORE", store),
    ]
}

/// Binds the texture copy of an operand where there is one, else its buffer.
pub(super) fn bind<'a>(t: &'a Option<PooledTexture>, s: &'a Storage) -> Bind<'a> {
    match t {
        Some(v) => Bind::Texture(v.view()),
        None => Bind::Buffer(s),
    }
}

/// Fraction of a tiling's computed elements that are real outputs.
fn efficiency(m: usize, n: usize, tm: usize, tn: usize) -> f64 {
    (m * n) as f64 / (m.div_ceil(tm) * tm * n.div_ceil(tn) * tn) as f64
}

/// Launches C = act(op(A)·op(B) (+ bias over columns)) into `c` (`[batch, m, n]`,
/// row-major), with act a leaky ReLU or an ELU where given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn launch(
    gpu: &Gpu,
    sg: usize,
    pr: &Problem,
    a: &Storage,
    b: &Storage,
    c: &Storage,
    bias: Option<&Storage>,
    act: Option<FusedAct>,
) -> Result<()> {
    // Choose the tile and whether to compute Cᵀ instead (when that wastes less of the tile).
    let mut best: Option<(Tile, bool, f64)> = None;
    for t in TILES {
        let (tm, tn) = (sg * t.r, sg * t.cb);
        for swap in [false, true] {
            let (mm, nn) = if swap { (pr.n, pr.m) } else { (pr.m, pr.n) };
            let tiles = mm.div_ceil(tm) * nn.div_ceil(tn) * pr.batch;
            let e = efficiency(mm, nn, tm, tn);
            // Prefer big tiles, but not at the cost of idle cores or mostly-wasted tiles.
            let score = e * if tiles >= 4 { 1.0 } else { 0.5 } * (1.0 + 0.25 * t.r as f64);
            if best.is_none_or(|(_, _, s)| score > s) {
                best = Some((t, swap, score));
            }
        }
    }
    let (tile, swap, _) = best.expect("at least one tile");
    // The oriented problem the kernel computes, and where its C(m, n) lands in the result.
    let o = if swap { pr.transposed() } else { *pr };
    let (m, n) = (o.m, o.n);
    let (first, second) = if swap { (b, a) } else { (a, b) };
    let (ra, rb) = matmul_sg_vec::choose(tile.r, tile.cb, &o);
    let groups = [n.div_ceil(sg * tile.cb), m.div_ceil(sg * tile.r), pr.batch];
    if groups.iter().any(|&g| g > 65535) {
        return Err(crate::Error::shape(
            "matmul",
            format!(
                "product of {m}×{n} (batch {}) is too large for one dispatch",
                pr.batch
            ),
        ));
    }
    let fmas = pr.batch * pr.m * pr.n * pr.k;
    let (ta_wanted, tb_wanted) = operand_source::textures(gpu, fmas, m, n);
    let ta = if ta_wanted && ra != ReadA::Scalar {
        gpu.operand_texture(first)
    } else {
        None
    };
    let tb = if tb_wanted && rb != ReadB::Scalar {
        gpu.operand_texture(second)
    } else {
        None
    };
    let src = (
        Source::of(&bind(&ta, first)),
        Source::of(&bind(&tb, second)),
    );
    let chunks = chunk_params(pr, &o, swap, bias.is_some(), act);
    let p0 = &chunks[0].0;
    let how = matmul_sg_store::choose(
        tile.r,
        m,
        n,
        p0.scm as usize,
        p0.scn as usize,
        p0.c_bs as usize,
    );
    // Every variant compiled before any is recorded, so that a failure records nothing.
    let mut launches = Vec::with_capacity(chunks.len());
    for (p, kn) in chunks {
        let epi = p.epilogue();
        let key = format!(
            "matmul_sg|SG={sg}|R={}|CB={}|A={ra:?}|B={rb:?}|SA={:?}|SB={:?}|E={}|S={how:?}",
            tile.r,
            tile.cb,
            src.0,
            src.1,
            epi.key()
        );
        let make = || {
            let defs = generate(sg, tile, (ra, rb), src, (epi, how));
            let refs: Vec<(&str, &str)> = defs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            crate::gpu::render(MATMUL_SG.source, &refs)
        };
        launches.push((gpu.generated(&key, make)?, p, kn));
    }
    let bias = bias.unwrap_or(first);
    let mut binds = vec![
        Bind::Buffer(first),
        Bind::Buffer(second),
        Bind::Buffer(c),
        Bind::Buffer(bias),
        bind(&ta, first),
        bind(&tb, second),
    ];
    if how != Store::Scalar {
        // Bindings 7 and 8: vec4 views of C and the bias (matmul_sg_store.rs).
        binds.extend([Bind::Buffer(c), Bind::Buffer(bias)]);
    }
    let groups = groups.map(|g| g as u32);
    for (compiled, p, kn) in launches {
        gpu.note_flops(2.0 * (pr.batch * m * n * kn) as f64);
        gpu.launch_bound(&compiled, bytes_of(&p), &binds, groups)?;
    }
    Ok(())
}
