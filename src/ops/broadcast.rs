//! NumPy broadcasting: the output shape of several operands and each operand's strides over
//! it, with dimensions merged wherever no index arithmetic is needed (so most kernels see
//! rank 1 or 2).

use super::{contiguous_strides, MAX_RANK};
use crate::error::{Error, Result};

/// The broadcast shape of `shapes`, or an error naming `op` and the shapes.
pub(crate) fn broadcast_shape(op: &'static str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (d, &n) in s.iter().enumerate() {
            let o = &mut out[off + d];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                let all: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
                return Err(Error::shape(
                    op,
                    format!("shapes {} cannot be broadcast together", all.join(" and ")),
                ));
            }
        }
    }
    Ok(out)
}

/// Iteration shape and per-operand strides (0 on broadcast dimensions), collapsed.
pub(crate) struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<Vec<usize>>,
}

/// Strides of each operand (contiguous, of the given shapes) when read over `out`.
pub(crate) fn layout(op: &'static str, out: &[usize], ins: &[&[usize]]) -> Result<Layout> {
    let rank = out.len();
    let mut strides: Vec<Vec<usize>> = ins
        .iter()
        .map(|s| {
            let cs = contiguous_strides(s);
            let off = rank - s.len();
            (0..rank)
                .map(|d| {
                    if d < off || s[d - off] == 1 {
                        0
                    } else {
                        cs[d - off]
                    }
                })
                .collect()
        })
        .collect();
    // Drop size-1 dimensions, then merge neighbours that every operand walks contiguously.
    let mut shape: Vec<usize> = Vec::new();
    let mut merged: Vec<Vec<usize>> = vec![Vec::new(); ins.len()];
    for d in 0..rank {
        if out[d] == 1 {
            continue;
        }
        let can_merge = !shape.is_empty()
            && strides.iter().zip(&merged).all(|(s, m)| {
                let prev = *m.last().expect("same length as shape");
                prev == s[d] * out[d]
            });
        if can_merge {
            let last = shape.len() - 1;
            shape[last] *= out[d];
            for (s, m) in strides.iter().zip(merged.iter_mut()) {
                m[last] = s[d];
            }
        } else {
            shape.push(out[d]);
            for (s, m) in strides.iter().zip(merged.iter_mut()) {
                m.push(s[d]);
            }
        }
    }
    strides.clear();
    if shape.len() > MAX_RANK {
        return Err(Error::shape(
            op,
            format!("broadcast over shape {out:?} needs more than {MAX_RANK} dimensions"),
        ));
    }
    Ok(Layout {
        shape,
        strides: merged,
    })
}

/// WGSL that turns the linear index `i` over a collapsed iteration shape of `rank` dimensions
/// (uniform field `p.shape`) into one element offset per operand: `(name, strides field,
/// initial value)`. The loop over dimensions is unrolled with constant component indices —
/// dynamically indexed uniform arrays and loop control are slow on CPU adapters.
pub(crate) fn index_code(rank: usize, operands: &[(&str, &str, &str)]) -> String {
    index_code_at(rank, operands, "i", "")
}

/// The offsets `{name}0` … `{name}3` (strides field `field`, starting at `init`) of the four
/// elements 4·i … 4·i + 3 of the iteration: for kernels that gather one operand element by
/// element into a vec4 of four neighbouring outputs.
pub(crate) fn index_code_x4(rank: usize, name: &str, field: &str, init: &str) -> String {
    (0..4)
        .map(|j| {
            index_code_at(
                rank,
                &[(&format!("{name}{j}"), field, init)],
                &format!("4u * i + {j}u"),
                &format!("_{name}{j}"),
            )
        })
        .collect()
}

/// [`index_code`] for the linear index `index` (a WGSL expression), its temporaries named
/// with `suffix` so that several can share a function.
fn index_code_at(
    rank: usize,
    operands: &[(&str, &str, &str)],
    index: &str,
    suffix: &str,
) -> String {
    let mut code = String::new();
    for (name, _, init) in operands {
        code.push_str(&format!("    var {name} = {init};\n"));
    }
    if rank == 0 {
        return code;
    }
    let at = |field: &str, d: usize| format!("p.{field}[{}][{}]", d / 4, d % 4);
    let rem = format!("rem{suffix}");
    code.push_str(&format!("    var {rem} = {index};\n"));
    for d in (1..rank).rev() {
        let q = format!("q{d}{suffix}");
        code.push_str(&format!(
            "    let {q} = divmod({rem}, {});\n",
            at("shape", d)
        ));
        for (name, field, _) in operands {
            code.push_str(&format!(
                "    {name} = {name} + {q}.y * {};\n",
                at(field, d)
            ));
        }
        code.push_str(&format!("    {rem} = {q}.x;\n"));
    }
    for (name, field, _) in operands {
        code.push_str(&format!(
            "    {name} = {name} + {rem} * {};\n",
            at(field, 0)
        ));
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shape("t", &[&[3, 1], &[4]]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shape("t", &[&[], &[2, 2]]).unwrap(), vec![2, 2]);
        assert!(broadcast_shape("t", &[&[3], &[4]]).is_err());
    }

    #[test]
    fn layout_collapses_contiguous_dims() {
        let l = layout("t", &[2, 3, 4], &[&[2, 3, 4], &[2, 3, 4]]).unwrap();
        assert_eq!(l.shape, vec![24]);
        let l = layout("t", &[300, 784], &[&[300, 784], &[784]]).unwrap();
        assert_eq!(l.shape, vec![300, 784]);
        assert_eq!(l.strides[1], vec![0, 1]);
        let l = layout("t", &[2, 3, 4], &[&[2, 3, 4], &[]]).unwrap();
        assert_eq!(l.shape, vec![24]);
        assert_eq!(l.strides[1], vec![0]);
    }

    /// `divmod` of shaders/common.wgsl step for step, with each float division off by `e1`
    /// and `e2` units in the last place (Vulkan allows 2.5 ulp; NVIDIA's reciprocal division
    /// returns k − 1 ulp for some exact quotients k, which broke every index kernel on an
    /// H100 before the integer step).
    fn divmod_model(i: u32, d: u32, e1: i32, e2: i32) -> (u32, u32) {
        let off = |q: f32, e: i32| q * (1.0 + e as f32 * f32::EPSILON);
        let (fd, di) = (d as f32, d as i32);
        let mut q = off(i as f32 / fd, e1) as i32;
        q += off((i as i32).wrapping_sub(q.wrapping_mul(di)) as f32 / fd, e2).floor() as i32;
        let r = (i as i32).wrapping_sub(q.wrapping_mul(di));
        q += (r >= di) as i32 - (r < 0) as i32;
        (q as u32, i.wrapping_sub((q as u32).wrapping_mul(d)))
    }

    #[test]
    fn divmod_is_exact_under_approximate_division() {
        let mut rng = 0x9e37_79b9_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for d in (1..=300).chain([784, 1024, 4095, 65_536, 1 << 20]) {
            let big = (0..200).map(|_| (next() % (1 << 31)) as u32);
            let multiples = (0..50).map(|k| k * d).filter(|&v| v < 1 << 31);
            for i in (0..2000).chain(multiples).chain(big) {
                for e1 in -3..=3 {
                    for e2 in -3..=3 {
                        assert_eq!(
                            divmod_model(i, d, e1, e2),
                            (i / d, i % d),
                            "{i} / {d} with errors {e1}, {e2} ulp"
                        );
                    }
                }
            }
        }
    }
}
