//! A folder of PNG/JPEG images (searched recursively, in sorted order): each image is centre
//! cropped to a square, resized to `size × size` with a linear filter, and converted to RGB or
//! grayscale bytes. Only regular files (links followed) are read: a FIFO or socket with an
//! image's name is skipped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::error::{Error, Result};

/// Decoded images as bytes, `[count, channels, size, size]` (planar, like a CHW tensor).
pub struct FolderImages {
    pub count: usize,
    pub channels: usize,
    pub size: usize,
    pub pixels: Vec<u8>,
}

/// Adds the image files under `dir` to `out`; returns how many files with an image name were
/// skipped for not being regular files.
fn list(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<usize> {
    // Symbolic links are followed (a data set may live elsewhere), but each real folder is
    // read once: a link to a parent would otherwise repeat images or never end.
    let real = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    if !seen.insert(real) {
        return Ok(0);
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<Vec<_>>>()?;
    // Name order, so that which path reaches a linked folder first (and so the image order
    // and what `limit` keeps) does not depend on the file system.
    entries.sort();
    let mut skipped = 0;
    for p in entries {
        if p.is_dir() {
            skipped += list(&p, out, seen)?;
        } else if let Some(ext) = p.extension().and_then(|x| x.to_str()) {
            if !matches!(ext.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg") {
                continue;
            }
            // A FIFO, socket or device named like an image would block or fail the decoder
            // (opening a FIFO waits for a writer forever): only regular files are images.
            if !std::fs::metadata(&p)
                .map_err(|e| Error::io(&p, e))?
                .is_file()
            {
                skipped += 1;
                continue;
            }
            // Images are read once too, however many links lead to them.
            if seen.insert(std::fs::canonicalize(&p).map_err(|e| Error::io(&p, e))?) {
                out.push(p);
            }
        }
    }
    Ok(skipped)
}

/// Loads up to `limit` images from `dir`.
pub fn load(
    dir: &Path,
    size: usize,
    channels: usize,
    limit: Option<usize>,
) -> Result<FolderImages> {
    if !dir.is_dir() {
        return Err(Error::Data(format!("{}: no such folder", dir.display())));
    }
    if channels != 1 && channels != 3 {
        return Err(Error::Config(format!(
            "images have 1 or 3 channels, not {channels}"
        )));
    }
    let mut files = Vec::new();
    let skipped = list(dir, &mut files, &mut HashSet::new())?;
    files.sort();
    if let Some(l) = limit {
        files.truncate(l);
    }
    if files.is_empty() {
        let skipped = match skipped {
            0 => String::new(),
            n => format!("; skipped {n} named like images that are not regular files"),
        };
        return Err(Error::Data(format!(
            "{}: no PNG or JPEG images in this folder (searched recursively{skipped})",
            dir.display()
        )));
    }
    let plane = size * size;
    let mut pixels = Vec::with_capacity(files.len() * channels * plane);
    for f in &files {
        let img = image::open(f)
            .map_err(|e| Error::Data(format!("{}: cannot decode image ({e})", f.display())))?;
        let (w, h) = (img.width(), img.height());
        let side = w.min(h);
        let sq = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
        let resized = sq.resize_exact(size as u32, size as u32, FilterType::Triangle);
        if channels == 1 {
            pixels.extend_from_slice(resized.to_luma8().as_raw());
        } else {
            let rgb = resized.to_rgb8();
            let raw = rgb.as_raw();
            for c in 0..3 {
                pixels.extend((0..plane).map(|i| raw[3 * i + c]));
            }
        }
    }
    Ok(FolderImages {
        count: files.len(),
        channels,
        size,
        pixels,
    })
}

/// Resizes square single-channel images from `from × from` to `to × to` (linear filter).
pub fn resize_gray(pixels: &[u8], count: usize, from: usize, to: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * to * to);
    for i in 0..count {
        let src = &pixels[i * from * from..(i + 1) * from * from];
        let img = image::GrayImage::from_raw(from as u32, from as u32, src.to_vec())
            .expect("buffer matches the image size");
        let r = image::imageops::resize(&img, to as u32, to as u32, FilterType::Triangle);
        out.extend_from_slice(r.as_raw());
    }
    out
}
