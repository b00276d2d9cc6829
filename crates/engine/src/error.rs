//! The engine's one error type. Every variant maps to a stable code (`Error::code`) that the
//! napi glue turns into the JavaScript error's `code`, so callers branch on codes, never on text.

use std::fmt;
use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error, with the path it concerned when there was one.
    Io {
        path: Option<PathBuf>,
        source: io::Error,
    },
    /// Bytes on disk that fail a checksum or do not parse. Always names the file and offset.
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Another process (or another engine in this process outside the registry) holds the directory lock.
    Locked {
        path: PathBuf,
    },
    /// The engine was closed, or a background failure made it read-only.
    Closed,
    KeyTooLarge {
        len: usize,
        max: usize,
    },
    ValueTooLarge {
        len: usize,
        max: usize,
    },
    /// A caller-supplied argument or option is out of range; the message names it.
    InvalidArgument(String),
    /// A background task (flush, compaction) failed; writes are refused until reopen.
    Background(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "ERR_IO",
            Error::Corruption { .. } => "ERR_CORRUPTION",
            Error::Locked { .. } => "ERR_LOCKED",
            Error::Closed => "ERR_CLOSED",
            Error::KeyTooLarge { .. } => "ERR_KEY_TOO_LARGE",
            Error::ValueTooLarge { .. } => "ERR_VALUE_TOO_LARGE",
            Error::InvalidArgument(_) => "ERR_INVALID_ARGUMENT",
            Error::Background(_) => "ERR_BACKGROUND",
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: Some(path.into()),
            source,
        }
    }

    pub fn corruption(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path: Some(p),
                source,
            } => write!(f, "I/O error on {}: {source}", p.display()),
            Error::Io { path: None, source } => write!(f, "I/O error: {source}"),
            Error::Corruption {
                file,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "corruption in {} at offset {offset}: {reason}",
                    file.display()
                )
            }
            Error::Locked { path } => write!(
                f,
                "data directory {} is locked by another process (lock file {}/LOCK)",
                path.display(),
                path.display()
            ),
            Error::Closed => write!(f, "the engine is closed"),
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes exceeds the maximum of {max} bytes")
            }
            Error::ValueTooLarge { len, max } => {
                write!(f, "value of {len} bytes exceeds the maximum of {max} bytes")
            }
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Background(m) => write!(
                f,
                "a background task failed, writes are refused until reopen: {m}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io { path: None, source }
    }
}
