//! Sans-IO wire codecs: handshake, chunk stream, messages, AMF0, AMF3 and typed commands.
//!
//! Nothing here touches a socket, a thread, a clock or a lock: every function takes bytes
//! (and, where time matters, the time as an argument) and returns bytes or values.

pub mod amf;
pub mod amf0;
pub mod amf3;
pub mod chunk;
pub mod command;
pub mod handshake;
pub mod message;
