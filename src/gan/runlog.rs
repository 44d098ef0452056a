//! The per-step loss log: values stay on the GPU until the next log point, then every pending
//! step is read back in one round trip, checked for NaN/Inf and appended to `losses.csv`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::step::Losses;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One logged row.
#[derive(Clone, Debug)]
pub struct Row {
    pub step: u64,
    pub epoch: u64,
    pub values: Vec<f32>,
    pub seconds: f64,
}

pub struct RunLog {
    path: PathBuf,
    columns: Vec<String>,
    pending: Vec<(u64, u64, f64, Vec<Tensor>)>,
    /// Every row logged so far (for the loss-curve plot).
    pub rows: Vec<Row>,
}

impl RunLog {
    /// Opens `dir/losses.csv`, keeping rows up to `keep_until` (for resume) and dropping the rest.
    pub fn open(dir: &Path, value_columns: &[&str], keep_until: u64) -> Result<RunLog> {
        let path = dir.join("losses.csv");
        let mut columns = vec!["d_loss".to_string(), "g_loss".to_string()];
        columns.extend(value_columns.iter().map(|s| s.to_string()));
        let mut rows = Vec::new();
        if path.exists() && keep_until > 0 {
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            for line in BufReader::new(f).lines().skip(1) {
                let line = line.map_err(|e| Error::io(&path, e))?;
                let cells: Vec<&str> = line.split(',').collect();
                if cells.len() != columns.len() + 3 {
                    continue;
                }
                let parse = |s: &str| s.parse::<f64>().ok();
                let (Some(step), Some(epoch)) = (parse(cells[0]), parse(cells[1])) else {
                    continue;
                };
                if step as u64 > keep_until {
                    break;
                }
                rows.push(Row {
                    step: step as u64,
                    epoch: epoch as u64,
                    values: cells[2..2 + columns.len()]
                        .iter()
                        .map(|c| c.parse().unwrap_or(f32::NAN))
                        .collect(),
                    seconds: parse(cells[cells.len() - 1]).unwrap_or(0.0),
                });
            }
        }
        let log = RunLog {
            path,
            columns,
            pending: Vec::new(),
            rows,
        };
        log.rewrite()?;
        Ok(log)
    }

    fn header(&self) -> String {
        format!("step,epoch,{},seconds\n", self.columns.join(","))
    }

    fn format(row: &Row) -> String {
        let vals: Vec<String> = row.values.iter().map(|v| format!("{v}")).collect();
        format!(
            "{},{},{},{:.3}\n",
            row.step,
            row.epoch,
            vals.join(","),
            row.seconds
        )
    }

    fn rewrite(&self) -> Result<()> {
        let mut text = self.header();
        for r in &self.rows {
            text.push_str(&Self::format(r));
        }
        crate::io::write_atomic(&self.path, text.as_bytes())
    }

    /// Queues a step's losses (no GPU sync).
    pub fn push(&mut self, step: u64, epoch: u64, seconds: f64, losses: &Losses) {
        let mut t = vec![losses.d.clone(), losses.g.clone()];
        t.extend(losses.extras.iter().map(|(_, v)| v.clone()));
        self.pending.push((step, epoch, seconds, t));
    }

    /// Reads back every queued step, appends the rows, and fails on a non-finite value.
    ///
    /// A step's `seconds` is taken when the host finished recording it, which (with
    /// [`crate::gpu::Gpu::pace`]) is within one step of the device finishing it; the last row
    /// read back is stamped with `clock()` after the read-back, when the device is known to be
    /// done with it, so the run's final time is exact.
    pub fn flush(&mut self, clock: impl FnOnce() -> f64) -> Result<Option<Row>> {
        if self.pending.is_empty() {
            return Ok(self.rows.last().cloned());
        }
        let all: Vec<&Tensor> = self
            .pending
            .iter()
            .flat_map(|(_, _, _, t)| t.iter())
            .collect();
        let values = Tensor::read_all(&all)?;
        if let Some(last) = self.pending.last_mut() {
            last.2 = last.2.max(clock());
        }
        let mut it = values.into_iter().map(|v| v[0]);
        let mut out = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        let mut bad: Option<String> = None;
        for (step, epoch, seconds, t) in std::mem::take(&mut self.pending) {
            let vals: Vec<f32> = (0..t.len())
                .map(|_| it.next().expect("one value per tensor"))
                .collect();
            if bad.is_none() {
                if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
                    bad = Some(format!("step {step}: {} is {}", self.columns[i], vals[i]));
                }
            }
            let row = Row {
                step,
                epoch,
                values: vals,
                seconds,
            };
            out.write_all(Self::format(&row).as_bytes())
                .map_err(|e| Error::io(&self.path, e))?;
            self.rows.push(row);
        }
        if let Some(b) = bad {
            return Err(Error::NonFinite(b));
        }
        Ok(self.rows.last().cloned())
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}
