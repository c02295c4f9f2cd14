//! What the borrowed C views of server events and client notices point into: their three
//! strings, and a frame or metadata when they carry one, owned on the heap beside the view
//! so that moving the whole keeps every pointer valid.

use std::ffi::{c_char, CString};
use std::ptr;

use super::{cstring, RtmpFrame, RtmpMediaKind, RtmpMetadata};
use crate::hub::Frame;
use crate::protocol::amf0::Amf0Value;

/// The heap parts a view borrows, before the view is made.
pub(crate) struct Parts {
    strings: [CString; 3],
    frame: Option<Box<RtmpFrame>>,
    metadata: Option<Box<RtmpMetadata>>,
}

/// The media fields every view has, zero/NULL when it carries no frame.
pub(crate) struct MediaFields {
    pub media: RtmpMediaKind,
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    pub data: *const u8,
    pub len: usize,
    pub frame: *const RtmpFrame,
    pub metadata: *const RtmpMetadata,
}

impl Parts {
    pub fn new(strings: [&str; 3], frame: Option<&Frame>, metadata: Option<&Amf0Value>) -> Self {
        Parts {
            strings: strings.map(cstring),
            frame: frame.map(|f| Box::new(RtmpFrame::new(f.clone()))),
            metadata: metadata.map(|m| Box::new(RtmpMetadata::of(m))),
        }
    }

    /// The `i`th string, NUL-terminated, never NULL.
    pub fn string(&self, i: usize) -> *const c_char {
        self.strings[i].as_ptr()
    }

    pub fn media(&self) -> MediaFields {
        let info = self.frame.as_ref().map(|f| f.info());
        MediaFields {
            media: info.map_or(RtmpMediaKind::None, |i| i.media),
            timestamp: info.map_or(0, |i| i.timestamp),
            keyframe: info.is_some_and(|i| i.keyframe),
            sequence_header: info.is_some_and(|i| i.sequence_header),
            data: info.map_or(ptr::null(), |i| i.data),
            len: info.map_or(0, |i| i.len),
            frame: self.frame.as_deref().map_or(ptr::null(), |f| f as *const _),
            metadata: self
                .metadata
                .as_deref()
                .map_or(ptr::null(), |m| m as *const _),
        }
    }

    /// Keeps the parts alive beside `view`, which points into them.
    pub fn lend<V>(self, view: V) -> Lent<V> {
        Lent { _parts: self, view }
    }
}

/// A view and the parts its pointers refer to.
pub(crate) struct Lent<V> {
    _parts: Parts,
    pub view: V,
}

// SAFETY: the view's raw pointers point into `_parts` (boxes and strings, which are Send)
// and nowhere else, so the whole moves between threads as one owned value.
unsafe impl<V> Send for Lent<V> {}
