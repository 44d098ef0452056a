//! Subgroup load sharing for the convolution kernels on CPU adapters (lavapipe, llvmpipe):
//! the code generation shared by the three kernels (their tiles: `conv_sg_tiles.rs`), and
//! the gather kernel (`shaders/conv_sg.wgsl`: conv2d and conv_transpose2d). The weight
//! gradient's kernels are in `conv_sg_wgrad.rs`; `conv_launch.rs` decides which kernel runs.
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

use super::conv_sg_tiles::{choose, Tile, TILES, TILES_VEC4};
use super::linear_act::FusedAct;
use super::matmul_sg_vec::{operands, Source, LANE};
use super::reduce::MAX_LOOP;
use crate::error::Result;
use crate::gpu::{Bind, Gpu};

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
        self.step(indent, None, &[""])
    }

    /// Two reduction steps, one per channel of the loads `bl{c}_0`/`bl{c}_1` and
    /// `a{i}_0`/`a{i}_1`, each accumulator given its two products in a row (see
    /// [`Gen::body_vec4`]): dcgan-28's layers 8–10 % faster in CPU time.
    pub fn body_pair(&self, indent: &str) -> String {
        self.step(indent, None, &["_0", "_1"])
    }

    /// One reduction step of four channels: the vec4 loads `bl{c}4` and `a{i}4`, each
    /// accumulator given its four products in a row. Why this order: the R·SG·CB
    /// accumulators exceed the registers, so each is spilled and reloaded around its FMAs;
    /// four FMAs per reload instead of one (the order of a step per component) made
    /// dcgan-64's layers 10–15 % faster and let a 4×8 tile beat 4×4
    /// (`conv_sg_tiles::TILES_VEC4`).
    pub fn body_vec4(&self, indent: &str) -> String {
        self.step(indent, Some("4"), &LANE.map(|lane| format!(".{lane}")))
    }

    /// The step over `parts` in a row per accumulator: components of vector loads named
    /// with `vector` (one broadcast per load), else suffixes of scalar loads (one broadcast
    /// each).
    fn step(&self, indent: &str, vector: Option<&str>, parts: &[impl std::fmt::Display]) -> String {
        let mut s = String::new();
        for c in 0..self.t.cb {
            for l in 0..self.sg {
                let col = c * self.sg + l;
                match vector {
                    Some(v) => {
                        s += &format!("{indent}let bv{col} = subgroupBroadcast(bl{c}{v}, {l}u);\n")
                    }
                    None => {
                        for part in parts {
                            s += &format!(
                                "{indent}let bv{col}{part} = subgroupBroadcast(bl{c}{part}, {l}u);\n"
                            );
                        }
                    }
                }
                let v = vector.unwrap_or("");
                for i in 0..self.t.r {
                    for part in parts {
                        s += &format!(
                            "{indent}acc{i}_{col} = fma(a{i}{v}{part}, bv{col}{part}, acc{i}_{col});\n"
                        );
                    }
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
    /// The workgroup loops over the phases of a strided transposed conv (conv_sg.wgsl), else
    /// it runs the single phase of a conv without a loop: stores inside a loop are masked on
    /// lavapipe, and the loop made store-bound layers (dcgan-64's ConvT(20→512, k4 s1)
    /// 1→4) 40 % slower.
    phased: bool,
    /// The source has one input channel, so a step reads one channel instead of two (the
    /// second of a pair would be a zero, loaded and multiplied all the same).
    single: bool,
}

impl GatherPlan {
    /// The plan for `cd` output channels × `npix` pixels in each of `phases` from `cs` input
    /// channels, if sharing pays; with `vec4`, for operands copied channels last (see
    /// [`GatherPlan::vec4_operands`]). A workgroup runs every phase of its tile, so the
    /// phases add no workgroups.
    pub fn new(
        sg: usize,
        cd: usize,
        npix: usize,
        phases: usize,
        cs: usize,
        vec4: bool,
    ) -> Option<Self> {
        let tiles: &[Tile] = if vec4 { &TILES_VEC4 } else { &TILES };
        let (t, own_ch, _) = choose(sg, tiles, cd, npix, 1)?;
        Some(GatherPlan {
            g: Gen { sg, t },
            own_px: !own_ch,
            vec4,
            phased: phases > 1,
            single: cs == 1 && !vec4,
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
    /// taps·(steps + 1) times (a step is 2 or 4 channels), kept within lavapipe's loop budget.
    pub fn channel_chunk(&self, taps: usize) -> usize {
        let steps = (MAX_LOOP / taps.max(1)).saturating_sub(1).max(1);
        steps * self.channels_per_step()
    }

    /// Input channels one reduction step reads.
    fn channels_per_step(&self) -> usize {
        match (self.vec4, self.single) {
            (true, _) => 4,
            (false, true) => 1,
            (false, false) => 2,
        }
    }

    /// The kernel's WGSL; `reads` says where the vec4 variant reads the source and the weight,
    /// `act` which activation its store applies (with `p.alpha`).
    fn source(&self, accum: bool, reads: (Source, Source), act: Option<FusedAct>) -> String {
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
        // Per layout: the tap function, the weight's row stride and, for the template, the
        // operand declarations and where and how fast the weight index advances (the
        // channel advances by `channels_per_step`).
        // Vec4 reads (`ld_a`: binding 5, the channels-last source; `ld_b`: 6, the weight)
        // index vec4s.
        let (tap_fn, w_co, operands, w_start, w_step) = if self.vec4 {
            (
                "tap_cl",
                "(p.kh * p.kw * p.cs / 4u)",
                operands(reads.0, reads.1),
                "((khh * p.kw + kww) * p.cs + p.ci0) / 4u",
                "1u",
            )
        } else {
            (
                "tap",
                "p.w_co",
                String::new(),
                "khh * p.kw + kww + p.ci0 * p.w_ci",
                if self.single { "p.w_ci" } else { "2u * p.w_ci" },
            )
        };
        // The loads of one step into `name4` (four channels), or `name_0` and `name_1` (two
        // scalar channels, the second zero past the chunk's last channel: `has1`).
        let ind = "                ";
        let load_pixel = |name: &str, k: usize| {
            if self.single {
                format!(
                    "{ind}let {name}_0 = select(0.0, src[xa{k}], ok{k});\n\
                     {ind}xa{k} += simg;\n"
                )
            } else if self.vec4 {
                format!(
                    "{ind}let {name}4 = select(vec4<f32>(0.0), ld_a(xa{k}), ok{k});\n\
                     {ind}xa{k} += 1u;\n"
                )
            } else {
                format!(
                    "{ind}let {name}_0 = select(0.0, src[xa{k}], ok{k});\n\
                     {ind}let {name}_1 = select(0.0, src[xa{k} + simg], ok{k} && has1);\n\
                     {ind}xa{k} += 2u * simg;\n"
                )
            }
        };
        let load_channel = |name: &str, k: usize| {
            if self.single {
                format!("{ind}let {name}_0 = wt[wrow{k} + wi];\n")
            } else if self.vec4 {
                format!("{ind}let {name}4 = ld_b(wrow{k} + wi);\n")
            } else {
                format!(
                    "{ind}let {name}_0 = wt[wrow{k} + wi];\n\
                     {ind}let {name}_1 = select(0.0, wt[wrow{k} + wi + p.w_ci], has1);\n"
                )
            }
        };
        let (mut decl, mut tap) = (String::new(), String::new());
        let mut load = match self.vec4 || self.single {
            true => String::new(),
            false => format!("{ind}let has1 = ci + 1u < p.ci1;\n"),
        };
        for (k, (name, idx)) in pixels.iter().enumerate() {
            decl += &format!("    let px{k} = pixel(pix0 + {idx}, f);\n");
            tap += &format!(
                "            let t{k} = {tap_fn}(px{k}, dir * i32(ty), dir * i32(tx));\n            \
                 let ok{k} = t{k} != 0xffffffffu;\n            \
                 var xa{k} = select(0u, t{k}, ok{k});\n            \
                 any_ok = any_ok || ok{k};\n"
            );
            load += &load_pixel(name, k);
        }
        for (k, (name, idx)) in channels.iter().enumerate() {
            decl += &format!("    let wrow{k} = min(co0 + {idx}, p.cd - 1u) * {w_co};\n");
            load += &load_channel(name, k);
        }
        decl += &g.acc_decl();
        let body = if self.vec4 {
            g.body_vec4(ind)
        } else if self.single {
            g.step(ind, None, &["_0"])
        } else {
            g.body_pair(ind)
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
            (
                "PHASES",
                if self.phased {
                    "for (var z = 0u; z < p.sy * p.sx; z++)"
                } else {
                    "let z = 0u;"
                }
                .to_string(),
            ),
            (
                "SKIP",
                // A tile past a smaller phase's last pixel has nothing to do there.
                if self.phased {
                    "        if (pix0 >= f.npix) { continue; }"
                } else {
                    ""
                }
                .to_string(),
            ),
            ("OPERANDS", operands),
            ("W_START", w_start.to_string()),
            ("C_STEP", self.channels_per_step().to_string()),
            ("W_STEP", w_step.to_string()),
            ("PUT", put(accum, act)),
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
    /// output if `accum` and applying `act` (its parameter in `params`) to what it stores.
    /// `binds` are bindings 1–4 (source, weight, destination, bias), and for the vec4
    /// variant 5 and 6: the channels-last source and weight, each a buffer or a texture copy
    /// of one.
    pub fn launch(
        &self,
        gpu: &Gpu,
        params: &[u8],
        binds: &[Bind],
        groups: [u32; 3],
        accum: bool,
        act: Option<FusedAct>,
    ) -> Result<()> {
        let own = if self.own_px { "px" } else { "ch" };
        let acc = if accum { "|accum" } else { "" };
        let read = |i: usize| binds.get(i).map_or(Source::Buffer, Source::of);
        let reads = (read(4), read(5));
        let v4 = if self.vec4 {
            format!("|vec4|SA={:?}|SB={:?}", reads.0, reads.1)
        } else {
            String::new()
        };
        let ph = if self.phased { "|phased" } else { "" };
        let c1 = if self.single { "|c1" } else { "" };
        let activated = match act {
            None => "",
            Some(FusedAct::Leaky(_)) => "|leaky",
            Some(FusedAct::Elu(_)) => "|elu",
        };
        let key = format!(
            "conv_sg|{}|own={own}{acc}{v4}{ph}{c1}{activated}",
            self.g.key()
        );
        let compiled = gpu.generated(&key, || self.source(accum, reads, act))?;
        gpu.launch_bound(&compiled, params, binds, groups)
    }
}

/// The store of one output value `v` at `o`: added to what earlier dispatches stored there
/// if `accum`, then through `act` (its slope or α is `p.alpha`).
fn put(accum: bool, act: Option<FusedAct>) -> String {
    let total = if accum { "dst[o] + v" } else { "v" };
    match act {
        None => format!("dst[o] = {total};"),
        Some(FusedAct::Leaky(_)) => format!("dst[o] = leaky_with({total}, p.alpha);"),
        Some(FusedAct::Elu(_)) => format!("dst[o] = elu_with({total}, p.alpha);"),
    }
}

/// The number of threads a CPU adapter runs workgroups on: lavapipe's `LP_NUM_THREADS` if
/// set, else one per CPU (its default). Only the order of workgroups depends on it, never a
/// result.
pub(super) fn adapter_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("LP_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 64)
    })
}
