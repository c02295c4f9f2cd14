//! Fuzz target `handshake`: `ServerHandshake` and `ClientHandshake` fed arbitrary bytes.
//!
//! Input: `[flags] [split header] [payload]` (see `common`).
//!
//! - flags bit 7 clear: the payload is the peer's side of a handshake. It is fed to a
//!   `ServerHandshake` (as C0 C1 C2 ...) and to a `ClientHandshake` (as S0 S1 S2 ...), once
//!   whole and once in the fuzzer's pieces. Neither may panic; while `InProgress` every byte
//!   offered must be consumed; `Done` comes exactly after 1 + 2 * 1536 bytes and never
//!   consumes more; `Done` and errors are final; and the pieces give the same outcome and the
//!   same output bytes as the whole.
//! - flags bit 7 set: a client and a server handshake talk to each other, with seeds, times,
//!   the client's mode, digest scheme and version, and the server's version taken from the
//!   payload, and every transfer cut into the fuzzer's pieces. Both must finish, and agree on
//!   what they spoke.
//!
//! flags bit 0 picks the client's mode (digest / simple), bit 1 its digest scheme, bits 2-6
//! vary the seeds and times.

use rtmp_core::protocol::handshake::{
    ClientConfig, ClientHandshake, DigestScheme, HandshakeError, HandshakeInfo, HandshakeMode,
    HandshakeStatus, PeerResponse, ServerHandshake, DEFAULT_CLIENT_VERSION, DEFAULT_SERVER_VERSION,
    PACKET_LEN,
};

use super::common::{self, Split};

/// C0/S0 + C1/S1 + C2/S2.
const HANDSHAKE_LEN: usize = 1 + 2 * PACKET_LEN;

pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let input = common::split(rest);
    if flags & 0x80 != 0 {
        loopback(flags, input);
    } else {
        peer_bytes(flags, input);
    }
}

fn client_config(flags: u8, version: u32) -> ClientConfig {
    ClientConfig {
        mode: if flags & 1 == 0 {
            HandshakeMode::Digest
        } else {
            HandshakeMode::Simple
        },
        scheme: if flags & 2 == 0 {
            DigestScheme::Scheme0
        } else {
            DigestScheme::Scheme1
        },
        version,
    }
}

/// Either side of the handshake, so both can be driven by the same code.
trait Side {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError>;
}

impl Side for ServerHandshake {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        ServerHandshake::feed(self, input, out)
    }
}

impl Side for ClientHandshake {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        ClientHandshake::feed(self, input, out)
    }
}

/// How feeding a stream ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Everything was consumed and more is needed; the number of bytes consumed.
    InProgress(usize),
    /// Done after consuming this many bytes.
    Done(usize, HandshakeInfo),
    Failed(HandshakeError),
}

/// Feeds `pieces` one after another, checking the per-call promises, and reports the
/// outcome. `already` is how many bytes earlier calls consumed; `out` collects what the side
/// sends.
fn drive<'a>(
    side: &mut dyn Side,
    already: usize,
    pieces: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
) -> Outcome {
    let mut total = already;
    for piece in pieces {
        match side.feed(piece, out) {
            Ok((consumed, HandshakeStatus::InProgress)) => {
                assert_eq!(
                    consumed,
                    piece.len(),
                    "InProgress must consume every byte offered"
                );
                total += consumed;
                assert!(total < HANDSHAKE_LEN, "InProgress after {total} bytes");
            }
            Ok((consumed, HandshakeStatus::Done(info))) => {
                assert!(consumed <= piece.len(), "consumed more than offered");
                total += consumed;
                assert_eq!(total, HANDSHAKE_LEN, "Done after {total} bytes");
                // Done is final and consumes nothing more, whatever follows.
                let before = out.len();
                let again = side.feed(&piece[consumed..], out);
                assert_eq!(again, Ok((0, HandshakeStatus::Done(info.clone()))));
                let again = side.feed(b"\x03more", out);
                assert_eq!(again, Ok((0, HandshakeStatus::Done(info.clone()))));
                assert_eq!(out.len(), before, "output after Done");
                return Outcome::Done(total, info);
            }
            Err(error) => {
                // Errors are final.
                let before = out.len();
                assert_eq!(side.feed(piece, out), Err(error.clone()));
                assert_eq!(side.feed(&[3; 8], out), Err(error.clone()));
                assert_eq!(out.len(), before, "output after an error");
                return Outcome::Failed(error);
            }
        }
    }
    Outcome::InProgress(total)
}

fn peer_bytes(flags: u8, input: Split<'_>) {
    let seed = [flags.wrapping_mul(31); 32];
    let time = u32::from(flags) * 977;

    // Server: the payload is C0 C1 C2 and whatever follows.
    let run_server = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut server = ServerHandshake::new(seed, time);
        let mut out = Vec::new();
        let outcome = drive(&mut server, 0, pieces, &mut out);
        (outcome, out)
    };
    let (whole, whole_out) = run_server(&mut std::iter::once(input.payload));
    let (pieces, pieces_out) = run_server(&mut input.pieces());
    check_same(
        "server",
        &whole,
        &pieces,
        &whole_out,
        &pieces_out,
        input.payload.len(),
    );
    // S0 S1 S2 go out as soon as C1 is in, and nothing else ever.
    let c1_in = match &whole {
        Outcome::InProgress(n) => *n > PACKET_LEN,
        Outcome::Done(..) => true,
        Outcome::Failed(_) => false,
    };
    assert_eq!(whole_out.len(), if c1_in { HANDSHAKE_LEN } else { 0 });
    if c1_in {
        assert_eq!(whole_out[0], 3, "S0");
        // A simple C1 (no digest) gets its exact echo as S2.
        if let Outcome::Done(_, info) = &whole {
            if !info.peer_digest {
                assert_eq!(
                    &whole_out[1 + PACKET_LEN..],
                    &input.payload[1..1 + PACKET_LEN]
                );
                assert_eq!(info.mode, HandshakeMode::Simple);
            }
        }
    }

    // Client: the payload is S0 S1 S2 and whatever follows.
    let version = u32::from_be_bytes(common::bytes_at(input.payload, 5));
    let config = client_config(
        flags,
        if flags & 4 == 0 {
            DEFAULT_CLIENT_VERSION
        } else {
            version
        },
    );
    let run_client = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut out = Vec::new();
        let mut client = ClientHandshake::with_config(config, seed, time, &mut out);
        assert_eq!(out.len(), 1 + PACKET_LEN, "C0 C1");
        assert_eq!(out[0], 3, "C0");
        let outcome = drive(&mut client, 0, pieces, &mut out);
        (outcome, out)
    };
    let (whole, whole_out) = run_client(&mut std::iter::once(input.payload));
    let (pieces, pieces_out) = run_client(&mut input.pieces());
    check_same(
        "client",
        &whole,
        &pieces,
        &whole_out,
        &pieces_out,
        input.payload.len(),
    );
    let s1_in = match &whole {
        Outcome::InProgress(n) => *n > PACKET_LEN,
        Outcome::Done(..) => true,
        // Only a bad S0 or a bad S2 signature fail, and the latter comes after S1.
        Outcome::Failed(e) => *e == HandshakeError::InvalidPeerDigest,
    };
    assert_eq!(
        whole_out.len(),
        1 + PACKET_LEN + if s1_in { PACKET_LEN } else { 0 }
    );
    if let Outcome::Done(_, info) = &whole {
        if info.mode == HandshakeMode::Simple && config.mode == HandshakeMode::Simple {
            // A simple client echoes S1.
            assert_eq!(
                &whole_out[1 + PACKET_LEN..],
                &input.payload[1..1 + PACKET_LEN]
            );
        }
    }
}

fn check_same(
    who: &str,
    whole: &Outcome,
    pieces: &Outcome,
    whole_out: &[u8],
    pieces_out: &[u8],
    len: usize,
) {
    assert_eq!(whole, pieces, "{who}: pieces and whole disagree");
    assert!(
        whole_out == pieces_out,
        "{who}: pieces and whole sent different bytes"
    );
    if let Outcome::InProgress(n) = whole {
        assert_eq!(*n, len, "{who}: InProgress without consuming everything");
    }
}

fn loopback(flags: u8, input: Split<'_>) {
    let p = input.payload;
    let client_seed: [u8; 32] = common::bytes_at(p, 0);
    let server_seed: [u8; 32] = common::bytes_at(p, 32);
    let client_time = u32::from_be_bytes(common::bytes_at(p, 64));
    let server_time = u32::from_be_bytes(common::bytes_at(p, 68));
    let raw_version = u32::from_be_bytes(common::bytes_at(p, 72));
    // The default versions unless bit 2 asks for fuzzed ones (zero included).
    let fuzzed_versions = flags & 4 != 0;
    let client_version = if fuzzed_versions {
        raw_version
    } else {
        DEFAULT_CLIENT_VERSION
    };
    let server_version = u32::from_be_bytes(common::bytes_at(p, 76));
    let config = client_config(flags, client_version);

    let mut to_server = Vec::new();
    let mut client = ClientHandshake::with_config(config, client_seed, client_time, &mut to_server);
    let mut server = ServerHandshake::new(server_seed, server_time);
    if fuzzed_versions {
        server = server.with_version(server_version);
    }
    let mut to_client = Vec::new();

    // C0 C1 -> server -> S0 S1 S2 -> client -> C2 -> server.
    let s = drive(&mut server, 0, input.cut(&to_server), &mut to_client);
    assert!(
        matches!(s, Outcome::InProgress(n) if n == 1 + PACKET_LEN),
        "{s:?}"
    );
    assert_eq!(to_client.len(), HANDSHAKE_LEN);
    let before = to_server.len();
    let c = drive(&mut client, 0, input.cut(&to_client), &mut to_server);
    let Outcome::Done(_, client_info) = c else {
        panic!("client did not finish against our own server: {c:?}");
    };
    assert_eq!(to_server.len() - before, PACKET_LEN, "C2");
    let c2 = to_server[before..].to_vec();
    let s = drive(&mut server, 1 + PACKET_LEN, input.cut(&c2), &mut to_client);
    let Outcome::Done(_, server_info) = s else {
        panic!("server did not finish against our own client: {s:?}");
    };
    assert_eq!(
        to_client.len(),
        HANDSHAKE_LEN,
        "server sent more than S0 S1 S2"
    );

    assert_eq!(client_info.peer_time, server_time);
    assert_eq!(server_info.peer_time, client_time);
    assert_eq!(
        server_info.peer_version,
        if config.mode == HandshakeMode::Simple {
            0
        } else {
            client_version
        }
    );
    let client_signed = config.mode == HandshakeMode::Digest;
    assert_eq!(
        server_info.peer_digest, client_signed,
        "server sees the client's digest"
    );
    assert_eq!(
        client_info.peer_digest, client_signed,
        "server signs iff the client did"
    );
    let server_version = if fuzzed_versions {
        server_version
    } else {
        DEFAULT_SERVER_VERSION
    };
    if client_signed && server_version != 0 {
        assert_eq!(client_info.mode, HandshakeMode::Digest);
        assert_eq!(client_info.peer_response, PeerResponse::Digest);
        assert_eq!(server_info.mode, HandshakeMode::Digest);
        assert_eq!(server_info.peer_response, PeerResponse::Digest);
    } else if !client_signed {
        assert_eq!(client_info.mode, HandshakeMode::Simple);
        assert_eq!(client_info.peer_response, PeerResponse::Echo);
        assert_eq!(server_info.mode, HandshakeMode::Simple);
        assert_eq!(server_info.peer_response, PeerResponse::Echo);
    } else {
        // A signed S1 with a zero version: the client falls back to simple and echoes.
        assert_eq!(client_info.mode, HandshakeMode::Simple);
        assert_eq!(server_info.peer_response, PeerResponse::Echo);
    }
}
