//! Line charts over training steps: loss and metric curves, with long noisy series
//! smoothed and the y axis cut to the bulk of the values.

use std::path::Path;

use plotters::prelude::*;

use super::{fmt_num, padded, render, Points, PALETTE, SANS};
use crate::error::Result;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::plot::test_support::{done, out_dir};

    #[test]
    fn line_charts_render() {
        let d = out_dir("plot-lines");
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

        done(&d);
    }

    #[test]
    fn smoothing_averages_neighbours() {
        assert_eq!(smooth(&[0.0, 3.0, 6.0], 1), vec![1.5, 3.0, 4.5]);
    }
}
