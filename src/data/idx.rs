//! MNIST's IDX format (big-endian header, then raw bytes), plain or gzip-compressed (detected
//! by the gzip magic, not the file name).
//!
//! Images: magic 0x00000803, count, rows, cols, then count·rows·cols bytes.
//! Labels: magic 0x00000801, count, then count bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ByteOrder};

use crate::error::{Error, Result};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Decoded IDX images: `count` images of `rows × cols` bytes each.
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads a whole file, inflating it if it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::Data(format!("{}: corrupt gzip data ({e})", path.display())))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn header(path: &Path, data: &[u8], words: usize, magic: u32, what: &str) -> Result<Vec<usize>> {
    if data.len() < 4 * words {
        return Err(Error::Data(format!(
            "{}: too short for an IDX {what} header ({} bytes)",
            path.display(),
            data.len()
        )));
    }
    let got = BigEndian::read_u32(&data[..4]);
    if got != magic {
        return Err(Error::Data(format!(
            "{}: not an IDX {what} file (magic 0x{got:08x}, expected 0x{magic:08x})",
            path.display()
        )));
    }
    Ok((1..words)
        .map(|i| BigEndian::read_u32(&data[4 * i..]) as usize)
        .collect())
}

/// Reads an IDX image file.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let data = read_maybe_gz(path)?;
    let h = header(path, &data, 4, IMAGES_MAGIC, "image")?;
    let (count, rows, cols) = (h[0], h[1], h[2]);
    if count == 0 || rows == 0 || cols == 0 {
        return Err(Error::Data(format!(
            "{}: holds no pixels ({count} images of {rows}×{cols})",
            path.display()
        )));
    }
    let need = count
        .checked_mul(rows)
        .and_then(|x| x.checked_mul(cols))
        .ok_or_else(|| Error::Data(format!("{}: implausible header sizes", path.display())))?;
    let body = &data[16..];
    if body.len() < need {
        return Err(Error::Data(format!(
            "{}: truncated: header promises {count} images of {rows}×{cols} ({need} bytes), file holds {}",
            path.display(),
            body.len()
        )));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: body[..need].to_vec(),
    })
}

/// Reads an IDX label file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let data = read_maybe_gz(path)?;
    let h = header(path, &data, 2, LABELS_MAGIC, "label")?;
    let count = h[0];
    let body = &data[8..];
    if body.len() < count {
        return Err(Error::Data(format!(
            "{}: truncated: header promises {count} labels, file holds {}",
            path.display(),
            body.len()
        )));
    }
    Ok(body[..count].to_vec())
}

/// Finds `<stem>` or `<stem>.gz` in `dir` (also MNIST's dotted spelling `train-images.idx3-ubyte`).
pub fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    for name in [
        stem.to_string(),
        format!("{stem}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::Data(format!(
        "{}: no {stem}[.gz] here; point --data mnist:DIR at a folder with MNIST's IDX files",
        dir.display()
    )))
}
