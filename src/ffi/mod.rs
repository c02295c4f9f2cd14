//! The C ABI. This module is the only place with `extern "C"` (and, later, `unsafe`);
//! `build.rs` turns it into `include/rtmp_core.h` with cbindgen.

use std::ffi::c_char;

/// The library version as a NUL-terminated string, e.g. "0.1.0". The pointer is static:
/// never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn rtmp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_crate_and_the_header() {
        let version = std::ffi::CStr::from_bytes_until_nul(
            concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        )
        .unwrap();
        assert!(!rtmp_version().is_null());
        let header = include_str!(concat!(env!("OUT_DIR"), "/rtmp_core.h"));
        assert!(header.contains(&format!(
            "#define RTMP_CORE_VERSION \"{}\"",
            version.to_str().unwrap()
        )));
        let checked_in = include_str!("../../include/rtmp_core.h");
        assert_eq!(
            checked_in, header,
            "include/rtmp_core.h is stale: rebuild in a git checkout and commit it"
        );
    }
}
