//! Subgroup load sharing for the convolution kernels on CPU adapters (lavapipe, llvmpipe):
//! tile choice and the code generation shared by the three kernels, and the gather kernel
//! (`shaders/conv_sg.wgsl`: conv2d and conv_transpose2d). The weight gradient's kernels are
//! in `conv_sg_wgrad.rs`; `conv_launch.rs` decides which kernel runs.
//!
//! Why: on a CPU adapter every storage-buffer load is a scalar loop over the SIMD lanes (tens
//! of cycles per element), so these kernels are bound by loaded elements per lane. Each is an
//! implicit GEMM; a workgroup is one subgroup and computes an SG·R × SG·CB tile: per
//! reduction step lane j loads R elements of one edge (its "own" rows) and CB of the other
//! ("shared" columns), and takes the other lanes' shared elements by `subgroupBroadcast` (a
//! register shuffle), so R + CB loads feed SG·R·CB FMAs. Every element of the tile's edges is
//! loaded once per step, so only a larger tile loads less per FMA.
//!
//! Measured on lavapipe (2 cores, AVX2, SG = 8), Conv(128→256, k4 s2) at batch 64, CPU time
//! per call: 1770 ms register-blocked (32×16 per invocation), 1000 ms shared with a 32 × 64
//! tile, of which ~650 ms are the loads (replacing them by arithmetic left 320 ms).
//! Not helpful there: two reduction steps per iteration (so a spilled accumulator is loaded
//! and stored once per two FMAs): same time; accumulators in an array: 4× slower.

use super::conv_family::forced_vec4;
use super::matmul_sg_vec::{operands, Source};
use super::reduce::MAX_LOOP;
use crate::error::Result;
use crate::gpu::{Bind, Gpu};

/// Rows per lane (own side) and loads per lane of the shared side: the tile is SG·R × SG·CB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tile {
    pub r: usize,
    pub cb: usize,
}

/// Candidate tiles, best first. 8×8 keeps 512 accumulators per lane (spilled, but a spill is
/// far cheaper than a storage load here) and compiles in ~5 s on lavapipe; 8×16 compiled for
/// 25 s and ran no faster (Conv(128→256): 770 CPU ms at 8×8, 840 at 8×16, 1000 at 8×4). The
/// narrow ones serve dimensions of 8–32 without wasting most of a tile.
pub(super) const TILES: [Tile; 7] = [
    Tile { r: 8, cb: 8 },
    Tile { r: 8, cb: 4 },
    Tile { r: 4, cb: 8 },
    Tile { r: 8, cb: 2 },
    Tile { r: 2, cb: 8 },
    Tile { r: 8, cb: 1 },
    Tile { r: 1, cb: 8 },
];

/// Candidate tiles of the vec4 variant, whose reduction step is four channels (four times
/// the FMAs per iteration): 4×4 has as many per iteration as the scalar 8×8. Measured on
/// lavapipe (AVX-512, `cargo bench --bench conv`), dcgan-64 ConvT(512→256) forward: 4×4
/// 74.9 ms, 4×3 88.3, 8×2 84.6, 2×8 81.5, 2×4 93.6, 8×4 119.6, 4×8 121.0, 8×8 107.6 (the
/// scalar kernel: 94.7).
const TILES_VEC4: [Tile; 5] = [
    Tile { r: 4, cb: 4 },
    Tile { r: 4, cb: 2 },
    Tile { r: 2, cb: 4 },
    Tile { r: 4, cb: 1 },
    Tile { r: 1, cb: 4 },
];

/// FMAs of a call from which the vec4 variants (channels-last copies, four channels per
/// load) run. Measured on lavapipe (AVX-512, `cargo bench --bench conv`, both variants, ms
/// per call): they win on dcgan-64's layers (2–4·10^9 FMAs each; ConvT(512→256) forward
/// 94.7 → 67.4, Conv(64→128) 82.1 → 73.4, weight gradients 66–91 → 57–73) and lose on
/// dcgan-28's (≤ 1.3·10^8; ConvT(128→64) forward 3.2 → 3.6, Conv(64→128) 2.4 → 2.8), where
/// the copies and the smaller tile weigh more than the loads saved.
const VEC4_MIN_FMAS: usize = 1 << 29;

/// Whether a convolution kernel of `fmas` FMAs over `channels` (all the channel counts its
/// vec4 loads run along) reads channels-last copies four channels per load: by size, unless
/// `TAPEGAN_CONV_BLOCKS=vec4|scalar` says (`conv_family::forced_vec4`).
pub(super) fn vec4_pays(fmas: usize, channels: &[usize]) -> bool {
    let wanted = forced_vec4().unwrap_or(fmas >= VEC4_MIN_FMAS);
    wanted && channels.iter().all(|c| c.is_multiple_of(4))
}

/// Workgroups below which a tiling is penalised (the adapter's threads would idle).
const MIN_TILES: usize = 4;

/// How well `t` suits an `m` × `n` GEMM repeated `batch` times with the own side along `m`:
/// useful FMAs per loaded element, halved when it leaves cores idle.
fn score(sg: usize, t: Tile, m: usize, n: usize, batch: usize) -> f64 {
    let (to, ts) = (sg * t.r, sg * t.cb);
    let tiles = m.div_ceil(to) * n.div_ceil(ts) * batch;
    let used = (m * n) as f64 / (m.div_ceil(to) * to * n.div_ceil(ts) * ts) as f64;
    let per_load = (sg * t.r * t.cb) as f64 / (t.r + t.cb) as f64;
    used * per_load * if tiles >= MIN_TILES { 1.0 } else { 0.5 }
}

/// The best tile for an `m` × `n` GEMM repeated `batch` times, whether its own side (rows) is
/// along `m` (else `n`), and its score; `None` when a dimension is narrower than a subgroup,
/// where sharing has nothing to share and the register-blocked kernels do better.
pub(super) fn choose(
    sg: usize,
    tiles: &[Tile],
    m: usize,
    n: usize,
    batch: usize,
) -> Option<(Tile, bool, f64)> {
    if m < sg || n < sg {
        return None;
    }
    let mut best: Option<(Tile, bool, f64)> = None;
    for &t in tiles {
        for own_m in [true, false] {
            let s = if own_m {
                score(sg, t, m, n, batch)
            } else {
                score(sg, t, n, m, batch)
            };
            if best.is_none_or(|(_, _, b)| s > b) {
                best = Some((t, own_m, s));
            }
        }
    }
    best
}

/// Generated code common to the three kernels, for subgroup size `sg` and tile `t`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gen {
    pub sg: usize,
    pub t: Tile,
}

impl Gen {
    /// Tile rows (own side) and columns (shared side).
    pub fn dims(&self) -> (usize, usize) {
        (self.sg * self.t.r, self.sg * self.t.cb)
    }

    /// Index within the tile of lane j's own element i (`j·R + i`), as WGSL.
    pub fn own(&self, i: usize) -> String {
        format!("j * {}u + {i}u", self.t.r)
    }

    /// Index within the tile of lane j's shared element c (column `c·SG + j`), as WGSL.
    pub fn shared(&self, c: usize) -> String {
        format!("{}u + j", c * self.sg)
    }

    /// Declarations of the accumulators `acc{i}_{col}` (own row i, tile column col).
    pub fn acc_decl(&self) -> String {
        let mut s = String::new();
        for i in 0..self.t.r {
            for col in 0..self.sg * self.t.cb {
                s += &format!("    var acc{i}_{col} = 0.0;\n");
            }
        }
        s
    }

    /// One reduction step: the shared loads `bl{c}` broadcast from every lane l to column
    /// c·SG + l, each multiplied into the own values `a{i}`.
    pub fn body(&self, indent: &str) -> String {
        let mut s = String::new();
        for c in 0..self.t.cb {
            for l in 0..self.sg {
                let col = c * self.sg + l;
                s += &format!("{indent}let bv{col} = subgroupBroadcast(bl{c}, {l}u);\n");
                for i in 0..self.t.r {
                    s += &format!("{indent}acc{i}_{col} = fma(a{i}, bv{col}, acc{i}_{col});\n");
                }
            }
        }
        s
    }

    /// `let {name}{col} = subgroupBroadcast({value(c)}, l)` for every tile column: a per-column
    /// quantity each lane computed for its shared elements, made known to all lanes.
    pub fn broadcast_columns(&self, name: &str, value: impl Fn(usize) -> String) -> String {
        let mut s = String::new();
        for c in 0..self.t.cb {
            s += &format!("    let {name}_own{c} = {};\n", value(c));
        }
        for c in 0..self.t.cb {
            for l in 0..self.sg {
                s += &format!(
                    "    let {name}{} = subgroupBroadcast({name}_own{c}, {l}u);\n",
                    c * self.sg + l
                );
            }
        }
        s
    }

    /// The kernel key's tile part.
    pub fn key(&self) -> String {
        format!("SG={}|R={}|CB={}", self.sg, self.t.r, self.t.cb)
    }
}

/// Fills `template` (with `prefix` in front) from generated `defs`.
pub(super) fn render(prefix: &str, template: &str, defs: &[(&str, String)]) -> String {
    let refs: Vec<(&str, &str)> = defs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::gpu::render(&format!("{prefix}{template}"), &refs)
}

/// The gather kernel's parameters and geometry (shared with conv2d.wgsl) and its template.
const GEOM_SRC: &str = include_str!("../../shaders/conv2d_geom.wgsl");
const GATHER_SRC: &str = include_str!("../../shaders/conv_sg.wgsl");

/// A gather-kernel variant: the tile, which side the lanes own, and how operands are read.
#[derive(Clone, Copy, Debug)]
pub(super) struct GatherPlan {
    g: Gen,
    /// Lanes own pixels (and share channels), else own channels (and share pixels).
    own_px: bool,
    /// Source and weight come channels last and are read four input channels per load
    /// (`vec4_operands`), else in their own layouts one channel per load.
    vec4: bool,
}

/// WGSL components of a vec4, in order.
const LANES: [&str; 4] = ["x", "y", "z", "w"];

impl GatherPlan {
    /// The plan for `cd` output channels × `npix` pixels in each of `phases`, if sharing pays;
    /// with `vec4`, for operands copied channels last (see [`GatherPlan::vec4_operands`]).
    pub fn new(sg: usize, cd: usize, npix: usize, phases: usize, vec4: bool) -> Option<Self> {
        let tiles: &[Tile] = if vec4 { &TILES_VEC4 } else { &TILES };
        let (t, own_ch, _) = choose(sg, tiles, cd, npix, phases)?;
        Some(GatherPlan {
            g: Gen { sg, t },
            own_px: !own_ch,
            vec4,
        })
    }

    /// Whether this plan reads channels-last copies of the operands four channels at a time:
    /// a vec4 load costs lavapipe about what a scalar one does, so this loads a quarter as
    /// many elements per FMA. It needs the input channels in multiples of four.
    pub fn vec4_operands(&self) -> bool {
        self.vec4
    }

    /// (pixels, channels) per tile.
    pub fn tile_dims(&self) -> (usize, usize) {
        let (own, shared) = self.g.dims();
        if self.own_px {
            (own, shared)
        } else {
            (shared, own)
        }
    }

    /// Input channels per dispatch for `taps` taps: an invocation loops about
    /// taps·(channels + 1) times, kept within lavapipe's loop budget.
    pub fn channel_chunk(&self, taps: usize) -> usize {
        let steps = (MAX_LOOP / taps.max(1)).saturating_sub(1).max(1);
        if self.vec4 {
            4 * steps
        } else {
            steps
        }
    }

    /// The kernel's WGSL; `reads` says where the vec4 variant reads the source and the weight.
    fn source(&self, accum: bool, reads: (Source, Source)) -> String {
        let g = self.g;
        let (tp, tc) = self.tile_dims();
        // (load name, index in the tile) of each own and each shared element.
        let own = (0..g.t.r).map(|i| (format!("a{i}"), g.own(i)));
        let shared = (0..g.t.cb).map(|c| (format!("bl{c}"), g.shared(c)));
        let (pixels, channels): (Vec<_>, Vec<_>) = if self.own_px {
            (own.collect(), shared.collect())
        } else {
            (shared.collect(), own.collect())
        };
        let (mut decl, mut tap, mut load) = (String::new(), String::new(), String::new());
        // Scalar reads load `name` itself; vec4 reads load `name4`, whose components feed the
        // body once each (below).
        let (tap_fn, v, src_ld, src_step, wt_ld, w_co) = if self.vec4 {
            let w_co = "(p.kh * p.kw * p.cs / 4u)";
            (
                "tap_cl",
                "4",
                "select(vec4<f32>(0.0), ld_a(xa{k}), ok{k})",
                "1u",
                "ld_b",
                w_co,
            )
        } else {
            (
                "tap",
                "",
                "select(0.0, src[xa{k}], ok{k})",
                "simg",
                "wt",
                "p.w_co",
            )
        };
        for (k, (name, idx)) in pixels.iter().enumerate() {
            decl += &format!("    let px{k} = pixel(pix0 + {idx}, f);\n");
            tap += &format!(
                "            let t{k} = {tap_fn}(px{k}, dir * i32(ty), dir * i32(tx));\n            \
                 let ok{k} = t{k} != 0xffffffffu;\n            \
                 var xa{k} = select(0u, t{k}, ok{k});\n            \
                 any_ok = any_ok || ok{k};\n"
            );
            let ld = src_ld.replace("{k}", &k.to_string());
            load += &format!(
                "                let {name}{v} = {ld};\n                xa{k} += {src_step};\n"
            );
        }
        for (k, (name, idx)) in channels.iter().enumerate() {
            decl += &format!("    let wrow{k} = min(co0 + {idx}, p.cd - 1u) * {w_co};\n");
            let idx = format!("wrow{k} + wi");
            let ld = if self.vec4 {
                format!("{wt_ld}({idx})")
            } else {
                format!("{wt_ld}[{idx}]")
            };
            load += &format!("                let {name}{v} = {ld};\n");
        }
        decl += &g.acc_decl();
        let body = if self.vec4 {
            // One reduction step per component, each in its own block (it rebinds the names).
            let names: Vec<&String> = pixels.iter().chain(&channels).map(|(n, _)| n).collect();
            let mut s = String::new();
            for lane in LANES {
                s += "                {\n";
                for n in &names {
                    s += &format!("                    let {n} = {n}4.{lane};\n");
                }
                s += &g.body("                    ");
                s += "                }\n";
            }
            s
        } else {
            g.body("                ")
        };
        // The vec4 reads: `ld_a` (binding 5) the channels-last source, `ld_b` (6) the weight.
        let (operands, w_start, c_step, w_step) = if self.vec4 {
            (
                operands(reads.0, reads.1),
                "((khh * p.kw + kww) * p.cs + p.ci0) / 4u",
                "4",
                "1u",
            )
        } else {
            (
                String::new(),
                "khh * p.kw + kww + p.ci0 * p.w_ci",
                "1",
                "p.w_ci",
            )
        };
        let store = if self.own_px {
            self.store_own_pixels()
        } else {
            self.store_own_channels()
        };
        let defs = [
            ("SG", g.sg.to_string()),
            ("TP", tp.to_string()),
            ("TC", tc.to_string()),
            ("DECL", decl),
            ("TAP", tap),
            ("LOAD", load),
            ("BODY", body),
            ("STORE", store),
            ("OPERANDS", operands),
            ("W_START", w_start.to_string()),
            ("C_STEP", c_step.to_string()),
            ("W_STEP", w_step.to_string()),
            (
                "PUT",
                if accum {
                    "dst[o] = dst[o] + v;"
                } else {
                    "dst[o] = v;"
                }
                .to_string(),
            ),
        ];
        render(GEOM_SRC, GATHER_SRC, &defs)
    }

    /// Lane j stores its R pixels × all tile channels (biases broadcast like the weights).
    fn store_own_pixels(&self) -> String {
        let g = self.g;
        let mut s = g.broadcast_columns("b", |c| {
            format!(
                "select(0.0, bias[min(min(co0 + {}, p.cd - 1u) / p.bias_div, \
                 arrayLength(&bias) - 1u)], use_bias)",
                g.shared(c)
            )
        });
        for i in 0..g.t.r {
            s += &format!("    if (px{i}.live) {{\n");
            for col in 0..g.sg * g.t.cb {
                s += &format!(
                    "        if (co0 + {col}u < p.cd) {{ put(px{i}.dofs + (co0 + {col}u) * dimg, \
                     acc{i}_{col} + b{col}); }}\n"
                );
            }
            s += "    }\n";
        }
        s
    }

    /// Lane j stores its R channels × all tile pixels (destinations broadcast).
    fn store_own_channels(&self) -> String {
        let g = self.g;
        let mut s = g.broadcast_columns("d", |c| {
            format!("select(0xffffffffu, px{c}.dofs, px{c}.live)")
        });
        for i in 0..g.t.r {
            let co = format!("co0 + {}", g.own(i));
            s += &format!(
                "    if ({co} < p.cd) {{\n        let cofs = ({co}) * dimg;\n        \
                 let b = select(0.0, bias[min(({co}) / p.bias_div, arrayLength(&bias) - 1u)], \
                 use_bias);\n"
            );
            for col in 0..g.sg * g.t.cb {
                s += &format!(
                    "        if (d{col} != 0xffffffffu) {{ put(d{col} + cofs, acc{i}_{col} + b); \
                     }}\n"
                );
            }
            s += "    }\n";
        }
        s
    }

    /// Records one dispatch (input channels [ci0, ci1) as set in `params`), adding to the
    /// output if `accum`. `binds` are bindings 1–4 (source, weight, destination, bias), and
    /// for the vec4 variant 5 and 6: the channels-last source and weight, each a buffer or a
    /// texture copy of one.
    pub fn launch(
        &self,
        gpu: &Gpu,
        params: &[u8],
        binds: &[Bind],
        groups: [u32; 3],
        accum: bool,
    ) -> Result<()> {
        let own = if self.own_px { "px" } else { "ch" };
        let acc = if accum { "|accum" } else { "" };
        let read = |i: usize| match binds.get(i) {
            Some(Bind::Texture(_)) => Source::Texture,
            _ => Source::Buffer,
        };
        let reads = (read(4), read(5));
        let v4 = if self.vec4 {
            format!("|vec4|SA={:?}|SB={:?}", reads.0, reads.1)
        } else {
            String::new()
        };
        let key = format!("conv_sg|{}|own={own}{acc}{v4}", self.g.key());
        let compiled = gpu.generated(&key, || self.source(accum, reads))?;
        gpu.launch_bound(&compiled, params, binds, groups)
    }
}
