//! The one error type of the library.
//!
//! Every fallible operation returns [`Result`]. Messages are written for the person at the
//! terminal: they say what was wrong and, where there is one, what to do about it. Shape errors
//! name the op and the shapes involved.

use std::fmt;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tapegan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be found or the requested one does not exist.
    #[error("{0}")]
    NoAdapter(String),
    /// The device could not be created or was lost.
    #[error("GPU device error: {0}")]
    Device(String),
    /// Shapes of an op's operands do not fit together.
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },
    /// An operand has the wrong element type.
    #[error("{op}: expected a tensor of {expected}, got {got}")]
    DType {
        op: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    /// A differentiation request that cannot be answered.
    #[error("grad: {0}")]
    Autograd(String),
    /// A tensor is larger than one storage binding of this adapter allows.
    #[error("{op}: a tensor of shape {shape} ({}) exceeds this adapter's storage binding limit of {}; use a smaller batch or smaller layers", human_bytes(*bytes), human_bytes(*limit))]
    TooLarge {
        op: &'static str,
        shape: String,
        bytes: u64,
        limit: u64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Input data is malformed (corrupt file, wrong format, wrong contents).
    #[error("{0}")]
    Data(String),
    /// A configuration value or command-line argument is invalid.
    #[error("{0}")]
    Config(String),
    /// Training produced a non-finite value.
    #[error("{0}")]
    NonFinite(String),
}

impl Error {
    /// A shape error for `op` with a formatted message.
    pub fn shape(op: &'static str, msg: impl fmt::Display) -> Self {
        Error::Shape {
            op,
            msg: msg.to_string(),
        }
    }

    /// An I/O error that names the file.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// A byte count as people read it: "400 MiB", "96 B"; counts that overflowed show as "more
/// than 16 EiB".
fn human_bytes(b: u64) -> String {
    if b == u64::MAX {
        return "more than 16 EiB".into();
    }
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let (mut v, mut unit) = (b as f64 / 1024.0, 0);
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let v = if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    format!("{} {}", v.trim_end_matches(".0"), UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(human_bytes(96), "96 B");
        assert_eq!(human_bytes(134_217_728), "128 MiB");
        assert_eq!(human_bytes(400_000_000), "381 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(u64::MAX), "more than 16 EiB");
    }
}
