//! The output epilogue of the subgroup-sharing matmul (`matmul_sg.rs`): what a store adds
//! (bias, accumulation into C, leaky ReLU or ELU) fixed per kernel variant, and vec4 stores where
//! C's layout allows them.
//!
//! Why: gallivm (lavapipe's compiler) runs both sides of a branch under a lane mask, loads
//! included, so a store that tested the parameter block's flags paid for a bias load and an
//! accumulate load of C for every output whether the flags asked for them or not. And every
//! storage access is a loop over the lanes, which costs about as much for a vec4 as for one
//! float. A tile's 256 outputs per lane were 256 such stores and 768 such loads; they are now
//! 64 vec4 stores, plus 16 vec4 bias loads when there is a bias. On lavapipe this took the
//! GAN-sized products (300×128×784) from 38 to 64–67 GFLOP/s and 1024³ from 58 to 73
//! (docs/PERFORMANCE.md, "The matmul's stores").

/// What a store adds to an output before writing it, from the flags of a parameter block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Epilogue {
    pub bias: Bias,
    /// Add the value already in C (a K chunk after the first).
    pub accumulate: bool,
    /// The activation of `p.alpha` (on the chunk that completes C).
    pub act: Act,
}

/// Which activation a store applies (the prefix's `leaky` / `elu`, matmul_strided.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    None,
    Leaky,
    Elu,
}

impl Epilogue {
    /// A short name for kernel keys and profiles: `bc`/`br` (bias along columns or rows),
    /// `acc`, `act` (leaky ReLU), `elu`, or `plain`.
    pub fn key(&self) -> String {
        let parts: Vec<&str> = [
            (self.bias == Bias::Col, "bc"),
            (self.bias == Bias::Row, "br"),
            (self.accumulate, "acc"),
            (self.act == Act::Leaky, "act"),
            (self.act == Act::Elu, "elu"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        if parts.is_empty() {
            "plain".to_string()
        } else {
            parts.join("+")
        }
    }
}

/// Which bias vector a store adds: one value per column of C, per row, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bias {
    None,
    Col,
    Row,
}

/// How outputs are written: one float at a time, or four neighbours in memory at a time —
/// four columns of one row (`AlongN`, C row-major) or a lane's four rows of one column
/// (`AlongM`, C transposed, four rows per lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    Scalar,
    AlongN,
    AlongM,
}

/// The widest store C's layout allows: `m`, `n` the kernel's output shape, `scm`, `scn` its
/// strides in floats, `c_bs` the batch stride, `r` rows per lane. A vec4 must start on a
/// multiple of four floats and lie wholly inside or wholly outside C's edge.
pub(crate) fn choose(r: usize, m: usize, n: usize, scm: usize, scn: usize, c_bs: usize) -> Store {
    let aligned = |s: usize| s.is_multiple_of(4);
    if scn == 1 && aligned(n) && aligned(scm) && aligned(c_bs) {
        Store::AlongN
    } else if scm == 1 && r == 4 && aligned(m) && aligned(scn) && aligned(c_bs) {
        Store::AlongM
    } else {
        Store::Scalar
    }
}

/// The epilogue's WGSL: binding declarations and the `store` / `store4` function (`decls`),
/// and the statements that store a lane's `r` × `tn` accumulators (`stores`). Bindings 7
/// (C) and 8 (the bias) are vec4 views of bindings 3 and 4, declared by vec4 stores only.
pub(crate) fn generate(e: Epilogue, how: Store, r: usize, tn: usize) -> (String, String) {
    // `leaky`, `elu` and their vec4 forms: the prefix's activations (matmul_strided.wgsl).
    let act = |f: &str| match e.act {
        Act::None => "o".to_string(),
        Act::Leaky => format!("leaky{f}(o)"),
        Act::Elu => format!("elu{f}(o)"),
    };
    let mut decls = String::new();
    let mut stores = String::new();
    if how == Store::Scalar {
        let mut sum = "v".to_string();
        match e.bias {
            Bias::Col => sum += " + bias[col]",
            Bias::Row => sum += " + bias[row]",
            Bias::None => {}
        }
        if e.accumulate {
            sum += " + c[at]";
        }
        decls += &format!(
            "fn store(z: u32, row: u32, col: u32, v: f32) {{\n\
             \x20   if (row < p.m && col < p.n) {{\n\
             \x20       let at = z * p.c_bs + row * p.scm + col * p.scn;\n\
             \x20       let o = {sum};\n\
             \x20       c[at] = {};\n\
             \x20   }}\n}}\n",
            act("")
        );
        for i in 0..r {
            for col in 0..tn {
                stores += &format!("    store(z, row0 + {i}u, col0 + {col}u, acc{i}_{col});\n");
            }
        }
        return (decls, stores);
    }
    // Both declared by every vec4 variant, so that the K chunks of one product (the first
    // adds the bias, later ones do not) take the same bindings.
    decls += "@group(0) @binding(7) var<storage, read_write> c4: array<vec4<f32>>;\n";
    decls += "@group(0) @binding(8) var<storage, read> bias4: array<vec4<f32>>;\n";
    // The four outputs run along columns (AlongN) or rows (AlongM); a bias along the same
    // dimension is a vec4 load, one along the other a splat of one value.
    let (at, along_bias) = match how {
        Store::AlongN => ("(z * p.c_bs + row * p.scm + col) / 4u", Bias::Col),
        _ => ("(z * p.c_bs + row + col * p.scn) / 4u", Bias::Row),
    };
    let mut sum = "v".to_string();
    sum += match (e.bias, e.bias == along_bias) {
        (Bias::None, _) => "",
        (Bias::Col, true) => " + bias4[col / 4u]",
        (Bias::Row, true) => " + bias4[row / 4u]",
        (Bias::Col, false) => " + vec4<f32>(bias[col])",
        (Bias::Row, false) => " + vec4<f32>(bias[row])",
    };
    if e.accumulate {
        sum += " + c4[at]";
    }
    decls += &format!(
        "fn store4(z: u32, row: u32, col: u32, v: vec4<f32>) {{\n\
         \x20   if (row < p.m && col < p.n) {{\n\
         \x20       let at = {at};\n\
         \x20       let o = {sum};\n\
         \x20       c4[at] = {};\n\
         \x20   }}\n}}\n",
        act("4")
    );
    let quad = |f: &dyn Fn(usize) -> String| {
        let parts: Vec<String> = (0..4).map(f).collect();
        format!("vec4<f32>({})", parts.join(", "))
    };
    if how == Store::AlongN {
        for i in 0..r {
            for q in 0..tn / 4 {
                let v = quad(&|e| format!("acc{i}_{}", 4 * q + e));
                stores += &format!("    store4(z, row0 + {i}u, col0 + {}u, {v});\n", 4 * q);
            }
        }
    } else {
        for col in 0..tn {
            let v = quad(&|i| format!("acc{i}_{col}"));
            stores += &format!("    store4(z, row0, col0 + {col}u, {v});\n");
        }
    }
    (decls, stores)
}
