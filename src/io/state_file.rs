//! State dicts as safetensors files.
//!
//! [`write_state`] stores a state dict the way `safetensors.torch.save_file` would: f32
//! tensors with their shapes, and integer counters (`num_batches_tracked`) as int64 scalars,
//! so `model.load_state_dict(safetensors.torch.load_file(path))` accepts the file unchanged.
//! [`read_state`] also accepts files written elsewhere (f64/f16/bf16 and integer tensors),
//! and says what is wrong with a truncated or corrupt file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};

use super::write_atomic;
use crate::error::{Error, Result};
use crate::nn::HostValue;

/// Writes a state dict to a safetensors file at `path` (atomically: `<path>.tmp`, fsync,
/// rename). `HostValue::F32` becomes an F32 tensor of its shape, `HostValue::Int` an I64
/// scalar of shape `[]`. `metadata` goes into the header's `__metadata__` (string to string).
pub fn write_state(
    path: &Path,
    entries: &[(String, HostValue)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let file = path.display();
    // Little-endian bytes of every entry first: TensorView borrows them.
    let mut seen = HashSet::new();
    let mut bytes: Vec<(Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if !seen.insert(name.as_str()) {
            return Err(Error::Data(format!(
                "{file}: key '{name}' appears twice in the state dict"
            )));
        }
        bytes.push(match value {
            HostValue::F32 { shape, data } => {
                let n: usize = shape.iter().product();
                if n != data.len() {
                    return Err(Error::Data(format!(
                        "{file}: '{name}' has shape {shape:?} ({n} values) but {} values",
                        data.len()
                    )));
                }
                let b = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (Dtype::F32, shape.clone(), b)
            }
            HostValue::Int(i) => (Dtype::I64, Vec::new(), i.to_le_bytes().to_vec()),
        });
    }
    let views = entries
        .iter()
        .zip(&bytes)
        .map(|((name, _), (dtype, shape, b))| {
            TensorView::new(*dtype, shape.clone(), b)
                .map(|v| (name.as_str(), v))
                .map_err(|e| Error::Data(format!("{file}: '{name}': {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    // No `__metadata__` at all when there is none, as PyTorch writes it.
    let meta = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    let buf = safetensors::serialize(views, meta)
        .map_err(|e| Error::Data(format!("{file}: cannot encode safetensors: {e}")))?;
    write_atomic(path, &buf)
}

/// Reads a safetensors file into host values and its `__metadata__`.
///
/// F32 tensors are read as they are; F64, F16 and BF16 are converted to f32. Integer and bool
/// scalars (shape `[]`) become [`HostValue::Int`]; integer tensors of any other shape are
/// converted to f32. Errors are one line naming the file: missing file, not a safetensors
/// file, corrupt header, truncated data, unsupported dtype.
pub fn read_state(path: &Path) -> Result<(HashMap<String, HostValue>, BTreeMap<String, String>)> {
    let buf = fs::read(path).map_err(|e| Error::io(path, e))?;
    // The header is parsed twice (once for `__metadata__`, which `SafeTensors` does not
    // expose): it is a few kilobytes, negligible beside the tensor data.
    let (_, header) = SafeTensors::read_metadata(&buf).map_err(|e| describe(path, &buf, e))?;
    let st = SafeTensors::deserialize(&buf).map_err(|e| describe(path, &buf, e))?;
    let file = path.display();
    let mut out = HashMap::with_capacity(st.len());
    for (name, view) in st.iter() {
        let shape = view.shape().to_vec();
        let value = match view.dtype() {
            Dtype::F32 => HostValue::F32 {
                shape,
                data: decode(view.data(), f32::from_le_bytes),
            },
            Dtype::F64 => HostValue::F32 {
                shape,
                data: decode(view.data(), |b| f64::from_le_bytes(b) as f32),
            },
            Dtype::F16 => HostValue::F32 {
                shape,
                data: decode(view.data(), |b| f16_to_f32(u16::from_le_bytes(b))),
            },
            Dtype::BF16 => HostValue::F32 {
                shape,
                data: decode(view.data(), |b| {
                    f32::from_bits((u16::from_le_bytes(b) as u32) << 16)
                }),
            },
            dt => {
                let ints: Vec<i64> = match dt {
                    Dtype::I64 => decode(view.data(), i64::from_le_bytes),
                    Dtype::I32 => decode(view.data(), |b| i32::from_le_bytes(b) as i64),
                    Dtype::I16 => decode(view.data(), |b| i16::from_le_bytes(b) as i64),
                    Dtype::I8 => decode(view.data(), |b: [u8; 1]| b[0] as i8 as i64),
                    Dtype::U64 => decode(view.data(), |b| u64::from_le_bytes(b) as i64),
                    Dtype::U32 => decode(view.data(), |b| u32::from_le_bytes(b) as i64),
                    Dtype::U16 => decode(view.data(), |b| u16::from_le_bytes(b) as i64),
                    Dtype::U8 | Dtype::BOOL => decode(view.data(), |b: [u8; 1]| b[0] as i64),
                    other => {
                        return Err(Error::Data(format!(
                            "{file}: tensor '{name}' has dtype {other}, which tapegan cannot read \
                             (use F32, F64, F16, BF16 or an integer type)"
                        )))
                    }
                };
                if shape.is_empty() {
                    HostValue::Int(ints[0])
                } else {
                    HostValue::F32 {
                        shape,
                        data: ints.into_iter().map(|i| i as f32).collect(),
                    }
                }
            }
        };
        out.insert(name.to_string(), value);
    }
    let meta = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((out, meta))
}

/// Little-endian elements of `N` bytes each, decoded by `f`.
fn decode<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunk of N bytes")))
        .collect()
}

/// IEEE half to f32 (subnormals, infinities and NaN included); small enough not to need a crate.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        // Subnormal: value = frac · 2⁻²⁴.
        (0, _) => {
            let v = frac as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// One line saying what is wrong with a file safetensors refused.
fn describe(path: &Path, buf: &[u8], e: SafeTensorError) -> Error {
    let file = path.display();
    let len = buf.len();
    let header_len = buf
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    let msg = match e {
        SafeTensorError::HeaderTooSmall => {
            format!("{file}: not a safetensors file (only {len} bytes, shorter than the 8-byte header length)")
        }
        SafeTensorError::InvalidHeaderLength | SafeTensorError::HeaderTooLarge => format!(
            "{file}: not a safetensors file or truncated: the header claims {} bytes but the file has {len}",
            header_len.unwrap_or(0)
        ),
        SafeTensorError::InvalidHeader(_)
        | SafeTensorError::InvalidHeaderStart
        | SafeTensorError::InvalidHeaderDeserialization(_)
        | SafeTensorError::JsonError(_) => {
            format!("{file}: not a safetensors file or its header is corrupt ({e})")
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            let have = len as u64 - 8 - header_len.unwrap_or(0);
            match described_data_len(buf) {
                Some(want) if want > have => format!(
                    "{file}: truncated: the header describes {want} bytes of tensor data but the file holds {have}"
                ),
                Some(want) => format!(
                    "{file}: corrupt: {} stray bytes after the {want} bytes of tensor data",
                    have - want
                ),
                None => format!("{file}: corrupt: tensor data does not match the header"),
            }
        }
        other => format!("{file}: corrupt safetensors file ({other})"),
    };
    Error::Data(msg)
}

/// The end of the last tensor's data according to the header, for error messages.
fn described_data_len(buf: &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(buf.get(..8)?.try_into().ok()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(buf.get(8..8 + n)?).ok()?;
    header
        .as_object()?
        .iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .or(Some(0))
}

/// A small state dict and metadata for the tests of this module and of checkpoint.rs.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn sample() -> Vec<(String, HostValue)> {
        vec![
            (
                "0.weight".into(),
                HostValue::F32 {
                    shape: vec![2, 3],
                    data: vec![1.0, -2.0, 3.5, 0.0, 1e-8, -7.25],
                },
            ),
            (
                "1.running_mean".into(),
                HostValue::F32 {
                    shape: vec![2],
                    data: vec![0.5, 0.25],
                },
            ),
            ("1.num_batches_tracked".into(), HostValue::Int(1234)),
            (
                "gamma".into(),
                HostValue::F32 {
                    shape: vec![],
                    data: vec![0.125],
                },
            ),
        ]
    }

    pub(crate) fn meta(step: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("step".to_string(), step.to_string()),
            ("format".into(), "pt".into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{meta, sample};
    use super::*;
    use crate::io::test_dir;

    #[test]
    fn round_trip_with_metadata() {
        let d = test_dir("st-roundtrip");
        let p = d.join("g.safetensors");
        write_state(&p, &sample(), &meta("7")).unwrap();
        let (vals, m) = read_state(&p).unwrap();
        assert_eq!(m, meta("7"));
        assert_eq!(vals.len(), 4);
        for (k, v) in sample() {
            assert_eq!(vals[&k], v, "{k}");
        }
        // The counter is stored as an int64 scalar, as PyTorch has it.
        let buf = fs::read(&p).unwrap();
        let st = SafeTensors::deserialize(&buf).unwrap();
        let t = st.tensor("1.num_batches_tracked").unwrap();
        assert_eq!((t.dtype(), t.shape()), (Dtype::I64, &[][..]));
        assert!(!d.join("g.safetensors.tmp").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reads_other_dtypes() {
        let d = test_dir("st-dtypes");
        let p = d.join("x.safetensors");
        let f64s: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal) in f16.
        let f16s: Vec<u8> = [0x3c00u16, 0xc000, 0x7bff, 0x0001]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bf16s: Vec<u8> = [0x3f80u16, 0xc040]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let i32s: Vec<u8> = 5i32.to_le_bytes().to_vec();
        let i64v: Vec<u8> = [3i64, -4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let views = vec![
            ("a", TensorView::new(Dtype::F64, vec![2], &f64s).unwrap()),
            ("b", TensorView::new(Dtype::F16, vec![4], &f16s).unwrap()),
            ("c", TensorView::new(Dtype::BF16, vec![2], &bf16s).unwrap()),
            ("d", TensorView::new(Dtype::I32, vec![], &i32s).unwrap()),
            ("e", TensorView::new(Dtype::I64, vec![2], &i64v).unwrap()),
        ];
        fs::write(&p, safetensors::serialize(views, None).unwrap()).unwrap();
        let (v, m) = read_state(&p).unwrap();
        assert!(m.is_empty());
        let f = |shape: Vec<usize>, data: Vec<f32>| HostValue::F32 { shape, data };
        assert_eq!(v["a"], f(vec![2], vec![1.5, -2.0]));
        assert_eq!(v["b"], f(vec![4], vec![1.0, -2.0, 65504.0, 2f32.powi(-24)]));
        assert_eq!(v["c"], f(vec![2], vec![1.0, -3.0]));
        assert_eq!(v["d"], HostValue::Int(5));
        assert_eq!(v["e"], f(vec![2], vec![3.0, -4.0]));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn clear_errors() {
        let d = test_dir("st-errors");
        let missing = read_state(&d.join("nope.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope.safetensors"), "{missing}");

        let p = d.join("text.safetensors");
        fs::write(&p, b"hello, this is not a safetensors file at all").unwrap();
        let e = read_state(&p).unwrap_err().to_string();
        assert!(
            e.contains("text.safetensors") && e.contains("not a safetensors file"),
            "{e}"
        );

        let good = d.join("good.safetensors");
        write_state(&good, &sample(), &meta("1")).unwrap();
        let bytes = fs::read(&good).unwrap();
        let cut = d.join("cut.safetensors");
        fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
        let e = read_state(&cut).unwrap_err().to_string();
        assert!(
            e.contains("cut.safetensors") && e.contains("truncated"),
            "{e}"
        );

        fs::write(&cut, &bytes[..20]).unwrap();
        let e = read_state(&cut).unwrap_err().to_string();
        assert!(e.contains("truncated") && !e.contains('\n'), "{e}");

        let mut bad = bytes.clone();
        bad[8] = b'#';
        fs::write(&cut, &bad).unwrap();
        let e = read_state(&cut).unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");

        let bad_shape = [(
            "w".to_string(),
            HostValue::F32 {
                shape: vec![2, 2],
                data: vec![1.0],
            },
        )];
        let e = write_state(&d.join("w.safetensors"), &bad_shape, &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("'w'"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }
}
