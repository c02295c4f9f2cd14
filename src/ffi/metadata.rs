//! Stream metadata (onMetaData) over the C ABI: a small key -> number / string / boolean
//! map, built by the application or parsed from an FLV script tag body, and read from
//! server events and client notices.

use std::ffi::c_char;

use super::{boundary, bytes_arg, copy_out, fail_with, handle, out_param, str_arg, RtmpResult};
use crate::protocol::amf::AmfLimits;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::DataMessage;

/// Stream metadata: ordered key/value pairs (numbers, strings, booleans, and whatever
/// else a peer sent). Owned ones come from `rtmp_metadata_new`,
/// `rtmp_metadata_from_flv_body` and `rtmp_flv_reader_next` and go to `rtmp_metadata_free`; those in events and
/// notices are borrowed like the rest of them. Not thread-safe to change while another
/// thread reads it.
pub struct RtmpMetadata {
    pub(crate) properties: Vec<(String, Amf0Value)>,
}

impl RtmpMetadata {
    /// The metadata of an AMF0 object or ECMA array (empty for anything else).
    pub(crate) fn of(value: &Amf0Value) -> Self {
        RtmpMetadata {
            properties: value.properties().map(<[_]>::to_vec).unwrap_or_default(),
        }
    }

    /// As the ECMA array publishers send in `@setDataFrame onMetaData`.
    pub(crate) fn to_amf(&self) -> Amf0Value {
        Amf0Value::EcmaArray(self.properties.clone())
    }

    fn set(&mut self, key: &str, value: Amf0Value) {
        match self.properties.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.properties.push((key.to_owned(), value)),
        }
    }

    fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// A new, empty metadata map; release it with `rtmp_metadata_free`. NULL only if memory
/// ran out.
#[no_mangle]
pub extern "C" fn rtmp_metadata_new() -> *mut RtmpMetadata {
    let made = std::panic::catch_unwind(|| {
        Box::into_raw(Box::new(RtmpMetadata {
            properties: Vec::new(),
        }))
    });
    made.unwrap_or(std::ptr::null_mut())
}

/// Parses the body of an FLV script tag (`onMetaData {...}` as FLV files hold it, or
/// `@setDataFrame onMetaData {...}` as publishers send it). On success `*out` gets
/// metadata to release with `rtmp_metadata_free`; a body that is not metadata fails with
/// INVALID_ARGUMENT and leaves `*out` untouched. Thread-safe.
///
/// # Safety
/// `data` readable for `len` bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_from_flv_body(
    data: *const u8,
    len: usize,
    out: *mut *mut RtmpMetadata,
) -> RtmpResult {
    boundary(|| {
        let out = out_param!(out);
        // SAFETY: per the contract.
        let body = match unsafe { bytes_arg(data, len) } {
            Ok(b) => b,
            Err(code) => return code,
        };
        let message = match DataMessage::decode(body, false, AmfLimits::default()) {
            Ok(m) => m,
            Err(e) => return fail_with(RtmpResult::InvalidArgument, &format!("AMF0: {e}")),
        };
        let Some(metadata) = message.metadata() else {
            return fail_with(RtmpResult::InvalidArgument, "not an onMetaData body");
        };
        let made = Box::new(RtmpMetadata::of(metadata));
        // SAFETY: out is writable per the contract.
        unsafe { *out = Box::into_raw(made) };
        RtmpResult::Ok
    })
}

/// Releases owned metadata. NULL is ignored.
///
/// # Safety
/// `metadata` must be NULL or owned metadata not used afterwards (never a borrowed one).
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_free(metadata: *mut RtmpMetadata) {
    let _ = boundary(|| {
        if !metadata.is_null() {
            // SAFETY: per the contract, a Box we handed out.
            drop(unsafe { Box::from_raw(metadata) });
        }
        RtmpResult::Ok
    });
}

/// Shared by the setters: the key and a mutable map, or the error code.
///
/// # Safety
/// `metadata` NULL or owned and not used by another thread; `key` NULL or a C string.
unsafe fn setter<'a>(
    metadata: *mut RtmpMetadata,
    key: *const c_char,
) -> Result<(&'a mut RtmpMetadata, &'a str), RtmpResult> {
    if metadata.is_null() {
        return Err(fail_with(RtmpResult::NullParameter, "metadata is NULL"));
    }
    // SAFETY: per the contract.
    let key = unsafe { str_arg(key, "key") }?;
    // SAFETY: owned metadata the caller does not share during the call.
    Ok((unsafe { &mut *metadata }, key))
}

/// Sets `key` to a number (replacing any value it had; new keys go last).
///
/// # Safety
/// `metadata` must be owned metadata; `key` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_set_number(
    metadata: *mut RtmpMetadata,
    key: *const c_char,
    value: f64,
) -> RtmpResult {
    boundary(|| {
        // SAFETY: per the contract.
        match unsafe { setter(metadata, key) } {
            Ok((m, key)) => {
                m.set(key, Amf0Value::Number(value));
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Sets `key` to a string.
///
/// # Safety
/// `metadata` must be owned metadata; `key` and `value` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_set_string(
    metadata: *mut RtmpMetadata,
    key: *const c_char,
    value: *const c_char,
) -> RtmpResult {
    boundary(|| {
        // SAFETY: per the contract.
        let value = match unsafe { str_arg(value, "value") } {
            Ok(v) => v.to_owned(),
            Err(code) => return code,
        };
        // SAFETY: per the contract.
        match unsafe { setter(metadata, key) } {
            Ok((m, key)) => {
                m.set(key, Amf0Value::String(value));
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// Sets `key` to a boolean.
///
/// # Safety
/// `metadata` must be owned metadata; `key` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_set_bool(
    metadata: *mut RtmpMetadata,
    key: *const c_char,
    value: bool,
) -> RtmpResult {
    boundary(|| {
        // SAFETY: per the contract.
        match unsafe { setter(metadata, key) } {
            Ok((m, key)) => {
                m.set(key, Amf0Value::Boolean(value));
                RtmpResult::Ok
            }
            Err(code) => code,
        }
    })
}

/// The number of keys (0 for NULL).
///
/// # Safety
/// `metadata` must be NULL or live metadata.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_count(metadata: *const RtmpMetadata) -> usize {
    if metadata.is_null() {
        return 0;
    }
    // SAFETY: live per the contract.
    let metadata = unsafe { &*metadata };
    metadata.properties.len()
}

/// Copies the `index`-th key and a NUL into `buf` (`len` bytes). Returns OK, or
/// BUFFER_TOO_SMALL (with `*needed`, if not NULL, set to the size that fits, NUL
/// included), or INVALID_ARGUMENT when `index` is out of range.
///
/// # Safety
/// `metadata` live; `buf` NULL or writable for `len` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_key(
    metadata: *const RtmpMetadata,
    index: usize,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> RtmpResult {
    boundary(|| {
        let metadata = handle!(metadata);
        match metadata.properties.get(index) {
            // SAFETY: buf and needed per the contract.
            Some((key, _)) => unsafe { copy_result(key, buf, len, needed) },
            None => fail_with(RtmpResult::InvalidArgument, "index out of range"),
        }
    })
}

/// Copies `text` into `buf`, reporting the size needed; BUFFER_TOO_SMALL if it does not
/// fit.
///
/// # Safety
/// `buf` NULL or writable for `len` bytes; `needed` NULL or writable.
unsafe fn copy_result(text: &str, buf: *mut c_char, len: usize, needed: *mut usize) -> RtmpResult {
    let size = copy_out(text, buf, len);
    if !needed.is_null() {
        // SAFETY: writable per the contract.
        unsafe { *needed = size };
    }
    if size > len || buf.is_null() {
        fail_with(RtmpResult::BufferTooSmall, "buffer too small")
    } else {
        RtmpResult::Ok
    }
}

/// Reads `key` as a number into `*out`. INVALID_ARGUMENT (and `*out` untouched) when the
/// key is missing or not a number.
///
/// # Safety
/// `metadata` live; `key` a NUL-terminated string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_get_number(
    metadata: *const RtmpMetadata,
    key: *const c_char,
    out: *mut f64,
) -> RtmpResult {
    boundary(|| {
        let metadata = handle!(metadata);
        let out = out_param!(out);
        // SAFETY: per the contract.
        let key = match unsafe { str_arg(key, "key") } {
            Ok(k) => k,
            Err(code) => return code,
        };
        match metadata.get(key).and_then(Amf0Value::as_f64) {
            Some(n) => {
                // SAFETY: writable per the contract.
                unsafe { *out = n };
                RtmpResult::Ok
            }
            None => fail_with(RtmpResult::InvalidArgument, "no such number"),
        }
    })
}

/// Copies `key`'s string value and a NUL into `buf` (`len` bytes): OK, BUFFER_TOO_SMALL
/// (with `*needed` set if not NULL), or INVALID_ARGUMENT when the key is missing or not a
/// string.
///
/// # Safety
/// `metadata` live; `key` a NUL-terminated string; `buf` NULL or writable for `len`
/// bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtmp_metadata_get_string(
    metadata: *const RtmpMetadata,
    key: *const c_char,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> RtmpResult {
    boundary(|| {
        let metadata = handle!(metadata);
        // SAFETY: per the contract.
        let key = match unsafe { str_arg(key, "key") } {
            Ok(k) => k,
            Err(code) => return code,
        };
        match metadata.get(key).and_then(Amf0Value::as_str) {
            // SAFETY: buf and needed per the contract.
            Some(text) => unsafe { copy_result(text, buf, len, needed) },
            None => fail_with(RtmpResult::InvalidArgument, "no such string"),
        }
    })
}
