//! Replays the fuzz corpora without libFuzzer, so every `cargo test` re-checks them.
//!
//! For each fuzz target (see `fuzz/README.md`), every file under `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through the same logic the target runs under libFuzzer:
//! the modules below are the very files `fuzz/src/lib.rs` builds the targets from. A corpus
//! directory that is missing or empty fails the test, so it can't pass by testing nothing.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/src/common.rs"]
mod common;

#[path = "../fuzz/src/amf0.rs"]
mod amf0;
#[path = "../fuzz/src/amf3.rs"]
mod amf3;
#[path = "../fuzz/src/chunk_decoder.rs"]
mod chunk_decoder;
#[path = "../fuzz/src/handshake.rs"]
mod handshake;
#[path = "../fuzz/src/media.rs"]
mod media;
#[allow(dead_code)]
#[path = "../fuzz/src/server_session.rs"]
mod server_session;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly under `dir`, sorted; `None` if it does not exist.
fn files(dir: &Path) -> Option<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            // libFuzzer's and cargo fuzz cmin's temporary files.
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    Some(files)
}

fn replay(target: &str, run: fn(&[u8])) {
    let corpus = fuzz_dir().join("corpus").join(target);
    let mut inputs = files(&corpus)
        .unwrap_or_else(|| panic!("corpus directory {} is missing", corpus.display()));
    assert!(
        !inputs.is_empty(),
        "corpus directory {} is empty",
        corpus.display()
    );
    let corpus_count = inputs.len();
    inputs.extend(files(&fuzz_dir().join("regressions").join(target)).unwrap_or_default());

    // The panic hook prints each failure's location; the list below names the inputs.
    let mut failures = Vec::new();
    for path in &inputs {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs failed (rerun one with `cargo fuzz run {target} FILE` for a backtrace):\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    eprintln!(
        "{target}: {corpus_count} corpus and {} regression inputs replayed",
        inputs.len() - corpus_count
    );
}

#[test]
fn handshake_corpus() {
    replay("handshake", handshake::run);
}

#[test]
fn chunk_decoder_corpus() {
    replay("chunk_decoder", chunk_decoder::run);
}

#[test]
fn amf0_corpus() {
    replay("amf0", amf0::run);
}

#[test]
fn amf3_corpus() {
    replay("amf3", amf3::run);
}

#[test]
fn media_corpus() {
    replay("media", media::run);
}

#[test]
fn server_session_corpus() {
    replay("server_session", server_session::run);
}

/// Regression (found while writing the fuzz targets, fixed in 513c2ba): a client could make a
/// server session build an onStatus message longer than the 2^24-1 bytes an RTMP message can
/// carry, and `ChunkedMessage` panicked with "payload too long". `publish` with an 8.4 MB
/// stream name (one command message, within the default `max_message_size`) was echoed twice
/// in NetStream.Publish.Start; `FCPublish` with a 16 MB name once in onFCPublish. Names are
/// now bounded and the transport refuses an oversized message. Inputs this large are beyond
/// libFuzzer's `-max_len` and the corpus budget, so they are built here.
#[test]
fn oversized_stream_names_do_not_panic() {
    use rtmp_core::protocol::amf0::Amf0Value;
    use rtmp_core::protocol::chunk::{ChunkEncoder, MessageHeader, MAX_CHUNK_SIZE};
    use rtmp_core::protocol::command::{Command, Connect, NetCommand};
    use rtmp_core::protocol::message::ControlMessage;

    let command = |csid, stream_id| MessageHeader {
        chunk_stream_id: csid,
        timestamp: 0,
        type_id: 20,
        stream_id,
    };
    let cases = [
        (
            8_400_000,
            Command::new("publish", 3.0, vec![]),
            command(8, 1),
        ),
        (
            0xFF_FFFF - 64,
            Command::new("FCPublish", 3.0, vec![]),
            command(3, 0),
        ),
    ];
    for (name_len, mut last, header) in cases {
        let mut encoder = ChunkEncoder::new();
        // server_session input: flags 0 (handshake prefix, accept everything), one piece.
        let mut input = vec![0u8, 0];
        let set_chunk_size = ControlMessage::SetChunkSize(MAX_CHUNK_SIZE);
        encoder
            .encode(&set_chunk_size.header(0), set_chunk_size.encode().1)
            .write_to(&mut input);
        encoder.set_chunk_size(MAX_CHUNK_SIZE).unwrap();
        let connect = NetCommand::Connect(Connect::new("live", "rtmp://localhost/live")).encode();
        encoder.encode(&command(3, 0), connect).write_to(&mut input);
        let create = Command::new("createStream", 2.0, vec![]).encode();
        encoder.encode(&command(3, 0), create).write_to(&mut input);
        last.arguments = vec![Amf0Value::String("n".repeat(name_len)), "live".into()];
        encoder.encode(&header, last.encode()).write_to(&mut input);

        server_session::run(&input);
    }
}
