//! A set of metric values and where it goes: a table on the terminal, `metrics.json` (the
//! latest evaluation), and during training `metrics.csv` (one row per evaluation) with its
//! charts `metrics.png` (the values on a 0–100 scale) and `metrics_<chart>.png` (the
//! divergences, each on its own axis).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::image::ImageMetrics;
use super::toy::{ToyMetrics, STRICT_COUNT};
use crate::error::{Error, Result};
use crate::io::{plot, write_atomic};

/// Which chart a metric is drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    /// `metrics.png`: counts and percentages, all within 0–100.
    Main,
    /// `metrics_kl.png`.
    Kl,
    /// `metrics_fd.png`.
    Frechet,
}

impl Chart {
    fn file(self) -> &'static str {
        match self {
            Chart::Main => "metrics.png",
            Chart::Kl => "metrics_kl.png",
            Chart::Frechet => "metrics_fd.png",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Chart::Main => "sample quality",
            Chart::Kl => "KL to uniform",
            Chart::Frechet => "Fréchet distance to held-out digits",
        }
    }

    fn y_label(self) -> &'static str {
        match self {
            Chart::Main => "count or %",
            Chart::Kl => "KL to uniform (nats)",
            Chart::Frechet => "Fréchet distance",
        }
    }
}

/// One value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// JSON and CSV key.
    pub key: &'static str,
    /// Table label.
    pub label: String,
    /// None where undefined (e.g. the KL without any high-quality sample).
    pub value: Option<f64>,
    /// How the table shows the value, e.g. `23 / 25`.
    pub shown: String,
    pub chart: Chart,
    /// A whole number (written to JSON as an integer).
    pub count: bool,
}

/// Counts per bin, with its JSON key and table label.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub key: &'static str,
    pub label: &'static str,
    pub counts: Vec<usize>,
}

/// What kind of evaluation a report holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Toy,
    Image,
    /// The metrics do not apply to this run's data (photographs, for instance).
    NotApplicable,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Toy => "toy",
            Kind::Image => "image",
            Kind::NotApplicable => "none",
        }
    }
}

/// The metrics of one evaluation of a generator.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub preset: String,
    pub step: u64,
    pub seed: u64,
    pub samples: usize,
    pub kind: Kind,
    pub metrics: Vec<Metric>,
    /// A per-bin histogram worth keeping: HQ samples per mode, predicted digits.
    pub histogram: Option<Histogram>,
    /// Why the metrics do not apply, or a caveat.
    pub note: Option<String>,
}

fn metric(
    key: &'static str,
    label: String,
    value: Option<f64>,
    shown: String,
    chart: Chart,
) -> Metric {
    Metric {
        key,
        label,
        value,
        shown,
        chart,
        count: false,
    }
}

/// A "c / of" count.
fn count(key: &'static str, label: String, c: usize, of: usize) -> Metric {
    Metric {
        count: true,
        ..metric(
            key,
            label,
            Some(c as f64),
            format!("{c} / {of}"),
            Chart::Main,
        )
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.digits$}"))
}

/// The rows of toy metrics.
pub fn toy_rows(m: &ToyMetrics) -> Vec<Metric> {
    let k = m.modes;
    vec![
        count(
            "modes_captured",
            "modes captured (≥ 1 high-quality sample)".into(),
            m.modes_captured,
            k,
        ),
        count(
            "modes_captured_strict",
            format!("modes captured (≥ {STRICT_COUNT} high-quality samples)"),
            m.modes_captured_strict,
            k,
        ),
        metric(
            "high_quality_pct",
            "high-quality samples (within 3σ of a centre)".into(),
            Some(m.high_quality_pct),
            format!("{:.1} %", m.high_quality_pct),
            Chart::Main,
        ),
        metric(
            "reverse_kl",
            "reverse KL of modes to uniform (nats)".into(),
            m.reverse_kl,
            opt(m.reverse_kl, 4),
            Chart::Kl,
        ),
    ]
}

/// The rows of image metrics.
pub fn image_rows(m: &ImageMetrics) -> Vec<Metric> {
    let k = m.targets.len();
    let mut v = vec![
        count(
            "classes_covered",
            "digits covered (predicted ≥ once)".into(),
            m.classes_covered,
            k,
        ),
        metric(
            "class_kl",
            "KL of predicted digits to uniform (nats)".into(),
            m.class_kl,
            opt(m.class_kl, 4),
            Chart::Kl,
        ),
        metric(
            "confidence_pct",
            "mean classifier confidence".into(),
            Some(m.confidence_pct),
            format!("{:.1} %", m.confidence_pct),
            Chart::Main,
        ),
        metric(
            "frechet_distance",
            "Fréchet distance to held-out digits".into(),
            Some(m.frechet),
            format!("{:.3}", m.frechet),
            Chart::Frechet,
        ),
    ];
    if k < 10 {
        v.push(metric(
            "off_target_pct",
            "samples classified as other digits".into(),
            Some(m.off_target_pct),
            format!("{:.1} %", m.off_target_pct),
            Chart::Main,
        ));
    }
    if let Some(a) = m.conditional_accuracy_pct {
        v.push(metric(
            "conditional_accuracy_pct",
            "asked for digit k, got digit k".into(),
            Some(a),
            format!("{a:.1} %"),
            Chart::Main,
        ));
    }
    v
}

impl Report {
    /// The metrics as a two-column table, preceded by one line saying what was judged.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} at step {}: {} samples (seed {})\n",
            self.preset, self.step, self.samples, self.seed
        );
        let width = self
            .metrics
            .iter()
            .map(|m| m.label.chars().count())
            .max()
            .unwrap_or(0);
        for m in &self.metrics {
            let pad = width - m.label.chars().count();
            s.push_str(&format!("  {}{}  {}\n", m.label, " ".repeat(pad), m.shown));
        }
        if let Some(h) = &self.histogram {
            let cells: Vec<String> = h.counts.iter().map(usize::to_string).collect();
            s.push_str(&format!("  {}: {}\n", h.label, cells.join(" ")));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!("{n}\n"));
        }
        s
    }

    /// The report as JSON: `preset`, `step`, `seed`, `samples`, `kind`, `metrics` (key →
    /// number or null), the histogram under its name, and `note` when there is one.
    pub fn to_json(&self) -> Value {
        let metrics: Map<String, Value> = self
            .metrics
            .iter()
            .map(|m| {
                let v = match m.value {
                    None => Value::Null,
                    Some(v) if m.count => json!(v as u64),
                    Some(v) => json!(v),
                };
                (m.key.to_string(), v)
            })
            .collect();
        let mut v = json!({
            "preset": self.preset,
            "step": self.step,
            "seed": self.seed,
            "samples": self.samples,
            "kind": self.kind.name(),
            "metrics": metrics,
        });
        if let Some(h) = &self.histogram {
            v[h.key] = json!(h.counts);
        }
        if let Some(n) = &self.note {
            v["note"] = json!(n);
        }
        v
    }

    /// Writes `run/metrics.json`.
    pub fn write_json(&self, run: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|e| Error::Data(format!("metrics.json: {e}")))?;
        write_atomic(&run.join("metrics.json"), format!("{text}\n").as_bytes())
    }
}

/// Records an evaluation made during training: replaces any rows of `metrics.csv` from this
/// step on (a resumed run repeats the steps after its checkpoint), appends this one, writes
/// `metrics.json` and redraws the charts. Reports without metrics only write the JSON.
pub fn record(run: &Path, report: &Report) -> Result<()> {
    report.write_json(run)?;
    if report.metrics.is_empty() {
        return Ok(());
    }
    let path = run.join("metrics.csv");
    let keys: Vec<&str> = report.metrics.iter().map(|m| m.key).collect();
    let header = format!("step,{}", keys.join(","));
    let mut rows: Vec<(u64, Vec<f64>)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut lines = text.lines();
        // Rows of another layout (a different preset wrote here) are dropped, not mixed in.
        if lines.next() == Some(header.as_str()) {
            for line in lines {
                let mut cells = line.split(',');
                let Some(Ok(step)) = cells.next().map(str::parse::<u64>) else {
                    continue;
                };
                let vals: Vec<f64> = cells.map(|c| c.parse().unwrap_or(f64::NAN)).collect();
                if step < report.step && vals.len() == keys.len() {
                    rows.push((step, vals));
                }
            }
        }
    }
    rows.push((
        report.step,
        report
            .metrics
            .iter()
            .map(|m| m.value.unwrap_or(f64::NAN))
            .collect(),
    ));
    let mut text = format!("{header}\n");
    for (step, vals) in &rows {
        let cells: Vec<String> = vals
            .iter()
            .map(|v| {
                if v.is_finite() {
                    v.to_string()
                } else {
                    String::new()
                }
            })
            .collect();
        text.push_str(&format!("{step},{}\n", cells.join(",")));
    }
    write_atomic(&path, text.as_bytes())?;
    for chart in [Chart::Main, Chart::Kl, Chart::Frechet] {
        let series: Vec<(&str, Vec<(f64, f64)>)> = report
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.chart == chart)
            .map(|(i, m)| {
                let pts = rows.iter().map(|(s, v)| (*s as f64, v[i])).collect();
                (m.key, pts)
            })
            .collect();
        if !series.is_empty() {
            let title = format!("{} — {}", report.preset, chart.title());
            plot::metric_curves(&run.join(chart.file()), &title, chart.y_label(), &series)?;
        }
    }
    Ok(())
}
