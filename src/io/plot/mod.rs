//! PNG charts with axes, tick labels and legends, drawn with `plotters` into a pixel buffer.
//!
//! The text font (DejaVu Sans, `assets/fonts/`) is compiled into the binary and registered
//! with plotters' `ab_glyph` renderer, so charts draw the same on a machine without
//! fontconfig or any system font. Pixels are encoded with [`super::images::save_png`], so
//! every chart is written atomically like the other outputs of a run.
//!
//! - `lines.rs`: [`loss_curves`] / [`metric_curves`], named lines over training steps.
//! - `toy.rs`: [`scatter_over_centres`], the toy mixture's generator samples over its mode
//!   centres, and [`potential_heatmap`], the critic's value over the plane with a colour bar.
//!
//! This module holds what every chart shares: the embedded font, the palette, axis helpers
//! and `render`, which draws onto a canvas and saves the PNG.

mod lines;
mod toy;

pub use lines::{loss_curves, metric_curves};
pub use toy::{plane_grid, potential_heatmap, scatter_over_centres};

use std::path::Path;
use std::sync::Once;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::images::save_png;
use crate::error::{Error, Result};

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
pub(super) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
/// A line's (x, y) points.
pub(super) type Points = Vec<(f64, f64)>;

/// DejaVu Sans; its licence is `assets/fonts/LICENSE-DejaVu`.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub(super) const SANS: &str = "sans-serif";

/// Line colours (matplotlib's "tab10"), distinct and readable on white.
pub(super) const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws with `draw` on a white `w`×`h` canvas and saves it as a PNG at `path`.
pub(super) fn render(
    path: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(&Area) -> DrawResult,
) -> Result<()> {
    static FONT_ONCE: Once = Once::new();
    // plotters keeps registered fonts in a global table; registering once per process is enough.
    FONT_ONCE.call_once(|| {
        if plotters::style::register_font(SANS, FontStyle::Normal, FONT).is_err() {
            panic!("the embedded DejaVuSans.ttf is not a valid font");
        }
    });
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|_| draw(&root));
        drawn
            .and_then(|_| root.present().map_err(Into::into))
            .map_err(|e| Error::Data(format!("{}: cannot draw chart: {e}", path.display())))?;
    }
    let img = RgbImage::from_raw(w, h, buf).expect("buffer of w·h·3 bytes");
    save_png(&img, path)
}

/// A tick label: plain for moderate magnitudes, scientific for very large or small ones
/// (an unclipped WGAN critic reaches ±10⁵).
pub(super) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `lo..hi` widened by 5 % on each side, or by 1 around a single value, for an axis.
pub(super) fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return 0.0..1.0;
    }
    let m = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.5
    };
    lo - m..hi + m
}

#[cfg(test)]
pub(super) mod test_support {
    use std::path::{Path, PathBuf};

    /// Where a test's charts go: a fresh temporary directory, or `TAPEGAN_PLOT_DIR` to keep
    /// them for looking at.
    pub fn out_dir(name: &str) -> PathBuf {
        std::env::var_os("TAPEGAN_PLOT_DIR")
            .map(Into::into)
            .unwrap_or_else(|| crate::io::test_dir(name))
    }

    /// Removes the directory of [`out_dir`] unless the charts are being kept.
    pub fn done(dir: &Path) {
        if std::env::var_os("TAPEGAN_PLOT_DIR").is_none() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(120000.0), "1.2e5");
        assert_eq!(fmt_num(-2.0), "-2");
        assert_eq!(padded(1.0, 1.0), 0.5..1.5);
        assert_eq!(padded(f64::NAN, 1.0), 0.0..1.0);
    }
}
