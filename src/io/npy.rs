//! NumPy `.npy` files of f32 arrays, so raw outputs (samples, the critic's potential) can be
//! analysed with `numpy.load` without any tapegan code.
//!
//! Only what tapegan writes is supported: format version 1.0 (2.0 and 3.0 are read too),
//! little-endian `<f4`, C order. The header is padded with spaces so the data starts at a
//! multiple of 64 bytes, as NumPy itself does, and ends in `'\n'`.

use std::path::Path;

use super::write_atomic;
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The `.npy` v1.0 header (magic, version, length, dict, padding) for an f32 array of `shape`.
fn header(shape: &[usize]) -> Vec<u8> {
    // Python's tuple syntax: `()`, `(5,)`, `(2, 3)`.
    let dims = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // 6 magic + 2 version + 2 length bytes precede the dict; the dict ends in '\n'.
    let total = (10 + dict.len() + 1).next_multiple_of(64);
    dict.extend(std::iter::repeat_n(' ', total - 10 - dict.len() - 1));
    dict.push('\n');
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[1, 0]);
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

/// Writes `data` (C order) as a NumPy `.npy` file of dtype `<f4` and `shape` (atomically).
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::Data(format!(
            "{}: shape {shape:?} needs {n} values but {} were given",
            path.display(),
            data.len()
        )));
    }
    let mut buf = header(shape);
    if buf.len() - 10 > u16::MAX as usize {
        return Err(Error::Data(format!(
            "{}: shape {shape:?} is too long for a .npy v1.0 header",
            path.display()
        )));
    }
    buf.reserve(data.len() * 4);
    buf.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    write_atomic(path, &buf)
}

/// Reads a `.npy` file of little-endian f32 (`<f4`) in C order: its shape and data.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |what: &str| Error::Data(format!("{}: {what}", path.display()));
    if buf.len() < 10 || &buf[..6] != MAGIC {
        return Err(bad("not a NumPy .npy file (bad magic)"));
    }
    // v1.0 has a 2-byte header length; v2.0 and v3.0 (UTF-8 header) a 4-byte one.
    let (len, start) = match buf[6] {
        1 => (u16::from_le_bytes([buf[8], buf[9]]) as usize, 10),
        2 | 3 if buf.len() >= 12 => (
            u32::from_le_bytes(buf[8..12].try_into().unwrap()) as usize,
            12,
        ),
        v => return Err(bad(&format!("unsupported .npy format version {v}"))),
    };
    let dict = buf
        .get(start..start + len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| bad("truncated or corrupt .npy header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = field("descr").and_then(|s| s.strip_prefix('\'')?.split('\'').next());
    if descr != Some("<f4") {
        return Err(bad(&format!(
            "dtype {descr:?} is not little-endian float32 ('<f4')"
        )));
    }
    if !field("fortran_order").is_some_and(|s| s.starts_with("False")) {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let dims = field("shape")
        .and_then(|s| s.strip_prefix('(')?.split(')').next())
        .ok_or_else(|| bad("no shape in .npy header"))?;
    let shape = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .map_err(|_| bad(&format!("bad dimension '{d}' in shape")))
        })
        .collect::<Result<Vec<_>>>()?;
    let n: usize = shape.iter().product();
    let data = &buf[start + len..];
    if data.len() != n * 4 {
        return Err(bad(&format!(
            "shape {shape:?} needs {} bytes of data but the file holds {} (truncated?)",
            n * 4,
            data.len()
        )));
    }
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;

    #[test]
    fn round_trip() {
        let d = test_dir("npy");
        for shape in [vec![], vec![5], vec![2, 3], vec![2, 1, 2, 2]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let p = d.join("a.npy");
            write_npy_f32(&p, &shape, &data).unwrap();
            assert_eq!(read_npy_f32(&p).unwrap(), (shape, data));
        }
        assert!(write_npy_f32(&d.join("b.npy"), &[2, 2], &[1.0]).is_err());
        let p = d.join("a.npy");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        assert!(read_npy_f32(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn exact_header_bytes() {
        let h = header(&[2, 3]);
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        let mut want = b"\x93NUMPY\x01\x00".to_vec();
        want.extend_from_slice(&118u16.to_le_bytes()); // 128 − 10 bytes of dict and padding
        want.extend_from_slice(dict.as_bytes());
        want.extend(std::iter::repeat_n(b' ', 118 - dict.len() - 1));
        want.push(b'\n');
        assert_eq!(h, want);
        assert_eq!(h.len(), 128);
        for shape in [&[][..], &[7], &[100_000, 3, 64, 64]] {
            let h = header(shape);
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        assert!(String::from_utf8_lossy(&header(&[])).contains("'shape': (), }"));
        assert!(String::from_utf8_lossy(&header(&[7])).contains("'shape': (7,), }"));
    }
}
