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
    #[error("{op}: tensor of {bytes} bytes exceeds this adapter's storage binding limit of {limit} bytes; use a smaller batch or smaller layers")]
    TooLarge {
        op: &'static str,
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
