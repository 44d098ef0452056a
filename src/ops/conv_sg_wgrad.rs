//! The weight gradient with subgroup load sharing on CPU adapters: code generation and the
//! launch of `shaders/conv_sg_wgrad.wgsl` (one tap per workgroup, a GEMM of small × big
//! channels) and `shaders/conv_sg_wgrad_taps.wgsl` (small channels × (big channel, tap)
//! entries, for a big side with few channels). Tiles and the shared generated code are in
//! `conv_sg.rs`, which explains the technique.

use super::conv_sg::{render, Gen};
use super::conv_sg_tiles::{choose, TILES};
use super::matmul_sg_vec::LANE;
use crate::error::Result;
use crate::gpu::{Gpu, Storage};

const WGRAD_SRC: &str = include_str!("../../shaders/conv_sg_wgrad.wgsl");
const TAPS_SRC: &str = include_str!("../../shaders/conv_sg_wgrad_taps.wgsl");
const PARAMS_SRC: &str = include_str!("../../shaders/conv_sg_wgrad_params.wgsl");

/// The entries kernel tests every load against the image bounds; it must promise this many
/// times the per-tap kernel's loads per FMA to be chosen over it.
const ENTRIES_MARGIN: f64 = 1.25;

/// A weight-gradient variant: the tile, the kernel and which side the lanes own.
#[derive(Clone, Copy, Debug)]
pub(super) struct WgradPlan {
    g: Gen,
    /// Columns or rows are (big channel, tap) entries (conv_sg_wgrad_taps.wgsl), else big
    /// channels at one tap per workgroup (conv_sg_wgrad.wgsl).
    entries: bool,
    /// Lanes own small channels (rows) and share the other side, else the reverse.
    own_small: bool,
    /// Reads channels-last copies of both operands four channels per load (the per-tap
    /// kernel with R and CB multiples of 4 only).
    vec4: bool,
}

impl WgradPlan {
    /// The plan for `cs` small × `cb` big channels and `taps` taps, if sharing pays; reading
    /// channels-last copies when `vec4` (`conv_sg::vec4_pays`) and the tile allows.
    pub fn new(sg: usize, cs: usize, cb: usize, taps: usize, vec4: bool) -> Option<Self> {
        let per_tap = choose(sg, &TILES, cs, cb, taps);
        let by_entries = choose(sg, &TILES, cs, cb * taps, 1);
        let ((t, own_small, _), entries) = match (per_tap, by_entries) {
            (Some(a), Some(b)) if b.2 > ENTRIES_MARGIN * a.2 => (b, true),
            (Some(a), _) => (a, false),
            (None, Some(b)) => (b, true),
            (None, None) => return None,
        };
        let vec4 = vec4 && !entries && t.r.is_multiple_of(4) && t.cb.is_multiple_of(4);
        Some(WgradPlan {
            g: Gen { sg, t },
            entries,
            own_small,
            vec4,
        })
    }

    /// Whether the kernel reads channels-last copies of big and small (bindings 4 and 5):
    /// a vec4 load costs lavapipe about what a scalar one does, so a quarter of the loads.
    pub fn vec4_operands(&self) -> bool {
        self.vec4
    }

    /// Workgroups along x (shared side) and y (own side, times the taps when per tap).
    pub fn groups(&self, cs: usize, cb: usize, taps: usize) -> (usize, usize) {
        let other = if self.entries { cb * taps } else { cb };
        let (own, shared) = if self.own_small {
            (cs, other)
        } else {
            (other, cs)
        };
        let (tm, tn) = self.g.dims();
        let gy = own.div_ceil(tm) * if self.entries { 1 } else { taps };
        (shared.div_ceil(tn), gy)
    }

    /// Records the dispatch; `buffers` are big, small and the output, then for the vec4
    /// variant the channels-last copies of big and small.
    pub fn launch(
        &self,
        gpu: &Gpu,
        params: &[u8],
        buffers: &[&Storage],
        groups: [u32; 3],
    ) -> Result<()> {
        let kind = if self.entries { "_taps" } else { "" };
        let own = if self.own_small { "small" } else { "big" };
        let v4 = if self.vec4 { "|vec4" } else { "" };
        let key = format!("conv_sg_wgrad{kind}|{}|own={own}{v4}", self.g.key());
        let make = || {
            if self.entries {
                self.entries_source()
            } else if self.vec4 {
                self.per_tap_vec4_source()
            } else {
                self.per_tap_source()
            }
        };
        gpu.launch_generated(&key, make, params, buffers, groups)
    }

    /// Own slots (load name, suffix, index expression) and shared slots.
    fn slots(&self) -> [Vec<(String, String, String)>; 2] {
        let g = self.g;
        let own = (0..g.t.r)
            .map(|i| {
                (
                    format!("a{i}"),
                    format!("o{i}"),
                    format!("row0 + {}", g.own(i)),
                )
            })
            .collect();
        let shared = (0..g.t.cb)
            .map(|c| {
                (
                    format!("bl{c}"),
                    format!("s{c}"),
                    format!("col0 + {}", g.shared(c)),
                )
            })
            .collect();
        [own, shared]
    }

    /// The guarded stores of a tile: for own row i and tile column col, the output channel
    /// and the other index are (row, column) when lanes own the small side, else swapped;
    /// `put(co, other)` writes the guard and the target, up to the `=`.
    fn store(&self, put: impl Fn(&str, &str) -> String) -> String {
        let g = self.g;
        let mut store = String::new();
        for i in 0..g.t.r {
            store += &format!("    let rw{i} = row0 + {};\n", g.own(i));
            for col in 0..g.sg * g.t.cb {
                let (row, cl) = (format!("rw{i}"), format!("col0 + {col}u"));
                let (co, other) = if self.own_small { (row, cl) } else { (cl, row) };
                store += &format!("    {}acc{i}_{col}; }}\n", put(&co, &other));
            }
        }
        store
    }

    fn per_tap_source(&self) -> String {
        let g = self.g;
        let [own, shared] = self.slots();
        let (small, big) = if self.own_small {
            (&own, &shared)
        } else {
            (&shared, &own)
        };
        let (mut decl, mut load) = (String::new(), String::new());
        for (name, k, idx) in small {
            decl += &format!("    let of{k} = min({idx}, p.cs - 1u) * simg;\n");
            load += &format!("                let {name} = small[sa + of{k}];\n");
        }
        for (name, k, idx) in big {
            decl += &format!("    let of{k} = min({idx}, p.cb - 1u) * bimg;\n");
            load += &format!("                let {name} = big[ba + of{k}];\n");
        }
        decl += &g.acc_decl();
        self.per_tap_render(decl, load, g.body("                "))
    }

    /// The per-tap kernel from its generated declarations, loads and body, walking its
    /// operands in NCHW (scalars) or, for the vec4 variant, channels last (vec4s);
    /// out[(split, co, ci) · taps + tap] for own row i and tile column col.
    fn per_tap_render(&self, decl: String, load: String, body: String) -> String {
        let (operands, sa, ba, sa_step, ba_step) = if self.vec4 {
            (
                "@group(0) @binding(4) var<storage, read> big4: array<vec4<f32>>;\n\
                 @group(0) @binding(5) var<storage, read> small4: array<vec4<f32>>;\n",
                "((n * p.sh + oy) * p.sw + ox0) * (p.cs / 4u)",
                "((n * p.bh + iy) * p.bw + ox0 * p.sx + kww - p.px) * (p.cb / 4u)",
                "p.cs / 4u",
                "p.sx * (p.cb / 4u)",
            )
        } else {
            (
                "",
                "(n * p.cs * p.sh + oy) * p.sw + ox0",
                "(n * p.cb * p.bh + iy) * p.bw + ox0 * p.sx + kww - p.px",
                "1u",
                "p.sx",
            )
        };
        let store = self.store(|co, ci| {
            format!(
                "if ({co} < p.cs && {ci} < p.cb) {{ out[(split_base + ({co}) * p.cb + {ci}) \
                 * p.taps + tap] = "
            )
        });
        let (tm, tn) = self.g.dims();
        let defs = [
            ("SG", self.g.sg.to_string()),
            ("TM", tm.to_string()),
            ("TN", tn.to_string()),
            ("DECL", decl),
            ("LOAD", load),
            ("BODY", body),
            ("STORE", store),
            ("OPERANDS", operands.into()),
            ("SA", sa.into()),
            ("BA", ba.into()),
            ("SA_STEP", sa_step.into()),
            ("BA_STEP", ba_step.into()),
        ];
        render(PARAMS_SRC, WGRAD_SRC, &defs)
    }

    /// The per-tap kernel reading channels-last copies as vec4s: lane j's own rows
    /// j·R … j·R + R − 1 are R/4 loads, its shared columns 4·(j + SG·q) + e (q < CB/4) are
    /// CB/4 loads, and each broadcast vec4 feeds four tile columns. Vec4 offsets are clamped
    /// to the last whole vec4 (channel counts are multiples of 4); their values past the
    /// edge feed only accumulators that are not stored.
    fn per_tap_vec4_source(&self) -> String {
        let g = self.g;
        let (sg, r, cb) = (g.sg, g.t.r, g.t.cb);
        // (binding name, loop pointer, channel count) of the own and the shared side.
        let small = ("small4", "sa", "p.cs");
        let big = ("big4", "ba", "p.cb");
        let (own, shared) = if self.own_small {
            (small, big)
        } else {
            (big, small)
        };
        let mut decl = String::new();
        let mut load = String::new();
        for q in 0..r / 4 {
            decl += &format!(
                "    let ofo{q} = min(row0 + j * {r}u + {}u, {} - 4u) / 4u;\n",
                4 * q,
                own.2
            );
            load += &format!(
                "                let av{q} = {}[{} + ofo{q}];\n",
                own.0, own.1
            );
        }
        for q in 0..cb / 4 {
            decl += &format!(
                "    let ofs{q} = min(col0 + 4u * (j + {}u), {} - 4u) / 4u;\n",
                sg * q,
                shared.2
            );
            load += &format!(
                "                let bv{q} = {}[{} + ofs{q}];\n",
                shared.0, shared.1
            );
        }
        decl += &g.acc_decl();
        let mut body = String::new();
        for q in 0..cb / 4 {
            for l in 0..sg {
                body +=
                    &format!("                let bb{q}_{l} = subgroupBroadcast(bv{q}, {l}u);\n");
                for (e, lane) in LANE.iter().enumerate() {
                    let col = 4 * (l + sg * q) + e;
                    for i in 0..r {
                        body += &format!(
                            "                acc{i}_{col} = fma(av{}.{}, bb{q}_{l}.{lane}, acc{i}_{col});\n",
                            i / 4,
                            LANE[i % 4]
                        );
                    }
                }
            }
        }
        self.per_tap_render(decl, load, body)
    }

    fn entries_source(&self) -> String {
        let g = self.g;
        let [own, shared] = self.slots();
        let (small, entries) = if self.own_small {
            (&own, &shared)
        } else {
            (&shared, &own)
        };
        let (mut decl, mut row, mut load) = (String::new(), String::new(), String::new());
        for (name, k, idx) in small {
            decl += &format!("    let of{k} = min({idx}, p.cs - 1u) * simg;\n");
            load += &format!("            let {name} = small[sbase + ox + of{k}];\n");
        }
        // Entry e: big channel e / taps at tap e % taps, i.e. offsets (dy, dx) from o·s.
        for (name, k, idx) in entries {
            decl += &format!(
                "    let e{k} = min({idx}, p.extra - 1u);\n    \
                 let ch{k} = (e{k} / p.taps) * bimg;\n    \
                 let dy{k} = i32((e{k} % p.taps) / p.kw) - i32(p.py);\n    \
                 let dx{k} = i32((e{k} % p.taps) % p.kw) - i32(p.px);\n"
            );
            row += &format!(
                "        let iy{k} = i32(oy * p.sy) + dy{k};\n        \
                 let rok{k} = iy{k} >= 0 && iy{k} < i32(p.bh);\n        \
                 let rb{k} = bbase + ch{k} + u32(max(iy{k}, 0)) * p.bw;\n"
            );
            load += &format!(
                "            let ix{k} = xb + dx{k};\n            \
                 let ok{k} = rok{k} && ix{k} >= 0 && ix{k} < i32(p.bw);\n            \
                 let {name} = select(0.0, big[select(0u, rb{k} + u32(ix{k}), ok{k})], ok{k});\n"
            );
        }
        decl += &g.acc_decl();
        // out[split, co, e] for own row i and tile column col.
        let store = self.store(|co, e| {
            format!(
                "if ({co} < p.cs && {e} < p.extra) {{ out[split_base + ({co}) * p.extra + {e}] = "
            )
        });
        let (tm, tn) = g.dims();
        let defs = [
            ("SG", g.sg.to_string()),
            ("TM", tm.to_string()),
            ("TN", tn.to_string()),
            ("DECL", decl),
            ("ROW", row),
            ("LOAD", load),
            ("BODY", g.body("            ")),
            ("STORE", store),
        ];
        render(PARAMS_SRC, TAPS_SRC, &defs)
    }
}
