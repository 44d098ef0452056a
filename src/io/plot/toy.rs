//! Charts of the 2-D toy mixtures: generator samples over the mode centres, and the
//! critic's potential over the plane as a colour map.

use std::path::Path;

use plotters::prelude::*;

use super::{fmt_num, render, PALETTE, SANS};
use crate::error::{Error, Result};
use crate::io::images::viridis;

/// The half-width of the square axes. plotters never returns from laying out ticks over an
/// infinite or NaN range, so such an extent is an error rather than a hang.
fn axis_extent(path: &Path, extent: f32) -> Result<f64> {
    if extent.is_finite() && extent.abs() >= 1e-6 {
        Ok(extent.abs() as f64)
    } else {
        Err(Error::Data(format!(
            "{}: cannot draw a chart over [-{extent}, {extent}]²: the extent must be finite and \
             positive",
            path.display()
        )))
    }
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
    let e = axis_extent(path, extent)?;
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
    let e = axis_extent(path, extent)?;
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
    use crate::io::plot::test_support::{done, out_dir};

    fn centres() -> Vec<[f32; 2]> {
        let g = [-4.0f32, -2.0, 0.0, 2.0, 4.0];
        g.iter()
            .flat_map(|&x| g.iter().map(move |&y| [x, y]))
            .collect()
    }

    #[test]
    fn toy_charts_render() {
        let d = out_dir("plot-toy");
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
        // An infinite or zero extent is an error, not a hang in the tick layout.
        for extent in [f32::INFINITY, f32::NAN, 0.0] {
            assert!(scatter_over_centres(&d.join("inf.png"), &pts, &cs, extent, "x").is_err());
        }
        done(&d);
    }

    #[test]
    fn grid_order() {
        let g = plane_grid(2, 1.0);
        assert_eq!(g, vec![[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]);
    }
}
