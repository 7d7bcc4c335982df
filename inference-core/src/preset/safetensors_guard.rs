//! A panic-proof front door to `safetensors`.
//!
//! `safetensors::SafeTensors::deserialize` validates a buffer thoroughly but adds tensor
//! offsets without overflow checks, so a hostile header can make it panic in debug builds.
//! Here the header is read and every tensor's extent checked against the buffer first; only
//! buffers whose extents fit are handed to `safetensors`.

use safetensors::SafeTensors;
use serde_json::{Map, Value};

/// Bytes of the little-endian header length that opens every safetensors buffer.
pub(crate) const LENGTH_PREFIX: usize = 8;
/// Largest header accepted, in bytes: bounds what a hostile length prefix can allocate.
pub(crate) const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Why a buffer is not well-framed safetensors.
#[derive(Debug)]
pub(crate) enum FramingError {
    /// Shorter than the length prefix.
    TooShort,
    /// The length prefix announces an implausibly large header.
    HeaderTooLarge(u64),
    /// The buffer ends inside the header; it should have at least `expected` bytes.
    HeaderCut { expected: u64 },
    /// The header is not a JSON object.
    HeaderNotJson(String),
    /// A tensor entry is malformed.
    BadTensorInfo(String),
    /// The buffer ends inside the tensor data; it should have `expected` bytes.
    DataCut { expected: u64 },
    /// Bytes follow the last tensor; the buffer should have `expected` bytes.
    TrailingBytes { expected: u64 },
    /// `safetensors` rejected the buffer.
    Rejected(String),
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort => write!(f, "shorter than the {LENGTH_PREFIX}-byte length prefix"),
            Self::HeaderTooLarge(n) => write!(f, "the header length {n} is implausibly large"),
            Self::HeaderCut { expected } => write!(f, "the header needs {expected} bytes"),
            Self::HeaderNotJson(reason) => write!(f, "the header is not a JSON object: {reason}"),
            Self::BadTensorInfo(reason) => write!(f, "bad tensor entry: {reason}"),
            Self::DataCut { expected } => write!(f, "the tensor data needs {expected} bytes"),
            Self::TrailingBytes { expected } => {
                write!(f, "unexpected bytes after the last tensor, at {expected}")
            }
            Self::Rejected(reason) => write!(f, "{reason}"),
        }
    }
}

/// Reads the length prefix and the JSON header. Returns the header length and its entries.
pub(crate) fn read_header(bytes: &[u8]) -> Result<(usize, Map<String, Value>), FramingError> {
    let prefix: [u8; LENGTH_PREFIX] = bytes
        .get(..LENGTH_PREFIX)
        .and_then(|p| p.try_into().ok())
        .ok_or(FramingError::TooShort)?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_BYTES {
        return Err(FramingError::HeaderTooLarge(header_len));
    }
    // At most 16 MiB: fits in usize on every supported target.
    let header_len = header_len as usize;
    let header =
        bytes
            .get(LENGTH_PREFIX..LENGTH_PREFIX + header_len)
            .ok_or(FramingError::HeaderCut {
                expected: (LENGTH_PREFIX + header_len) as u64,
            })?;
    let entries = serde_json::from_slice::<Map<String, Value>>(header)
        .map_err(|e| FramingError::HeaderNotJson(e.to_string()))?;
    Ok((header_len, entries))
}

/// Checks that the tensor data described by `entries` ends exactly where `bytes` ends.
pub(crate) fn check_extent(
    bytes: &[u8],
    header_len: usize,
    entries: &Map<String, Value>,
) -> Result<(), FramingError> {
    let mut data_end: u64 = 0;
    for (name, info) in entries.iter().filter(|(name, _)| *name != "__metadata__") {
        let offsets = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .filter(|offsets| offsets.len() == 2)
            .and_then(|offsets| Some((offsets[0].as_u64()?, offsets[1].as_u64()?)))
            .ok_or_else(|| {
                FramingError::BadTensorInfo(format!("tensor `{name}` has no valid data offsets"))
            })?;
        if offsets.1 < offsets.0 {
            return Err(FramingError::BadTensorInfo(format!(
                "tensor `{name}` ends before it starts"
            )));
        }
        data_end = data_end.max(offsets.1);
    }
    let expected = data_end
        .checked_add((LENGTH_PREFIX + header_len) as u64)
        .ok_or_else(|| FramingError::BadTensorInfo("tensor offsets overflow".into()))?;
    let found = bytes.len() as u64;
    if found < expected {
        Err(FramingError::DataCut { expected })
    } else if found > expected {
        Err(FramingError::TrailingBytes { expected })
    } else {
        Ok(())
    }
}

/// Parses a whole safetensors buffer without any risk of panicking.
pub(crate) fn parse_safetensors(bytes: &[u8]) -> Result<SafeTensors<'_>, FramingError> {
    let (header_len, entries) = read_header(bytes)?;
    check_extent(bytes, header_len, &entries)?;
    SafeTensors::deserialize(bytes).map_err(|e| FramingError::Rejected(e.to_string()))
}
