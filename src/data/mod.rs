//! Training data: MNIST IDX files, image folders and 2-D mixtures, loaded on the host once,
//! then kept on the GPU (see [`loader`]) and served as shuffled batches.
//!
//! A data set is named by a spec string:
//! - `mnist` — the MNIST subset shipped in `assets/mnist`; `mnist:DIR` — MNIST IDX files in DIR
//!   (`train-*` files; `mnist-test[:DIR]` reads the held-out `t10k-*` files);
//! - `images:DIR` — a folder of PNG/JPEG images;
//! - `grid25`, `ring8` — the 2-D Gaussian mixtures of the toy experiments.

mod folder;
pub mod idx;
pub mod loader;
pub mod mixtures;

use std::path::{Path, PathBuf};

pub use loader::{Batch, DataLoader};
pub use mixtures::Mixture;

use crate::error::{Error, Result};

/// Which data set.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    Mnist { dir: PathBuf, test_split: bool },
    Images { dir: PathBuf },
    Mixture(Mixture),
}

/// The shipped MNIST subset (see [`crate::io::shipped_asset`]).
pub fn default_mnist_dir() -> PathBuf {
    crate::io::shipped_asset("assets/mnist")
}

impl std::str::FromStr for DataSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<DataSpec> {
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        if arg == Some("") && matches!(kind, "mnist" | "mnist-test" | "images") {
            return Err(Error::Config(format!(
                "data set '{s}' names no folder after the colon; write {kind}:DIR{}",
                if kind == "images" {
                    String::new()
                } else {
                    format!(", or {kind} alone for the shipped subset")
                }
            )));
        }
        let dir = |a: Option<&str>| a.map(PathBuf::from);
        Ok(match kind {
            "mnist" => DataSpec::Mnist { dir: dir(arg).unwrap_or_else(default_mnist_dir), test_split: false },
            "mnist-test" => DataSpec::Mnist { dir: dir(arg).unwrap_or_else(default_mnist_dir), test_split: true },
            "images" => DataSpec::Images {
                dir: dir(arg).ok_or_else(|| Error::Config("images:DIR needs a folder".into()))?,
            },
            "grid25" | "ring8" if arg.is_some() => {
                return Err(Error::Config(format!(
                    "data set {kind} is generated, not read: '{s}' takes no folder"
                )))
            }
            "grid25" => DataSpec::Mixture(Mixture::Grid25),
            "ring8" => DataSpec::Mixture(Mixture::Ring8),
            _ => {
                return Err(Error::Config(format!(
                    "unknown data set '{s}'; use mnist, mnist:DIR, mnist-test[:DIR], images:DIR, grid25 or ring8"
                )))
            }
        })
    }
}

/// `spec` with the folder it names made absolute (`images:data` → `images:/home/me/data`);
/// specs without a folder (`mnist`, `grid25`) are returned unchanged: the shipped subset is
/// found from the source tree, wherever it is.
pub fn absolute_spec(spec: &str) -> Result<String> {
    let parsed: DataSpec = spec.parse()?;
    match spec.split_once(':') {
        Some((kind, dir)) if !matches!(parsed, DataSpec::Mixture(_)) => {
            let abs = std::path::absolute(dir).map_err(|e| Error::io(Path::new(dir), e))?;
            // A path that is not UTF-8 (the current folder's name, say) cannot be written to
            // config.toml as it is; the relative spec still works from this folder.
            Ok(match abs.into_os_string().into_string() {
                Ok(abs) => format!("{kind}:{abs}"),
                Err(_) => spec.to_string(),
            })
        }
        _ => Ok(spec.to_string()),
    }
}

impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSpec::Mnist { dir, test_split } => {
                write!(
                    f,
                    "{}:{}",
                    if *test_split { "mnist-test" } else { "mnist" },
                    dir.display()
                )
            }
            DataSpec::Images { dir } => write!(f, "images:{}", dir.display()),
            DataSpec::Mixture(Mixture::Grid25) => f.write_str("grid25"),
            DataSpec::Mixture(Mixture::Ring8) => f.write_str("ring8"),
        }
    }
}

/// How to shape the loaded samples.
#[derive(Clone, Debug, PartialEq)]
pub struct DataOptions {
    /// Side of the square images served (0 keeps the stored size).
    pub image_size: usize,
    /// 1 (grayscale) or 3 (RGB) channels for image folders.
    pub channels: usize,
    /// Keep only these digit classes (MNIST).
    pub digits: Option<Vec<u32>>,
    /// Keep at most this many samples.
    pub limit: Option<usize>,
    /// Toy mixtures: standard deviation, divisor of all coordinates, points per mode, seed.
    pub toy_std: f32,
    pub toy_scale: f32,
    pub toy_per_mode: usize,
    pub seed: u64,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            image_size: 0,
            channels: 1,
            digits: None,
            limit: None,
            toy_std: 0.05,
            toy_scale: 1.0,
            toy_per_mode: 4000,
            seed: 0,
        }
    }
}

/// Sample values: image bytes (served as x/127.5 − 1) or raw floats.
pub enum Samples {
    Bytes(Vec<u8>),
    Floats(Vec<f32>),
}

/// A data set in host memory.
pub struct HostData {
    pub samples: Samples,
    pub count: usize,
    /// Shape of one sample, e.g. `[1, 28, 28]` or `[2]`.
    pub sample_shape: Vec<usize>,
    pub labels: Option<Vec<u32>>,
    /// Number of label classes (0 when unlabelled).
    pub classes: usize,
    /// Mode centres for mixtures (already scaled).
    pub centres: Option<Vec<[f32; 2]>>,
}

impl HostData {
    /// Values of one sample per element of `sample_shape`.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// One line describing the data, for logs.
    pub fn describe(&self) -> String {
        let mut s = format!("{} samples of shape {:?}", self.count, self.sample_shape);
        if self.classes > 0 {
            s.push_str(&format!(", {} classes", self.classes));
        }
        s
    }
}

/// Loads the data set `spec` names.
pub fn load(spec: &DataSpec, opts: &DataOptions) -> Result<HostData> {
    match spec {
        DataSpec::Mnist { dir, test_split } => load_mnist(dir, *test_split, opts),
        DataSpec::Images { dir } => {
            let size = if opts.image_size == 0 {
                64
            } else {
                opts.image_size
            };
            let f = folder::load(dir, size, opts.channels, opts.limit)?;
            Ok(HostData {
                samples: Samples::Bytes(f.pixels),
                count: f.count,
                sample_shape: vec![f.channels, f.size, f.size],
                labels: None,
                classes: 0,
                centres: None,
            })
        }
        DataSpec::Mixture(m) => {
            let mut pts = mixtures::sample(
                *m,
                opts.toy_per_mode,
                opts.toy_std,
                opts.toy_scale,
                opts.seed,
            );
            let mut count = pts.len() / 2;
            if let Some(l) = opts.limit {
                count = count.min(l);
                pts.truncate(2 * count);
            }
            let centres = m
                .centres()
                .iter()
                .map(|c| [c[0] / opts.toy_scale, c[1] / opts.toy_scale])
                .collect();
            Ok(HostData {
                samples: Samples::Floats(pts),
                count,
                sample_shape: vec![2],
                labels: None,
                classes: 0,
                centres: Some(centres),
            })
        }
    }
}

fn load_mnist(dir: &Path, test_split: bool, opts: &DataOptions) -> Result<HostData> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is a file, not a folder"
        } else {
            "no such folder"
        };
        return Err(Error::Data(format!(
            "{}: {what} (expected a folder of MNIST IDX files)",
            dir.display()
        )));
    }
    let prefix = if test_split { "t10k" } else { "train" };
    let images = idx::read_images(&idx::find(dir, &format!("{prefix}-images-idx3-ubyte"))?)?;
    let labels = idx::read_labels(&idx::find(dir, &format!("{prefix}-labels-idx1-ubyte"))?)?;
    if labels.len() != images.count {
        return Err(Error::Data(format!(
            "{}: {} images but {} labels",
            dir.display(),
            images.count,
            labels.len()
        )));
    }
    if images.rows != images.cols {
        return Err(Error::Data(format!(
            "{}: images are {}×{}, not square",
            dir.display(),
            images.rows,
            images.cols
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l > 9) {
        return Err(Error::Data(format!(
            "{}: label {bad} is not a digit",
            dir.display()
        )));
    }
    let side = images.rows;
    let plane = side * side;
    let mut keep: Vec<usize> = (0..images.count)
        .filter(|&i| {
            opts.digits
                .as_ref()
                .is_none_or(|d| d.contains(&(labels[i] as u32)))
        })
        .collect();
    if let Some(l) = opts.limit {
        keep.truncate(l);
    }
    if keep.is_empty() {
        let digits: Vec<String> = opts
            .digits
            .iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        return Err(Error::Data(format!(
            "{}: no images of the digits {} (set digits to ones the data holds)",
            dir.display(),
            digits.join(", ")
        )));
    }
    let mut pixels = Vec::with_capacity(keep.len() * plane);
    for &i in &keep {
        pixels.extend_from_slice(&images.pixels[i * plane..(i + 1) * plane]);
    }
    let size = if opts.image_size == 0 {
        side
    } else {
        opts.image_size
    };
    if size != side {
        pixels = folder::resize_gray(&pixels, keep.len(), side, size);
    }
    if opts.channels == 3 {
        // Grayscale digits as RGB: the same plane three times (a stand-in for colour data).
        let plane = size * size;
        pixels = pixels
            .chunks(plane)
            .flat_map(|p| p.iter().chain(p).chain(p).copied())
            .collect();
    }
    Ok(HostData {
        samples: Samples::Bytes(pixels),
        count: keep.len(),
        sample_shape: vec![opts.channels, size, size],
        labels: Some(keep.iter().map(|&i| labels[i] as u32).collect()),
        classes: 10,
        centres: None,
    })
}
