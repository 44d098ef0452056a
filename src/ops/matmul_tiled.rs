//! The shared-memory tiled matmul for GPUs (`shaders/matmul_tiled.wgsl`): tile choice and
//! launch. The parameter block is that of the strided CPU kernel (`matmul_sg.rs`).
//!
//! When the output tiles are few and K is long, K is split into slices computed by separate
//! workgroups and summed afterwards.
//!
//! The tile is chosen by the size of the problem: the largest of `TILES` that still gives
//! enough workgroups to occupy a large GPU, else the smallest. `TAPEGAN_MATMUL_TILE=BMxBNxBK/TMxTN`
//! forces one (for tuning; every field a power of two, BM·BK and BN·BK multiples of the
//! workgroup size).

use std::sync::OnceLock;

use super::linear_act::FusedAct;
use super::matmul_sg::{params, Problem};
use super::reduce::MAX_LOOP;
use super::{bytes_of, env_override};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Kernel, Storage};
use crate::kernel;
use crate::tensor::{DType, Tensor};

const MATMUL_TILED: Kernel = kernel!("matmul_tiled", "matmul_strided.wgsl", "matmul_tiled.wgsl");

/// A workgroup computes bm×bn of C in steps of bk; each invocation a tm×tn block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tile {
    bm: usize,
    bn: usize,
    bk: usize,
    tm: usize,
    tn: usize,
}

impl Tile {
    fn invocations(&self) -> usize {
        (self.bm / self.tm) * (self.bn / self.tn)
    }

    /// Valid when the shader's copy loop covers the slices exactly and the blocks are whole
    /// vec4s.
    fn valid(&self) -> bool {
        let pow2 = [self.bm, self.bn, self.bk, self.tm, self.tn]
            .iter()
            .all(|v| v.is_power_of_two());
        // Sizes first: the invocation count divides by tm and tn.
        // At most 16 × 16 outputs per invocation: the kernel unrolls tm·tn accumulators, and
        // larger blocks take shader compilers minutes and gigabytes.
        if !(pow2
            && self.tm >= 4
            && self.tn >= 4
            && self.tm * self.tn <= 256
            && self.tm <= self.bm
            && self.tn <= self.bn)
        {
            return false;
        }
        let wg = self.invocations();
        (32..=256).contains(&wg)
            && (self.bm * self.bk).is_multiple_of(wg)
            && (self.bn * self.bk).is_multiple_of(wg)
    }

    /// Parses `BMxBNxBK/TMxTN`.
    fn parse(s: &str) -> Option<Tile> {
        let (block, thread) = s.split_once('/')?;
        let n: Vec<usize> = block
            .split('x')
            .chain(thread.split('x'))
            .map(|v| v.trim().parse().ok())
            .collect::<Option<_>>()?;
        let [bm, bn, bk, tm, tn] = n[..] else {
            return None;
        };
        let t = Tile { bm, bn, bk, tm, tn };
        t.valid().then_some(t)
    }
}

/// Largest first: 128×128 with 8×8 per invocation (64 accumulators, 256 invocations) for
/// large products, smaller tiles so that small products still spread over the GPU.
const TILES: [Tile; 3] = [
    Tile {
        bm: 128,
        bn: 128,
        bk: 8,
        tm: 8,
        tn: 8,
    },
    Tile {
        bm: 64,
        bn: 64,
        bk: 16,
        tm: 4,
        tn: 4,
    },
    Tile {
        bm: 32,
        bn: 32,
        bk: 16,
        tm: 4,
        tn: 4,
    },
];

/// Workgroups a tile must produce before a larger tile is preferred over a smaller one: about
/// one per multiprocessor of a large GPU.
const ENOUGH_WORKGROUPS: usize = 128;

/// Errors when `TAPEGAN_MATMUL_TILE` is set to something that is not a tile, or to one that
/// needs more than `workgroup_bytes` of workgroup memory.
pub(crate) fn check_forced_tile(workgroup_bytes: u32) -> Result<()> {
    match forced_tile()? {
        Some(t) => fits_workgroup_memory(&t, workgroup_bytes),
        None => Ok(()),
    }
}

/// Whether tile `t`'s staging buffers fit `limit` bytes of workgroup memory.
fn fits_workgroup_memory(t: &Tile, limit: u32) -> Result<()> {
    let bytes = 16 * t.bk * (t.bm / 4 + 1 + t.bn / 4 + 1);
    if bytes > limit as usize {
        return Err(Error::Config(format!(
            "TAPEGAN_MATMUL_TILE: the tile needs {bytes} bytes of workgroup memory, this \
             adapter has {limit}; use a smaller BM, BN or BK"
        )));
    }
    Ok(())
}

fn forced_tile() -> Result<Option<Tile>> {
    static OVERRIDE: OnceLock<Option<String>> = OnceLock::new();
    match env_override(&OVERRIDE, "TAPEGAN_MATMUL_TILE") {
        None => Ok(None),
        Some(s) => Tile::parse(s).map(Some).ok_or_else(|| {
            Error::Config(format!(
                "TAPEGAN_MATMUL_TILE={s} is not a valid tile: use BMxBNxBK/TMxTN, e.g. \
                 128x128x8/8x8 (powers of two, 32–256 invocations, TM·TN ≤ 256)"
            ))
        }),
    }
}

/// Outputs (m·n·batch) from which the tiled kernel beats the register-blocked one on a GPU
/// without splitting K (H100: 1024² 0.157 vs 0.250 ms; 300×784 with K = 128 0.045 vs
/// 0.035 ms).
const LARGE_OUTPUT: usize = 1 << 18;

/// Whether this kernel should run `pr` on a GPU rather than the register-blocked one: a large
/// output, or few output tiles over a long K, which only this kernel splits (H100: 300×128
/// with K = 784 0.073 vs 0.169 ms).
pub(crate) fn pays_off(pr: &Problem) -> bool {
    pr.m * pr.n * pr.batch >= LARGE_OUTPUT || split_k(pr, &choose(pr)).1 > 1
}

/// K from which slices, not smaller tiles, fill the GPU: a convolution's weight gradient sums
/// over images × pixels (16,384 and more in dcgan-64) into a few hundred thousand outputs.
const LONG_K: usize = 8192;

/// Whether `pr` fits one dispatch grid of this kernel (every dimension ≤ 65,535 workgroups).
pub(crate) fn fits_grid(pr: &Problem) -> bool {
    let t = choose(pr);
    let slices = split_k(pr, &t).1;
    [pr.n.div_ceil(t.bn), pr.m.div_ceil(t.bm), pr.batch * slices]
        .iter()
        .all(|&g| g <= 65535)
}

fn choose(pr: &Problem) -> Tile {
    let slices = if pr.k >= LONG_K { pr.k / MIN_SLICE } else { 1 };
    let groups = |t: &Tile| pr.m.div_ceil(t.bm) * pr.n.div_ceil(t.bn) * pr.batch * slices;
    TILES
        .iter()
        .find(|t| groups(t) >= ENOUGH_WORKGROUPS)
        .copied()
        .unwrap_or(TILES[TILES.len() - 1])
}

/// The unrolled parts of the kernel for tile `t`: copied elements and accumulators as named
/// variables (see the shader's header for why).
fn generate(t: &Tile) -> [(&'static str, String); 5] {
    let wg = t.invocations();
    let (la, lb, tn4) = (t.bm * t.bk / wg, t.bn * t.bk / wg, t.tn / 4);
    let (mut decl, mut stage, mut load, mut fma, mut store) = Default::default();
    let text = |s: &mut String, line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    // The tile's first row of A and first column of B, to bound-check the copied elements.
    for (op, l, origin) in [("a", la, "m0"), ("b", lb, "n0")] {
        let (len, lim, idx) = if op == "a" {
            (
                "AROW",
                "p.m",
                "load_a(abase, m0 + qa{e}.x, k_lo + k0 + qa{e}.y)",
            )
        } else {
            (
                "BROW",
                "p.n",
                "load_b(bbase, k_lo + k0 + qb{e}.y, n0 + qb{e}.x)",
            )
        };
        let shared = if op == "a" { "As" } else { "Bs" };
        for e in 0..l {
            let q = format!("q{op}{e}");
            text(&mut decl, format!("    var r{op}{e} = 0.0;"));
            text(&mut decl, format!("    let {q} = {op}_slot(t, {e}u);"));
            text(
                &mut stage,
                format!("            {shared}[{q}.y * {len} + {q}.x / 4u][{q}.x % 4u] = r{op}{e};"),
            );
            let at = idx.replace("{e}", &e.to_string());
            text(
                &mut load,
                format!(
                    "            r{op}{e} = 0.0;\n            if ({origin} + {q}.x < {lim} && k0 + {q}.y < kn) {{ r{op}{e} = {at}; }}"
                ),
            );
        }
    }
    for i in 0..t.tm {
        for j in 0..tn4 {
            text(&mut decl, format!("    var acc{i}_{j} = vec4<f32>(0.0);"));
        }
    }
    for i4 in 0..t.tm / 4 {
        text(
            &mut fma,
            format!("                let av{i4} = As[kk * AROW + ty + {i4}u * TY];"),
        );
    }
    for j in 0..tn4 {
        text(
            &mut fma,
            format!("                let bv{j} = Bs[kk * BROW + tx + {j}u * TX];"),
        );
    }
    for i in 0..t.tm {
        let c = ["x", "y", "z", "w"][i % 4];
        for j in 0..tn4 {
            text(
                &mut fma,
                format!(
                    "                acc{i}_{j} = fma(vec4<f32>(av{}.{c}), bv{j}, acc{i}_{j});",
                    i / 4
                ),
            );
        }
    }
    for i in 0..t.tm {
        text(
            &mut store,
            format!(
                "    let row{i} = m0 + (ty + {}u * TY) * 4u + {}u;",
                i / 4,
                i % 4
            ),
        );
        for j in 0..tn4 {
            text(
                &mut store,
                format!("    let col{i}_{j} = n0 + (tx + {j}u * TX) * 4u;"),
            );
            for (ci, c) in ["x", "y", "z", "w"].iter().enumerate() {
                text(
                    &mut store,
                    format!("    store(wid.z, first, row{i}, col{i}_{j} + {ci}u, acc{i}_{j}.{c});"),
                );
            }
        }
    }
    [
        ("DECL", decl),
        ("STAGE", stage),
        ("LOAD", load),
        ("FMA", fma),
        ("STORE", store),
    ]
}

/// Shortest k slice worth its own workgroup when K is split.
const MIN_SLICE: usize = 256;

/// K per slice and the number of slices: more than one when the output tiles alone leave the
/// GPU mostly idle and K is long (a dense layer's weight gradient, a convolution's weight
/// gradient), and always when K exceeds `MAX_LOOP` (slices, not dispatch chunks, so that the
/// generated addressing of a convolution sees every k and no invocation loops too long).
fn split_k(pr: &Problem, t: &Tile) -> (usize, usize) {
    let groups = (pr.m.div_ceil(t.bm) * pr.n.div_ceil(t.bn) * pr.batch).max(1);
    if pr.k > MAX_LOOP {
        let kc = MAX_LOOP.min(pr.k.div_ceil(ENOUGH_WORKGROUPS.div_ceil(groups)));
        let kc = kc.next_multiple_of(t.bk).min(MAX_LOOP);
        return (kc, pr.k.div_ceil(kc));
    }
    if groups >= ENOUGH_WORKGROUPS || pr.k < 2 * MIN_SLICE {
        return (pr.k, 1);
    }
    let want = ENOUGH_WORKGROUPS.div_ceil(groups).min(pr.k / MIN_SLICE);
    let kc = pr.k.div_ceil(want).next_multiple_of(t.bk).min(MAX_LOOP);
    (kc, pr.k.div_ceil(kc))
}

/// C = act(op(A)·op(B) (+ bias over columns)), act a leaky ReLU or an ELU where given: a new
/// tensor of `shape` (`[batch, m, n]` or `[m, n]`, row-major).
pub(crate) fn run(
    gpu: &Gpu,
    pr: &Problem,
    a: &Storage,
    b: &Storage,
    bias: Option<&Storage>,
    shape: &[usize],
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let strided = || {
        [
            "    return a[base + row * p.sam + k * p.sak];".to_string(),
            "    return b[base + k * p.sbk + col * p.sbn];".to_string(),
            "    return z * p.c_bs + row * p.scm + col * p.scn;".to_string(),
        ]
    };
    let addr = Addressing {
        a_kfast: pr.sak == 1,
        b_nfast: pr.sbn == 1,
        key: String::new(),
        bodies: &strided,
        flops: None,
    };
    run_addressed(gpu, pr, &addr, a, b, bias, shape, act)
}

/// How the kernel reads A and B and places C: which index of each operand is contiguous, a
/// pipeline-key suffix naming the addressing, and the WGSL bodies of `load_a(base, row, k)`,
/// `load_b(base, k, col)` and `c_at(z, row, col)` — generated only when the pipeline is built.
/// Everything the bodies bake in as constants must be in the key. `flops`: the nominal FLOPs
/// for profiles when some of the product's terms are padding (else 2·m·n·k·batch).
pub(crate) struct Addressing<'a> {
    pub a_kfast: bool,
    pub b_nfast: bool,
    pub key: String,
    pub bodies: &'a dyn Fn() -> [String; 3],
    pub flops: Option<f64>,
}

/// The tile for `pr`: the forced one (checked against the adapter's workgroup memory) or the
/// size-based choice.
fn tile_for(gpu: &Gpu, pr: &Problem) -> Result<Tile> {
    let Some(t) = forced_tile()? else {
        return Ok(choose(pr));
    };
    fits_workgroup_memory(&t, gpu.adapter().max_workgroup_storage)?;
    Ok(t)
}

/// The kernel source for tile `t` and addressing `addr` (built on a pipeline-cache miss).
fn source(t: &Tile, addr: &Addressing) -> String {
    let [load_a, load_b, c_at] = (addr.bodies)();
    let mut defs = vec![
        ("BM", t.bm.to_string()),
        ("BN", t.bn.to_string()),
        ("BK", t.bk.to_string()),
        ("TM", t.tm.to_string()),
        ("TN", t.tn.to_string()),
        ("WG", t.invocations().to_string()),
        ("AS_LEN", (t.bk * (t.bm / 4 + 1)).to_string()),
        ("BS_LEN", (t.bk * (t.bn / 4 + 1)).to_string()),
        ("A_KFAST", addr.a_kfast.to_string()),
        ("B_NFAST", addr.b_nfast.to_string()),
        ("LOAD_A", load_a),
        ("LOAD_B", load_b),
        ("C_AT", c_at),
    ];
    defs.extend(generate(t));
    let refs: Vec<(&str, &str)> = defs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::gpu::render(MATMUL_TILED.source, &refs)
}

/// `run` with A, B and C addressed by `addr` (an implicit-GEMM convolution).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_addressed(
    gpu: &Gpu,
    pr: &Problem,
    addr: &Addressing,
    a: &Storage,
    b: &Storage,
    bias: Option<&Storage>,
    shape: &[usize],
    act: Option<FusedAct>,
) -> Result<Tensor> {
    let t = tile_for(gpu, pr)?;
    let key = format!(
        "matmul_tiled|{}x{}x{}/{}x{}|A_KFAST={}|B_NFAST={}{}",
        t.bm, t.bn, t.bk, t.tm, t.tn, addr.a_kfast, addr.b_nfast, addr.key
    );
    let (kc, slices) = split_k(pr, &t);
    let groups = [pr.n.div_ceil(t.bn), pr.m.div_ceil(t.bm), pr.batch * slices];
    if groups.iter().any(|&g| g > 65535) {
        return Err(Error::shape(
            "matmul",
            format!(
                "product of {}×{} (batch {}) is too large for one dispatch",
                pr.m, pr.n, pr.batch
            ),
        ));
    }
    let groups = groups.map(|g| g as u32);
    // The output's size: batch·m·n, or less where c_at leaves elements out.
    let c: usize = shape.iter().product();
    // One parameter block for the whole K: split_k slices any K over MAX_LOOP.
    let mut p = params(pr, pr, false, bias.is_some(), 0..pr.k);
    p.kc = if slices > 1 { kc as u32 } else { 0 };
    // A split product is complete only after its slices are summed.
    if slices == 1 {
        p.activate(act);
    }
    // A split product writes one partial C per slice, summed afterwards.
    let target = Tensor::empty(gpu, &[slices * c], DType::F32, "matmul")?;
    debug_assert!(
        c <= pr.batch * pr.m * pr.n,
        "c_at places no more than the product"
    );
    gpu.note_flops(addr.flops.unwrap_or(2.0 * c as f64 * pr.k as f64));
    let buffers = [a, b, target.storage(), bias.unwrap_or(a)];
    gpu.launch_generated(&key, || source(&t, addr), bytes_of(&p), &buffers, groups)?;
    let out = if slices > 1 {
        let sum = super::reduce::sum_leading_raw(&target, slices, c)?;
        match act {
            Some(f) => f.apply_raw(&sum)?,
            None => sum,
        }
    } else {
        target
    };
    Ok(out.alias(shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_tiles_are_valid() {
        assert!(TILES.iter().all(Tile::valid));
    }

    #[test]
    fn tile_override_parses_and_rejects() {
        assert_eq!(Tile::parse("128x128x8/8x8"), Some(TILES[0]));
        assert_eq!(Tile::parse("64x64x16/4x4"), Some(TILES[1]));
        assert_eq!(Tile::parse("64x64x16/4"), None);
        assert_eq!(Tile::parse("48x64x16/4x4"), None);
        assert_eq!(Tile::parse("128x128x8/2x2"), None); // 4096 invocations, and tm < 4
        assert_eq!(Tile::parse("0x0x0/0x0"), None);
        assert_eq!(Tile::parse("128x128x8/0x8"), None);
    }
}
