//! NumPy `.npy` files of f32 and i64 arrays, so raw outputs (samples, the critic's
//! potential, class labels) can be analysed with `numpy.load` without any tapegan code.
//!
//! Only what tapegan writes is supported: format version 1.0 (2.0 and 3.0 are read too),
//! little-endian `<f4` or `<i8`, C order. The header is padded with spaces so the data starts at a
//! multiple of 64 bytes, as NumPy itself does, and ends in `'\n'`.

use std::path::Path;

use super::write_atomic;
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// An element type of the files: its NumPy `descr` and how it turns into bytes.
trait Element: Copy {
    const DESCR: &'static str;
    const SIZE: usize;
    /// Appends the little-endian bytes of `self` to `out`.
    fn put(self, out: &mut Vec<u8>);
    fn from_le(bytes: &[u8]) -> Self;
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn from_le(bytes: &[u8]) -> Self {
        f32::from_le_bytes(bytes.try_into().expect("4 bytes"))
    }
}

impl Element for i64 {
    const DESCR: &'static str = "<i8";
    const SIZE: usize = 8;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn from_le(bytes: &[u8]) -> Self {
        i64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }
}

/// The `.npy` v1.0 header (magic, version, length, dict, padding) for an array of `shape`
/// with elements of NumPy type `descr`.
fn header(shape: &[usize], descr: &str) -> Vec<u8> {
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
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
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
    write(path, shape, data)
}

/// Writes `data` (C order) as a NumPy `.npy` file of dtype `<i8` (int64, what PyTorch and
/// NumPy use for class labels) and `shape` (atomically).
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<()> {
    write(path, shape, data)
}

fn write<T: Element>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::Data(format!(
            "{}: shape {shape:?} needs {n} values but {} were given",
            path.display(),
            data.len()
        )));
    }
    let mut buf = header(shape, T::DESCR);
    if buf.len() - 10 > u16::MAX as usize {
        return Err(Error::Data(format!(
            "{}: shape {shape:?} is too long for a .npy v1.0 header",
            path.display()
        )));
    }
    buf.reserve(data.len() * T::SIZE);
    for &v in data {
        v.put(&mut buf);
    }
    write_atomic(path, &buf)
}

/// Reads a `.npy` file of little-endian f32 (`<f4`) in C order: its shape and data.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    read(path)
}

/// Reads a `.npy` file of little-endian int64 (`<i8`) in C order: its shape and data.
pub fn read_npy_i64(path: &Path) -> Result<(Vec<usize>, Vec<i64>)> {
    read(path)
}

fn read<T: Element>(path: &Path) -> Result<(Vec<usize>, Vec<T>)> {
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
    if descr != Some(T::DESCR) {
        return Err(bad(&format!(
            "dtype {} where '{}' was expected",
            descr.map_or("unknown".to_string(), |d| format!("'{d}'")),
            T::DESCR
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
    if data.len() != n * T::SIZE {
        return Err(bad(&format!(
            "shape {shape:?} needs {} bytes of data but the file holds {} (truncated?)",
            n * T::SIZE,
            data.len()
        )));
    }
    let values = data.chunks_exact(T::SIZE).map(T::from_le).collect();
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
    fn int64_round_trip_and_dtype_check() {
        let d = test_dir("npy-i64");
        let p = d.join("labels.npy");
        let labels = vec![0i64, 9, -1, i64::MAX];
        write_npy_i64(&p, &[2, 2], &labels).unwrap();
        assert_eq!(read_npy_i64(&p).unwrap(), (vec![2, 2], labels));
        assert!(String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains("'descr': '<i8'"));
        let err = read_npy_f32(&p).unwrap_err().to_string();
        assert!(err.contains("'<i8' where '<f4' was expected"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn exact_header_bytes() {
        let h = header(&[2, 3], "<f4");
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        let mut want = b"\x93NUMPY\x01\x00".to_vec();
        want.extend_from_slice(&118u16.to_le_bytes()); // 128 − 10 bytes of dict and padding
        want.extend_from_slice(dict.as_bytes());
        want.extend(std::iter::repeat_n(b' ', 118 - dict.len() - 1));
        want.push(b'\n');
        assert_eq!(h, want);
        assert_eq!(h.len(), 128);
        for shape in [&[][..], &[7], &[100_000, 3, 64, 64]] {
            let h = header(shape, "<f4");
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        assert!(String::from_utf8_lossy(&header(&[], "<f4")).contains("'shape': (), }"));
        assert!(String::from_utf8_lossy(&header(&[7], "<f4")).contains("'shape': (7,), }"));
    }
}
