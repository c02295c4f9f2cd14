//! rtmp_core: an embeddable RTMP library.
//!
//! The crate is layered (see `DESIGN.md` in the repository's shared notes):
//! [`protocol`] holds the sans-IO wire codecs, [`session`] the sans-IO client and server
//! state machines built on them.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod client;
pub mod error;
pub mod event;
pub mod ffi;
pub mod hub;
pub mod logging;
pub mod media;
pub mod protocol;
mod runtime;
pub mod server;
pub mod session;

pub use error::{Error, Result};
pub use event::{ConnectionId, Decision, DisconnectReason, Event};
pub use hub::Frame;
pub use server::{LocalPublisher, Server, ServerBuilder, ServerHandle};
pub use session::MediaKind;

/// The README's examples, compiled as doc tests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
