//! What AMF0 and AMF3 share: decoding limits, the error type, and the bounds-checked cursor
//! both decoders read through.
//!
//! AMF arrives from the network, so every decoder in this crate treats its input as hostile:
//! nesting is capped ([`AmfLimits::max_depth`]), the number of values one message may produce is
//! capped ([`AmfLimits::max_elements`]), so is the data that AMF3 references may copy
//! ([`AmfLimits::max_expanded_bytes`]), and no buffer is ever sized from a length field beyond
//! what the remaining input could fill.

use thiserror::Error;

/// Bytes of string or byte-array payload that resolving AMF3 references may copy, per unit of
/// [`AmfLimits::max_elements`] (see [`AmfLimits::max_expanded_bytes`]).
pub const EXPANDED_BYTES_PER_ELEMENT: usize = 64;

/// Limits applied while decoding untrusted AMF.
///
/// The defaults are generous for every real RTMP message and still keep a hostile one from
/// costing more than a few megabytes or a few dozen stack frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmfLimits {
    /// How many containers (objects, arrays, typed objects, vectors of objects, dictionaries)
    /// may be nested inside one another. A scalar at the top level has depth 0, an object
    /// holding it depth 1. Decoding recurses once per level, so keep this in the low hundreds
    /// at most.
    pub max_depth: usize,
    /// How many values (nested ones included, property keys not) one reader may produce over
    /// its life, i.e. over one message; [`crate::protocol::amf0::decode_all`] and
    /// [`crate::protocol::amf3::decode_all`] apply it to the whole buffer.
    pub max_elements: usize,
}

impl AmfLimits {
    /// How many bytes of strings, keys, byte arrays and vector items one reader may copy out of
    /// earlier values while resolving AMF3 references: `max_elements *`
    /// [`EXPANDED_BYTES_PER_ELEMENT`] (4 MiB with the defaults).
    ///
    /// Without this cap a small message could reference one large string thousands of times
    /// and make the decoder allocate gigabytes.
    pub fn max_expanded_bytes(&self) -> usize {
        self.max_elements.saturating_mul(EXPANDED_BYTES_PER_ELEMENT)
    }
}

impl Default for AmfLimits {
    fn default() -> Self {
        AmfLimits {
            max_depth: 32,
            max_elements: 65_536,
        }
    }
}

/// Why AMF input could not be decoded.
///
/// Every variant is the peer's fault (or a limit the application chose); a connection that
/// produces one should be closed with the message logged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AmfError {
    /// The input ended in the middle of a value.
    #[error("AMF input ended in the middle of a value")]
    UnexpectedEof,
    /// A type marker that neither AMF0 nor AMF3 defines.
    #[error("unknown AMF type marker 0x{0:02x}")]
    UnknownMarker(u8),
    /// A type marker the specification reserves without a usable format (AMF0 movieclip 0x04,
    /// recordset 0x0e).
    #[error("AMF type marker 0x{0:02x} is reserved and not supported")]
    UnsupportedMarker(u8),
    /// An AMF0 object-end marker (0x09) where a value was expected.
    #[error("AMF0 object-end marker where a value was expected")]
    UnexpectedObjectEnd,
    /// Containers nested deeper than [`AmfLimits::max_depth`].
    #[error("AMF values nested deeper than the configured limit")]
    DepthLimit,
    /// More values than [`AmfLimits::max_elements`].
    #[error("AMF input holds more values than the configured limit")]
    ElementLimit,
    /// AMF3 references would copy more than [`AmfLimits::max_expanded_bytes`].
    #[error("AMF3 references copy more data than the configured limit")]
    ExpansionLimit,
    /// A reference (AMF0 object, AMF3 string, traits or object) to an index the peer has not
    /// defined yet.
    #[error("AMF reference to undefined index {0}")]
    InvalidReference(u32),
    /// An AMF3 object reference to a value that is still being decoded: the peer sent a cyclic
    /// graph, which an owned tree cannot hold.
    #[error("AMF3 reference {0} points into the value being decoded (cyclic graph)")]
    CyclicReference(u32),
    /// An AMF3 externalizable object of a class whose private wire format we cannot know.
    #[error("AMF3 externalizable class {0:?} has an unknown private format")]
    Externalizable(String),
    /// A length or count that does not fit this platform's arithmetic.
    #[error("AMF length or count overflows")]
    LengthOverflow,
}

/// What one reader has spent of its [`AmfLimits`]; shared between an AMF0 reader and the AMF3
/// values embedded in it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    elements: usize,
    expanded: usize,
}

impl Budget {
    /// Accounts for one more decoded value.
    pub(crate) fn element(&mut self, limits: &AmfLimits) -> Result<(), AmfError> {
        if self.elements >= limits.max_elements {
            return Err(AmfError::ElementLimit);
        }
        self.elements += 1;
        Ok(())
    }

    /// How many more values may be decoded; used to bound preallocation.
    pub(crate) fn elements_left(&self, limits: &AmfLimits) -> usize {
        limits.max_elements.saturating_sub(self.elements)
    }

    /// Accounts for `bytes` copied out of an earlier value by an AMF3 reference.
    pub(crate) fn expand(&mut self, bytes: usize, limits: &AmfLimits) -> Result<(), AmfError> {
        let total = self
            .expanded
            .checked_add(bytes)
            .ok_or(AmfError::ExpansionLimit)?;
        if total > limits.max_expanded_bytes() {
            return Err(AmfError::ExpansionLimit);
        }
        self.expanded = total;
        Ok(())
    }
}

/// Depth of the children of a container found at `depth`, or `DepthLimit`.
pub(crate) fn enter(depth: usize, limits: &AmfLimits) -> Result<usize, AmfError> {
    match depth.checked_add(1) {
        Some(inner) if inner <= limits.max_depth => Ok(inner),
        _ => Err(AmfError::DepthLimit),
    }
}

/// A capacity for `count` items that the remaining input could actually hold, given each item
/// takes at least `min_item_size` bytes, and that the element budget allows.
pub(crate) fn capacity_for(
    count: usize,
    remaining: usize,
    min_item_size: usize,
    elements_left: usize,
) -> usize {
    count
        .min(remaining / min_item_size.max(1))
        .min(elements_left)
}

/// Decodes AMF string bytes. The specifications say UTF-8, but real encoders put Latin-1 (or
/// whatever their locale uses) into metadata; such bytes become U+FFFD instead of an error, so
/// one odd field never costs the whole message.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A bounds-checked read position in a borrowed buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next `n` bytes, or `UnexpectedEof` without moving.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], AmfError> {
        let end = self.pos.checked_add(n).ok_or(AmfError::UnexpectedEof)?;
        let bytes = self.buf.get(self.pos..end).ok_or(AmfError::UnexpectedEof)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AmfError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn read_u8(&mut self) -> Result<u8, AmfError> {
        let byte = self.peek_u8().ok_or(AmfError::UnexpectedEof)?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn read_u16(&mut self) -> Result<u16, AmfError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn read_i16(&mut self) -> Result<i16, AmfError> {
        self.array().map(i16::from_be_bytes)
    }

    pub(crate) fn read_u32(&mut self) -> Result<u32, AmfError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn read_f64(&mut self) -> Result<f64, AmfError> {
        self.array().map(f64::from_be_bytes)
    }
}

/// A `u32` length or count from the wire as `usize`.
pub(crate) fn to_usize(n: u32) -> Result<usize, AmfError> {
    usize::try_from(n).map_err(|_| AmfError::LengthOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let limits = AmfLimits::default();
        assert_eq!(limits.max_depth, 32);
        assert_eq!(limits.max_elements, 65_536);
        assert_eq!(limits.max_expanded_bytes(), 4 << 20);
    }

    #[test]
    fn cursor_never_reads_past_the_end() {
        let mut cur = Cursor::new(&[1, 2, 3], 0);
        assert_eq!(cur.read_u16(), Ok(0x0102));
        assert_eq!(cur.read_u16(), Err(AmfError::UnexpectedEof));
        assert_eq!(cur.pos, 2);
        assert_eq!(cur.take(usize::MAX), Err(AmfError::UnexpectedEof));
        assert_eq!(cur.read_u8(), Ok(3));
        assert_eq!(cur.read_u8(), Err(AmfError::UnexpectedEof));
        assert!(cur.rest().is_empty());
    }

    #[test]
    fn capacity_is_bounded_by_input_and_budget() {
        assert_eq!(capacity_for(u32::MAX as usize, 10, 1, 1000), 10);
        assert_eq!(capacity_for(u32::MAX as usize, 10, 4, 1000), 2);
        assert_eq!(capacity_for(5, 100, 1, 3), 3);
        assert_eq!(capacity_for(5, 100, 0, 100), 5);
    }

    #[test]
    fn budgets() {
        let limits = AmfLimits {
            max_depth: 1,
            max_elements: 2,
        };
        let mut budget = Budget::default();
        assert!(budget.element(&limits).is_ok());
        assert!(budget.element(&limits).is_ok());
        assert_eq!(budget.element(&limits), Err(AmfError::ElementLimit));
        assert_eq!(budget.expand(128, &limits), Ok(()));
        assert_eq!(budget.expand(1, &limits), Err(AmfError::ExpansionLimit));
        assert_eq!(enter(0, &limits), Ok(1));
        assert_eq!(enter(1, &limits), Err(AmfError::DepthLimit));
        assert_eq!(enter(usize::MAX, &limits), Err(AmfError::DepthLimit));
    }

    #[test]
    fn text_falls_back_to_lossy() {
        assert_eq!(text(b"caf\xc3\xa9"), "café");
        assert_eq!(text(b"caf\xe9"), "caf\u{fffd}");
    }
}
