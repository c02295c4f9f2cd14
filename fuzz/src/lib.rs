//! The logic of each fuzz target, one module per target, each with `pub fn run(data: &[u8])`.
//!
//! `fuzz_targets/*.rs` call these under libFuzzer; the root crate's `tests/fuzz_corpus.rs`
//! includes the same files with `#[path]` and replays `fuzz/corpus/<target>/` (and
//! `fuzz/regressions/<target>/`) through them on every `cargo test`. So the modules may use
//! only `rtmp_core`, `bytes` (a dependency of the root crate too) and `std`, and refer to each
//! other as `super::name` (they are siblings at the crate root in both places).

pub mod common;

pub mod amf0;
pub mod amf3;
pub mod chunk_decoder;
pub mod handshake;
pub mod media;
pub mod server_session;
