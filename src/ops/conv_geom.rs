//! Geometry of 2-D convolutions: the public [`Conv2dGeom`] / [`Padding`] description and the
//! resolved `ConvDims` the kernels and backward rules work with.
//!
//! A convolution relates a *big* image (the input of `conv2d`, the output of
//! `conv_transpose2d`) to a *small* one (the output of `conv2d`, the input of
//! `conv_transpose2d`): small position `o` and big position `i` are joined by kernel tap `k`
//! when `i = o·stride − pad_before + k`. Big positions outside `[0, big)` read as zero. Every
//! padding convention (PyTorch symmetric, Keras/TensorFlow "same" — possibly asymmetric —,
//! output padding) resolves to one `ConvDims`: the padding before, plus both sizes explicitly
//! (which fixes the padding after). The three primitive ops share it, which is what makes them
//! exact adjoints of one another.
//!
//! ```
//! use tapegan::ops::Conv2dGeom;
//! // ConvT(k3, s2, p1): 4 → 7; Conv(k4, s2, p1): 28 → 14; Keras "same" k4 s2: 64 → 32.
//! assert_eq!(Conv2dGeom::new(2, 1).conv_transpose_output_size([4, 4], [3, 3]).unwrap(), [7, 7]);
//! assert_eq!(Conv2dGeom::new(2, 1).conv_output_size([28, 28], [4, 4]).unwrap(), [14, 14]);
//! assert_eq!(Conv2dGeom::same(2).conv_output_size([64, 64], [4, 4]).unwrap(), [32, 32]);
//! ```

use crate::error::{Error, Result};

/// How the borders of a convolution's input are padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// PyTorch's `padding=(ph, pw)`: the same number of zeros before and after, per axis.
    Explicit([usize; 2]),
    /// TensorFlow/Keras `padding="same"`: a convolution's output is `ceil(in / stride)`, a
    /// transposed convolution's is `in · stride`. The total padding
    /// `max((out − 1)·stride + k − in, 0)` of the (forward) convolution is split with the
    /// smaller half before, so it may be asymmetric (k3 s2: 0 before, 1 after).
    Same,
}

/// Stride, padding and output padding of a 2-D convolution or transposed convolution
/// (no dilation, no groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    /// `[sh, sw]`, each ≥ 1.
    pub stride: [usize; 2],
    pub padding: Padding,
    /// Transposed convolution only: extra rows/columns at the bottom/right of the output
    /// (PyTorch's `output_padding`, each < its stride). Must be zero for `conv2d`.
    pub output_padding: [usize; 2],
}

impl Default for Conv2dGeom {
    fn default() -> Self {
        Conv2dGeom::new(1, 0)
    }
}

impl Conv2dGeom {
    /// Equal stride and symmetric padding on both axes (PyTorch `stride=s, padding=p`).
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dGeom {
            stride: [stride; 2],
            padding: Padding::Explicit([padding; 2]),
            output_padding: [0; 2],
        }
    }

    /// Keras `padding="same"` with equal strides.
    pub fn same(stride: usize) -> Self {
        Conv2dGeom {
            stride: [stride; 2],
            padding: Padding::Same,
            output_padding: [0; 2],
        }
    }

    /// The same geometry with `output_padding` on both axes.
    pub fn with_output_padding(mut self, output_padding: usize) -> Self {
        self.output_padding = [output_padding; 2];
        self
    }

    /// Output `[h, w]` of `conv2d` on an input of `input` with a `kernel`-sized filter.
    pub fn conv_output_size(&self, input: [usize; 2], kernel: [usize; 2]) -> Result<[usize; 2]> {
        Ok(self.resolve_conv("conv2d", input, kernel)?.small)
    }

    /// Output `[h, w]` of `conv_transpose2d` on an input of `input`.
    pub fn conv_transpose_output_size(
        &self,
        input: [usize; 2],
        kernel: [usize; 2],
    ) -> Result<[usize; 2]> {
        Ok(self
            .resolve_transpose("conv_transpose2d", input, kernel)?
            .big)
    }

    fn check_basic(&self, op: &'static str, input: [usize; 2], kernel: [usize; 2]) -> Result<()> {
        if self.stride.contains(&0) {
            return Err(Error::shape(
                op,
                format!("stride {:?} must be positive", self.stride),
            ));
        }
        if kernel.contains(&0) || input.contains(&0) {
            return Err(Error::shape(
                op,
                format!("empty input {input:?} or kernel {kernel:?}"),
            ));
        }
        Ok(())
    }

    /// Resolves the geometry of `conv2d` on a `big`-sized input.
    pub(crate) fn resolve_conv(
        &self,
        op: &'static str,
        big: [usize; 2],
        kernel: [usize; 2],
    ) -> Result<ConvDims> {
        self.check_basic(op, big, kernel)?;
        if self.output_padding != [0, 0] {
            return Err(Error::shape(
                op,
                format!(
                    "output_padding {:?} applies to conv_transpose2d only",
                    self.output_padding
                ),
            ));
        }
        let mut small = [0; 2];
        let mut pad = [0; 2];
        for a in 0..2 {
            let (s, k, n) = (self.stride[a], kernel[a], big[a]);
            let (before, after) = match self.padding {
                Padding::Explicit(p) => (p[a], p[a]),
                Padding::Same => {
                    let out = n.div_ceil(s);
                    let total = ((out - 1) * s + k).saturating_sub(n);
                    (total / 2, total - total / 2)
                }
            };
            let padded = n + before + after;
            if padded < k {
                return Err(Error::shape(
                    op,
                    format!(
                        "kernel {kernel:?} is larger than the padded input ({} + {before} + {after} \
                         on axis {a}) of input size {big:?}",
                        n
                    ),
                ));
            }
            small[a] = (padded - k) / s + 1;
            pad[a] = before;
        }
        Ok(ConvDims {
            big,
            small,
            kernel,
            stride: self.stride,
            pad,
        })
    }

    /// Resolves the geometry of `conv_transpose2d` on a `small`-sized input.
    pub(crate) fn resolve_transpose(
        &self,
        op: &'static str,
        small: [usize; 2],
        kernel: [usize; 2],
    ) -> Result<ConvDims> {
        self.check_basic(op, small, kernel)?;
        let mut big = [0; 2];
        let mut pad = [0; 2];
        for a in 0..2 {
            let (s, k, n, op_) = (self.stride[a], kernel[a], small[a], self.output_padding[a]);
            if op_ >= s {
                return Err(Error::shape(
                    op,
                    format!(
                        "output_padding {:?} must be smaller than the stride {:?}",
                        self.output_padding, self.stride
                    ),
                ));
            }
            (big[a], pad[a]) = match self.padding {
                Padding::Explicit(p) => {
                    let full = (n - 1) * s + k + op_;
                    if full <= 2 * p[a] {
                        return Err(Error::shape(
                            op,
                            format!(
                                "input {small:?} with kernel {kernel:?}, stride {:?} and padding \
                                 {p:?} gives a non-positive output size",
                                self.stride
                            ),
                        ));
                    }
                    (full - 2 * p[a], p[a])
                }
                Padding::Same => {
                    if op_ != 0 {
                        return Err(Error::shape(
                            op,
                            "output_padding cannot be combined with \"same\" padding",
                        ));
                    }
                    // The adjoint of a "same" conv2d on n·s elements: its total padding is
                    // max((n − 1)·s + k − n·s, 0) (when k < s the last s − k outputs only
                    // receive the bias).
                    (n * s, k.saturating_sub(s) / 2)
                }
            };
        }
        Ok(ConvDims {
            big,
            small,
            kernel,
            stride: self.stride,
            pad,
        })
    }
}

/// A resolved convolution: big position `o·stride − pad + k` meets small position `o` at tap
/// `k`. Shared by `conv2d` (big → small), `conv_transpose2d` (small → big) and
/// `conv2d_weight_grad`, and carried unchanged into their backward rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvDims {
    pub big: [usize; 2],
    pub small: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before, per axis (the padding after is implied by `big` and `small`).
    pub pad: [usize; 2],
}

impl ConvDims {
    /// Kernel taps per channel pair.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_shapes() {
        let p1s2 = Conv2dGeom::new(2, 1);
        let t = |g: &Conv2dGeom, i: usize, k: usize| {
            g.conv_transpose_output_size([i, i], [k, k]).unwrap()[0]
        };
        let c = |g: &Conv2dGeom, i: usize, k: usize| g.conv_output_size([i, i], [k, k]).unwrap()[0];
        assert_eq!(t(&Conv2dGeom::new(1, 0), 1, 4), 4);
        assert_eq!(t(&p1s2, 4, 3), 7);
        assert_eq!(t(&p1s2, 7, 4), 14);
        assert_eq!(t(&p1s2, 32, 4), 64);
        assert_eq!(c(&p1s2, 28, 4), 14);
        assert_eq!(c(&p1s2, 7, 3), 4);
        assert_eq!(c(&Conv2dGeom::new(1, 0), 4, 4), 1);
        assert_eq!(c(&Conv2dGeom::same(2), 64, 4), 32);
        assert_eq!(t(&Conv2dGeom::same(2), 4, 4), 8);
        assert_eq!(t(&p1s2.with_output_padding(1), 4, 3), 8);
        // "same" k3 s2: on 7 the total padding 3·2 + 3 − 7 = 2 splits 1/1; on 8 it is 1: 0/1.
        let d = Conv2dGeom::same(2)
            .resolve_conv("t", [7, 8], [3, 3])
            .unwrap();
        assert_eq!((d.small, d.pad), ([4, 4], [1, 0]));
    }

    #[test]
    fn errors_name_the_op() {
        let e = Conv2dGeom::new(1, 0)
            .conv_output_size([2, 2], [3, 3])
            .unwrap_err();
        assert!(e.to_string().starts_with("conv2d: kernel"), "{e}");
        let e = Conv2dGeom::new(2, 0)
            .with_output_padding(2)
            .conv_transpose_output_size([2, 2], [3, 3]);
        assert!(e.unwrap_err().to_string().contains("output_padding"));
        let e = Conv2dGeom::new(1, 2)
            .conv_transpose_output_size([1, 1], [3, 3])
            .unwrap_err();
        assert!(e.to_string().contains("non-positive"), "{e}");
    }
}
