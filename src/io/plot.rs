//! PNG charts with axes, tick labels and legends, drawn with `plotters` into a pixel buffer.
//!
//! The text font (DejaVu Sans, `assets/fonts/`) is compiled into the binary and registered
//! with plotters' `ab_glyph` renderer, so charts draw the same on a machine without
//! fontconfig or any system font. Pixels are encoded with [`super::images::save_png`], so
//! every chart is written atomically like the other outputs of a run.
//!
//! - [`loss_curves`] / [`metric_curves`]: named lines over training steps.
//! - [`scatter_over_centres`]: the toy mixture's generator samples over its mode centres.
//! - [`potential_heatmap`]: the critic's value over the plane, with a colour bar.

use std::path::Path;
use std::sync::Once;

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::images::{save_png, viridis};
use crate::error::{Error, Result};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
/// A line's (x, y) points.
type Points = Vec<(f64, f64)>;

/// DejaVu Sans; its licence is `assets/fonts/LICENSE-DejaVu`.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const SANS: &str = "sans-serif";

/// Line colours (matplotlib's "tab10"), distinct and readable on white.
const PALETTE: [RGBColor; 8] = [
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
fn render(path: &Path, (w, h): (u32, u32), draw: impl FnOnce(&Area) -> DrawResult) -> Result<()> {
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
fn fmt_num(v: f64) -> String {
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
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
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

/// Centred moving average over 2k+1 points (fewer at the ends).
fn smooth(ys: &[f64], k: usize) -> Vec<f64> {
    let mut prefix = vec![0.0; ys.len() + 1];
    for (i, y) in ys.iter().enumerate() {
        prefix[i + 1] = prefix[i] + y;
    }
    (0..ys.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(k), (i + k + 1).min(ys.len()));
            (prefix[b] - prefix[a]) / (b - a) as f64
        })
        .collect()
}

/// Draws named lines over training steps (x = step) with a legend. Non-finite points are
/// skipped. Series of more than 50 points are drawn faintly and overlaid with a centred moving
/// average of about 1 % of their length, and the y axis spans the 1st–99th percentile of the
/// raw values so a few spikes do not flatten the curves.
pub fn loss_curves(path: &Path, title: &str, series: &[(&str, Vec<(f64, f64)>)]) -> Result<()> {
    line_chart(path, title, "loss", series)
}

/// [`loss_curves`] with another y-axis label, for metrics (accuracies, covered modes, …).
pub fn metric_curves(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<()> {
    line_chart(path, title, y_label, series)
}

fn line_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<()> {
    // Finite points, and their smoothed version where the series is long enough to need it.
    let lines: Vec<(Points, Option<Points>)> = series
        .iter()
        .map(|(_, pts)| {
            let raw: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let smoothed = (raw.len() > 50).then(|| {
                let ys: Vec<f64> = raw.iter().map(|p| p.1).collect();
                raw.iter()
                    .map(|p| p.0)
                    .zip(smooth(&ys, raw.len() / 200 + 1))
                    .collect()
            });
            (raw, smoothed)
        })
        .collect();
    let all = || lines.iter().flat_map(|(r, _)| r.iter());
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let mut ys: Vec<f64> = all().map(|p| p.1).collect();
    ys.sort_by(f64::total_cmp);
    let q = |f: f64| {
        ys.get(((ys.len() as f64 - 1.0) * f).round() as usize)
            .copied()
    };
    let (mut y0, mut y1) = if ys.len() > 100 {
        (q(0.01), q(0.99))
    } else {
        (q(0.0), q(1.0))
    };
    for (_, s) in &lines {
        for p in s.iter().flatten() {
            y0 = Some(y0.map_or(p.1, |v| v.min(p.1)));
            y1 = Some(y1.map_or(p.1, |v| v.max(p.1)));
        }
    }
    let (xr, yr) = (padded(x0, x1), padded(y0.unwrap_or(0.0), y1.unwrap_or(1.0)));
    let x_desc = if lines.iter().any(|l| l.1.is_some()) {
        "step  (bold: moving average, faint: raw)"
    } else {
        "step"
    };
    render(path, (800, 500), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (SANS, 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(xr, yr)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_label)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style((SANS, 13))
            .axis_desc_style((SANS, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        for (i, ((name, _), (raw, smoothed))) in series.iter().zip(&lines).enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let main = match smoothed {
                Some(s) => {
                    chart.draw_series(LineSeries::new(raw.iter().copied(), c.mix(0.25)))?;
                    s
                }
                None => raw,
            };
            let style = c.stroke_width(2);
            let label = if raw.is_empty() {
                format!("{name} (no data)")
            } else {
                name.to_string()
            };
            chart
                .draw_series(LineSeries::new(main.iter().copied(), style))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            if main.len() == 1 {
                chart.draw_series(main.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font((SANS, 14))
            .draw()?;
        Ok(())
    })
}

/// Generator samples (small translucent dots) over the mode centres (red crosses) of a 2-D
/// mixture, on square axes [-extent, extent]². Points outside the square are counted in the
/// legend rather than drawn.
pub fn scatter_over_centres(
    path: &Path,
    points: &[[f32; 2]],
    centres: &[[f32; 2]],
    extent: f32,
    title: &str,
) -> Result<()> {
    let e = extent.abs().max(f32::MIN_POSITIVE) as f64;
    let inside = |p: &&[f32; 2]| p[0].abs() as f64 <= e && p[1].abs() as f64 <= e;
    let shown: Vec<(f64, f64)> = points
        .iter()
        .filter(inside)
        .map(|p| (p[0] as f64, p[1] as f64))
        .collect();
    let outside = points.len() - shown.len();
    let label = if outside > 0 {
        format!("{} generator samples ({outside} outside)", points.len())
    } else {
        format!("{} generator samples", points.len())
    };
    // 670 + 44 px of x labels + margins ≈ 620 + 70 of y labels + margins: a square plot area.
    render(path, (720, 700), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (SANS, 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-e..e, -e..e)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style((SANS, 13))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let dot = PALETTE[0].mix(0.35).filled();
        chart
            .draw_series(shown.iter().map(|&p| Circle::new(p, 2, dot)))?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, PALETTE[0].filled()));
        let cross = RGBColor(214, 39, 40).stroke_width(2);
        chart
            .draw_series(
                centres
                    .iter()
                    .map(|c| Cross::new((c[0] as f64, c[1] as f64), 6, cross)),
            )?
            .label(format!("{} mode centres", centres.len()))
            .legend(move |(x, y)| Cross::new((x + 10, y), 5, cross));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font((SANS, 14))
            .draw()?;
        Ok(())
    })
}

/// Points of a `res`×`res` grid over [-extent, extent]², at cell centres, in the order
/// [`potential_heatmap`] expects its values: `grid[i·res + j] = (x_j, y_i)`, with row `i = 0`
/// at the bottom (y = -extent) and column `j = 0` at the left.
pub fn plane_grid(res: usize, extent: f32) -> Vec<[f32; 2]> {
    let step = 2.0 * extent / res as f32;
    let at = |k: usize| -extent + (k as f32 + 0.5) * step;
    (0..res)
        .flat_map(|i| (0..res).map(move |j| [at(j), at(i)]))
        .collect()
}

/// The critic's value over the plane as a viridis colour map with a colour bar, optionally
/// with generator samples (white dots) on top, and mode centres as red crosses. `values` is
/// `res`×`res` in [`plane_grid`] order (row 0 at the bottom).
pub fn potential_heatmap(
    path: &Path,
    values: &[f32],
    res: usize,
    extent: f32,
    points: Option<&[[f32; 2]]>,
    centres: &[[f32; 2]],
    title: &str,
) -> Result<()> {
    if res == 0 || values.len() != res * res {
        return Err(Error::Data(format!(
            "{}: potential map needs {res}×{res} values, got {}",
            path.display(),
            values.len()
        )));
    }
    let e = extent.abs().max(f32::MIN_POSITIVE) as f64;
    let finite = || {
        values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .map(f64::from)
    };
    let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let colour = |v: f64| {
        let [r, g, b] = viridis(((v - lo) / span) as f32);
        RGBColor(r, g, b)
    };
    let cell = 2.0 * e / res as f64;
    render(path, (820, 700), |root| {
        let (left, right) = root.split_horizontally(700);
        let mut chart = ChartBuilder::on(&left)
            .caption(title, (SANS, 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-e..e, -e..e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style((SANS, 13))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(k, &v)| {
            let (i, j) = ((k / res) as f64, (k % res) as f64);
            let (x, y) = (-e + j * cell, -e + i * cell);
            // Non-finite values are drawn in grey so they stand out from the colour scale.
            let c = if v.is_finite() {
                colour(v as f64)
            } else {
                RGBColor(128, 128, 128)
            };
            Rectangle::new([(x, y), (x + cell, y + cell)], c.filled())
        }))?;
        if let Some(pts) = points {
            let inside = pts
                .iter()
                .filter(|p| p[0].abs() as f64 <= e && p[1].abs() as f64 <= e);
            chart.draw_series(
                inside.map(|p| Circle::new((p[0] as f64, p[1] as f64), 2, WHITE.mix(0.7).filled())),
            )?;
        }
        let cross = RGBColor(230, 30, 30).stroke_width(2);
        chart.draw_series(
            centres
                .iter()
                .map(|c| Cross::new((c[0] as f64, c[1] as f64), 5, cross)),
        )?;

        // Colour bar: a thin chart whose y axis is the value scale.
        let mut bar = ChartBuilder::on(&right)
            .caption("value", (SANS, 15))
            .margin_top(14)
            .margin_bottom(54)
            .margin_right(10)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, lo..lo + span)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(8)
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style((SANS, 13))
            .draw()?;
        let steps = 200;
        bar.draw_series((0..steps).map(|s| {
            let (a, b) = (
                lo + span * s as f64 / steps as f64,
                lo + span * (s + 1) as f64 / steps as f64,
            );
            Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0).filled())
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;

    /// The examples looked at when this module was written; `TAPEGAN_PLOT_DIR` keeps them.
    fn out_dir(name: &str) -> std::path::PathBuf {
        std::env::var_os("TAPEGAN_PLOT_DIR")
            .map(Into::into)
            .unwrap_or_else(|| test_dir(name))
    }

    fn centres() -> Vec<[f32; 2]> {
        let g = [-4.0f32, -2.0, 0.0, 2.0, 4.0];
        g.iter()
            .flat_map(|&x| g.iter().map(move |&y| [x, y]))
            .collect()
    }

    #[test]
    fn charts_render() {
        let d = out_dir("plot");
        let n = 3000;
        let d_loss: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                (
                    i as f64,
                    1.4 * (-(i as f64) / 800.0).exp() + 0.3 * ((i * 7919 % 97) as f64 / 97.0 - 0.5),
                )
            })
            .collect();
        let g_loss: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                (
                    i as f64,
                    0.7 + (i as f64 / 1000.0).ln_1p()
                        + 0.4 * ((i * 104729 % 89) as f64 / 89.0 - 0.5),
                )
            })
            .collect();
        let p = d.join("losses.png");
        loss_curves(
            &p,
            "DCGAN losses",
            &[("D loss", d_loss), ("G loss", g_loss)],
        )
        .unwrap();
        let img = image::open(&p).unwrap();
        assert_eq!((img.width(), img.height()), (800, 500));
        metric_curves(
            &d.join("short.png"),
            "one point",
            "modes",
            &[("modes", vec![(5.0, 3.0)]), ("empty", vec![])],
        )
        .unwrap();

        let cs = centres();
        let pts: Vec<[f32; 2]> = (0..2000)
            .map(|i| {
                let c = cs[(i * 7) % 25 % 13];
                let (a, b) = (
                    (i * 7919 % 101) as f32 / 101.0 - 0.5,
                    (i * 6007 % 103) as f32 / 103.0 - 0.5,
                );
                [c[0] + 0.3 * a, c[1] + 0.3 * b]
            })
            .chain([[9.0, 9.0]])
            .collect();
        scatter_over_centres(
            &d.join("scatter.png"),
            &pts,
            &cs,
            6.0,
            "toy-wgan-gp, step 1000",
        )
        .unwrap();

        let res = 64;
        let vals: Vec<f32> = plane_grid(res, 6.0)
            .iter()
            .map(|p| (p[0] * 0.5).sin() * 3.0 + p[1] * 1000.0)
            .collect();
        potential_heatmap(
            &d.join("potential.png"),
            &vals,
            res,
            6.0,
            Some(&pts),
            &cs,
            "critic potential",
        )
        .unwrap();
        assert!(
            potential_heatmap(&d.join("bad.png"), &vals[1..], res, 6.0, None, &cs, "x").is_err()
        );
        if std::env::var_os("TAPEGAN_PLOT_DIR").is_none() {
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn grid_order_and_labels() {
        let g = plane_grid(2, 1.0);
        assert_eq!(g, vec![[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]);
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(120000.0), "1.2e5");
        assert_eq!(fmt_num(-2.0), "-2");
        assert_eq!(smooth(&[0.0, 3.0, 6.0], 1), vec![1.5, 3.0, 4.5]);
    }
}
