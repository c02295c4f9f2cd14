//! Input helpers shared by the fuzz targets.
//!
//! Most targets feed a byte stream to a sans-IO codec in pieces whose sizes the fuzzer picks,
//! because "input may arrive in pieces of any size" is half of what these codecs promise. The
//! stream part of an input is laid out as
//!
//! ```text
//! [n] [size_1 .. size_k] [payload ...]     k = n & 7
//! ```
//!
//! and the payload is cut into pieces of `piece_len(size_1)`, `piece_len(size_2)`, ... cycling
//! through the sizes (no size byte: one piece). See [`piece_len`] for what a size byte means.

/// A payload and the piece sizes it is to be fed in.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    sizes: &'a [u8],
    /// The bytes to feed.
    pub payload: &'a [u8],
}

/// Reads the split header at the start of `data`. Short inputs give what they have.
pub fn split(data: &[u8]) -> Split<'_> {
    let Some((&n, rest)) = data.split_first() else {
        return Split {
            sizes: &[],
            payload: &[],
        };
    };
    let k = usize::from(n & 7).min(rest.len());
    let (sizes, payload) = rest.split_at(k);
    Split { sizes, payload }
}

/// What one size byte means: 0 is "the rest of the payload", 1..=127 that many bytes, and
/// 128..=255 multiples of 128 bytes (128 ..= 16384), so handshake packets and large chunks
/// can be crossed in a few pieces as well as byte by byte.
pub fn piece_len(size: u8) -> usize {
    match size {
        0 => usize::MAX,
        1..=127 => usize::from(size),
        _ => (usize::from(size) - 127) * 128,
    }
}

impl<'a> Split<'a> {
    /// The payload cut into non-empty pieces (none for an empty payload).
    pub fn pieces(&self) -> Pieces<'a> {
        self.cut(self.payload)
    }

    /// Any `bytes` cut into pieces of the sizes of this split.
    pub fn cut<'b>(&self, bytes: &'b [u8]) -> Pieces<'b> {
        let mut sizes = [0u8; 7];
        sizes[..self.sizes.len()].copy_from_slice(self.sizes);
        Pieces {
            sizes,
            count: self.sizes.len(),
            next: 0,
            rest: bytes,
        }
    }
}

/// Iterator over the pieces of a [`Split`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    sizes: [u8; 7],
    count: usize,
    next: usize,
    rest: &'a [u8],
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let len = if self.count == 0 {
            usize::MAX
        } else {
            piece_len(self.sizes[self.next % self.count])
        };
        self.next += 1;
        let (piece, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        Some(piece)
    }
}

/// `n` bytes starting at `at` of `data`, zero-padded where `data` is too short: for reading
/// seeds, times and other parameters from the input without caring about its length.
pub fn bytes_at<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = at
            .checked_add(i)
            .and_then(|j| data.get(j))
            .copied()
            .unwrap_or(0);
    }
    out
}

/// AMF limits picked by a flags byte: depth 1..=64 (bits 0-2) and 16..=65536 elements (bits
/// 3-4). Small limits let the fuzzer reach every limit check; the defaults are among them.
pub fn amf_limits(flags: u8) -> rtmp_core::protocol::amf::AmfLimits {
    const DEPTHS: [usize; 8] = [1, 2, 3, 4, 8, 16, 32, 64];
    const ELEMENTS: [usize; 4] = [16, 256, 4096, 65_536];
    rtmp_core::protocol::amf::AmfLimits {
        max_depth: DEPTHS[usize::from(flags & 7)],
        max_elements: ELEMENTS[usize::from((flags >> 3) & 3)],
    }
}

/// Limits for decoding again what was encoded from values decoded under `limits` out of
/// `input_len` bytes: same depth, and an element budget (hence AMF3 expansion budget) large
/// enough that re-encoding cannot push a value that fitted over a limit. Re-encoding can
/// legitimately turn inline repeats into AMF3 string references (which count as copies), so
/// the same limits would give false alarms.
pub fn relaxed_limits(
    limits: rtmp_core::protocol::amf::AmfLimits,
    input_len: usize,
) -> rtmp_core::protocol::amf::AmfLimits {
    rtmp_core::protocol::amf::AmfLimits {
        max_depth: limits.max_depth,
        max_elements: limits
            .max_elements
            .saturating_mul(2)
            .saturating_add(input_len)
            .saturating_add(16),
    }
}
