//! rtmp_core: an embeddable RTMP library.
//!
//! The crate is layered (see `DESIGN.md` in the repository's shared notes):
//! [`protocol`] holds the sans-IO wire codecs, [`session`] the sans-IO client and server
//! state machines built on them.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod ffi;
pub mod protocol;
pub mod session;

pub use error::{Error, Result};
