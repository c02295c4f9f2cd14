//! Tests of the handshake: both roles wired together in memory, the digest rules checked against
//! an independent computation and known answers (computed outside Rust), what real peers send,
//! and property tests.

use std::ops::Range;

use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha2::Sha256;

use super::*;

const CLIENT_SEED: [u8; SEED_LEN] = [0xC1; SEED_LEN];
const SERVER_SEED: [u8; SEED_LEN] = [0x51; SEED_LEN];
const CLIENT_TIME: u32 = 1_000;
const SERVER_TIME: u32 = 2_000;
/// What follows the handshake on the wire: a Set Chunk Size message (chunk stream 2).
const CHUNK_BYTES: &[u8] = &[2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0];

/// The Adobe keys, written out independently of the module's constants.
const FP_TEXT: &[u8] = b"Genuine Adobe Flash Player 001";
const FMS_TEXT: &[u8] = b"Genuine Adobe Flash Media Server 001";
const TAIL_HEX: &str = "f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae";

use DigestScheme::{Scheme0, Scheme1};
use HandshakeMode::{Digest, Simple};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn full_key(text: &[u8]) -> Vec<u8> {
    [text, &hex(TAIL_HEX)].concat()
}

/// HMAC-SHA256 straight from the hmac crate, bypassing the module's helpers.
fn reference_hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Digest offset by the published rule, computed independently of `DigestScheme`.
fn reference_offset(packet: &[u8], scheme: DigestScheme) -> usize {
    let base = if scheme == Scheme0 { 8 } else { 772 };
    let sum: usize = packet[base..base + 4].iter().map(|&b| b as usize).sum();
    sum % 728 + base + 4
}

/// The digest a packet should carry in `scheme` under `key`.
fn reference_digest(packet: &[u8], scheme: DigestScheme, key: &[u8]) -> (usize, [u8; 32]) {
    let offset = reference_offset(packet, scheme);
    let rest = [&packet[..offset], &packet[offset + 32..]].concat();
    (offset, reference_hmac(key, &rest))
}

fn reference_is_signed(packet: &[u8], scheme: DigestScheme, key: &[u8]) -> Option<[u8; 32]> {
    let (offset, digest) = reference_digest(packet, scheme, key);
    (packet[offset..offset + 32] == digest).then_some(digest)
}

/// A fixed C1: time 0x01020304, version 9.0.124.2, byte i = 31 i + 7 (the known answers below
/// were computed from this with Python's hmac module).
fn pattern_c1() -> Packet {
    let mut c1 = [0; PACKET_LEN];
    c1[..4].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    c1[4..8].copy_from_slice(&DEFAULT_CLIENT_VERSION.to_be_bytes());
    for (i, byte) in c1.iter_mut().enumerate().skip(8) {
        *byte = (i * 31 + 7) as u8;
    }
    c1
}

/// `pattern_c1` signed by hand in `scheme`; returns it with the digest's offset and value.
fn hand_signed_c1(scheme: DigestScheme) -> (Packet, usize, [u8; 32]) {
    let mut c1 = pattern_c1();
    let (offset, digest) = reference_digest(&c1, scheme, FP_TEXT);
    c1[offset..offset + 32].copy_from_slice(&digest);
    (c1, offset, digest)
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().unwrap())
}

fn done(status: HandshakeStatus) -> HandshakeInfo {
    match status {
        HandshakeStatus::Done(info) => info,
        HandshakeStatus::InProgress => panic!("handshake not done"),
    }
}

trait Feed {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError>;
}

impl Feed for ServerHandshake {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        ServerHandshake::feed(self, input, out)
    }
}

impl Feed for ClientHandshake {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        ClientHandshake::feed(self, input, out)
    }
}

/// How the bytes of one direction reach `feed`.
#[derive(Debug, Clone)]
enum Delivery {
    Whole,
    ByteByByte,
    /// Cut at these positions (clamped to the input, any order, repeats allowed).
    Cuts(Vec<usize>),
}

impl Delivery {
    fn pieces(&self, len: usize) -> Vec<Range<usize>> {
        let mut cuts: Vec<usize> = match self {
            Self::Whole => Vec::new(),
            Self::ByteByByte => (1..len).collect(),
            Self::Cuts(cuts) => cuts.iter().map(|&cut| cut.min(len)).collect(),
        };
        cuts.push(len);
        cuts.sort_unstable();
        let mut start = 0;
        cuts.into_iter()
            .map(|end| {
                let piece = start..end;
                start = end;
                piece
            })
            .collect()
    }
}

/// Feeds `input` piece by piece; checks that every byte up to the end of the handshake is
/// consumed and none after it. Returns (consumed, last status, bytes to send).
fn drive(
    hs: &mut impl Feed,
    input: &[u8],
    delivery: &Delivery,
) -> (usize, HandshakeStatus, Vec<u8>) {
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut status = HandshakeStatus::InProgress;
    for piece in delivery.pieces(input.len()) {
        let len = piece.len();
        let was_done = matches!(status, HandshakeStatus::Done(_));
        let (n, next) = hs.feed(&input[piece], &mut out).expect("handshake failed");
        if was_done {
            assert_eq!(n, 0, "consumed bytes after the handshake was done");
            assert_eq!(next, status, "status changed after the handshake was done");
        } else if next == HandshakeStatus::InProgress {
            assert_eq!(n, len, "left bytes unconsumed mid-handshake");
        }
        consumed += n;
        status = next;
    }
    (consumed, status, out)
}

/// Everything both sides sent and learned in one handshake.
#[derive(Debug, PartialEq)]
struct Exchange {
    c0c1: Vec<u8>,
    s0s1s2: Vec<u8>,
    c2: Vec<u8>,
    client: HandshakeInfo,
    server: HandshakeInfo,
}

/// Runs a client and a server against each other in memory, each direction followed by chunk
/// bytes that must be left alone.
fn exchange(config: ClientConfig, server: ServerHandshake, delivery: &Delivery) -> Exchange {
    let mut server = server;
    let mut c0c1 = Vec::new();
    let mut client = ClientHandshake::with_config(config, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    assert_eq!(c0c1.len(), 1 + PACKET_LEN);
    assert_eq!(c0c1[0], 3);

    let (n, status, s0s1s2) = drive(&mut server, &c0c1, delivery);
    assert_eq!((n, status), (c0c1.len(), HandshakeStatus::InProgress));
    assert_eq!(
        s0s1s2.len(),
        1 + 2 * PACKET_LEN,
        "S0, S1 and S2 go out together"
    );
    assert_eq!(s0s1s2[0], 3);

    let from_server = [&s0s1s2[..], CHUNK_BYTES].concat();
    let (n, status, c2) = drive(&mut client, &from_server, delivery);
    assert_eq!(&from_server[n..], CHUNK_BYTES);
    let client_info = done(status);
    assert_eq!(c2.len(), PACKET_LEN);

    let from_client = [&c2[..], CHUNK_BYTES].concat();
    let (n, status, nothing) = drive(&mut server, &from_client, delivery);
    assert_eq!(&from_client[n..], CHUNK_BYTES);
    assert!(nothing.is_empty());
    Exchange {
        c0c1,
        s0s1s2,
        c2,
        client: client_info,
        server: done(status),
    }
}

fn server() -> ServerHandshake {
    ServerHandshake::new(SERVER_SEED, SERVER_TIME)
}

fn config(mode: HandshakeMode, scheme: DigestScheme) -> ClientConfig {
    ClientConfig {
        mode,
        scheme,
        ..ClientConfig::default()
    }
}

fn info(
    peer_digest: Option<DigestScheme>,
    peer_version: u32,
    peer_time: u32,
    mode: HandshakeMode,
    peer_response: PeerResponse,
) -> HandshakeInfo {
    HandshakeInfo {
        peer_digest: peer_digest.is_some(),
        digest_scheme: peer_digest,
        peer_version,
        peer_time,
        mode,
        peer_response,
    }
}

#[test]
fn simple_client_and_server() {
    for delivery in [Delivery::Whole, Delivery::ByteByByte] {
        let x = exchange(ClientConfig::new(Simple), server(), &delivery);
        assert_eq!(be32(&x.c0c1[5..]), 0, "simple C1 has a zero version");
        assert_eq!(be32(&x.s0s1s2[5..]), 0, "answered with a simple S1");
        assert_eq!(&x.s0s1s2[1 + PACKET_LEN..], &x.c0c1[1..], "S2 echoes C1");
        assert_eq!(&x.c2[..], &x.s0s1s2[1..=PACKET_LEN], "C2 echoes S1");
        assert_eq!(
            x.client,
            info(None, 0, SERVER_TIME, Simple, PeerResponse::Echo)
        );
        assert_eq!(
            x.server,
            info(None, 0, CLIENT_TIME, Simple, PeerResponse::Echo)
        );
    }
}

#[test]
fn digest_client_and_server_in_both_schemes() {
    for scheme in [Scheme0, Scheme1] {
        for delivery in [Delivery::Whole, Delivery::ByteByByte] {
            let x = exchange(config(Digest, scheme), server(), &delivery);
            let s1 = &x.s0s1s2[1..=PACKET_LEN];
            assert!(reference_is_signed(&x.c0c1[1..], scheme, FP_TEXT).is_some());
            assert!(
                reference_is_signed(s1, scheme, FMS_TEXT).is_some(),
                "S1 signed in the client's scheme"
            );
            assert_eq!(
                x.client,
                info(
                    Some(scheme),
                    DEFAULT_SERVER_VERSION,
                    SERVER_TIME,
                    Digest,
                    PeerResponse::Digest
                )
            );
            assert_eq!(
                x.server,
                info(
                    Some(scheme),
                    DEFAULT_CLIENT_VERSION,
                    CLIENT_TIME,
                    Digest,
                    PeerResponse::Digest
                )
            );
        }
    }
}

#[test]
fn server_takes_c0_c1_c2_and_chunk_bytes_in_one_slice() {
    for mode in [Simple, Digest] {
        let x = exchange(ClientConfig::new(mode), server(), &Delivery::Whole);
        // The same seed gives the same S1, so the recorded C2 fits a fresh server.
        let all = [&x.c0c1[..], &x.c2, CHUNK_BYTES].concat();
        let mut out = Vec::new();
        let (n, status) = server().feed(&all, &mut out).unwrap();
        assert_eq!(n, all.len() - CHUNK_BYTES.len());
        assert_eq!(out, x.s0s1s2);
        assert_eq!(done(status), x.server);
    }
}

#[test]
fn server_answers_as_soon_as_c1_is_complete() {
    let mut c0c1 = Vec::new();
    ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let mut server = server();
    let mut out = Vec::new();
    let (n, status) = server.feed(&c0c1[..PACKET_LEN], &mut out).unwrap();
    assert_eq!((n, status), (PACKET_LEN, HandshakeStatus::InProgress));
    assert!(out.is_empty());
    let (n, status) = server.feed(&c0c1[PACKET_LEN..], &mut out).unwrap();
    assert_eq!((n, status), (1, HandshakeStatus::InProgress));
    assert_eq!(out.len(), 1 + 2 * PACKET_LEN);
    assert_eq!(
        server.feed(&[], &mut out),
        Ok((0, HandshakeStatus::InProgress))
    );
}

#[test]
fn done_is_sticky_and_consumes_nothing() {
    let x = exchange(ClientConfig::default(), server(), &Delivery::Whole);
    let mut server = server();
    let mut out = Vec::new();
    let all = [&x.c0c1[..], &x.c2].concat();
    assert_eq!(done(server.feed(&all, &mut out).unwrap().1), x.server);
    out.clear();
    let again = server.feed(b"chunk bytes", &mut out).unwrap();
    assert_eq!(again, (0, HandshakeStatus::Done(x.server)));
    assert!(out.is_empty());
}

#[test]
fn server_recognises_a_hand_signed_c1_in_both_schemes() {
    for scheme in [Scheme0, Scheme1] {
        let (c1, _, c1_digest) = hand_signed_c1(scheme);
        let mut server = server();
        let mut out = Vec::new();
        server.feed(&[&[3], &c1[..]].concat(), &mut out).unwrap();
        let (s1, s2) = out[1..].split_at(PACKET_LEN);
        assert_eq!(be32(&s1[..4]), SERVER_TIME);
        assert_eq!(be32(&s1[4..]), DEFAULT_SERVER_VERSION);
        let s1_digest = reference_is_signed(s1, scheme, FMS_TEXT).expect("S1 is signed");
        let s2_key = reference_hmac(&full_key(FMS_TEXT), &c1_digest);
        assert_eq!(
            reference_hmac(&s2_key, &s2[..1504]),
            s2[1504..],
            "S2 is signed"
        );

        // A C2 signed the way librtmp and ffmpeg sign it.
        let mut c2 = vec![0x5A; PACKET_LEN];
        let c2_key = reference_hmac(&full_key(FP_TEXT), &s1_digest);
        let signature = reference_hmac(&c2_key, &c2[..1504]);
        c2[1504..].copy_from_slice(&signature);
        let (n, status) = server.feed(&c2, &mut out).unwrap();
        assert_eq!(n, PACKET_LEN);
        assert_eq!(
            done(status),
            info(
                Some(scheme),
                DEFAULT_CLIENT_VERSION,
                0x0102_0304,
                Digest,
                PeerResponse::Digest
            )
        );
    }
}

#[test]
fn known_answers() {
    // Computed with Python's hmac and hashlib from `pattern_c1` and the published keys.
    let (c1, offset, digest) = hand_signed_c1(Scheme0);
    assert_eq!(offset, 450);
    assert_eq!(
        digest[..],
        hex("3ef1503742b802ebef4af73e3f0bb2610d457cede453b61c024e99f51735bf1c")
    );
    let (c1_scheme1, offset1, digest1) = hand_signed_c1(Scheme1);
    assert_eq!(offset1, 1486);
    assert_eq!(
        digest1[..],
        hex("2287f1161fe283eb42271a73f7f781f5f1adb929851a3e21a599c025be8efdd7")
    );

    // The module signs and finds the same digests.
    for (scheme, signed, expected) in [(Scheme0, c1, digest), (Scheme1, c1_scheme1, digest1)] {
        let mut ours = pattern_c1();
        assert_eq!(
            place_digest(&mut ours, scheme, &FP_KEY[..FP_KEY_TEXT_LEN]),
            expected
        );
        assert_eq!(ours, signed);
        assert_eq!(
            find_digest(&signed, &FP_KEY[..FP_KEY_TEXT_LEN], Scheme0),
            Some((scheme, expected))
        );
        assert_eq!(
            find_digest(&signed, &FP_KEY[..FP_KEY_TEXT_LEN], Scheme1),
            Some((scheme, expected))
        );
    }

    // Keys derived from C1's digest, and an S2 signature under one of them.
    let s2_key = derive_key(&FMS_KEY, &digest);
    assert_eq!(
        s2_key[..],
        hex("ddbf6e1b8adcbd628f7b18818183714dcecd3618b9ede135515cd72a1da7d400")
    );
    assert_eq!(
        derive_key(&FP_KEY, &digest)[..],
        hex("84bc14156f3648f3f0040907946bbbece8e16f9bdce94789d4cf1255e171661a")
    );
    let mut s2 = [0; PACKET_LEN];
    for (i, byte) in s2[..SIGNED_LEN].iter_mut().enumerate() {
        *byte = (i * 13 + 5) as u8;
    }
    sign_response(&mut s2, &s2_key);
    assert_eq!(
        s2[SIGNED_LEN..],
        hex("988f672aedb413c4c435255359f9bbc2079d81bcaf2ad1e4f3b2894a6f2d076d")
    );
    assert!(response_is_signed(&s2, &s2_key));
}

#[test]
fn adobe_keys_are_the_published_ones() {
    assert_eq!(FP_KEY.len(), 62);
    assert_eq!(FMS_KEY.len(), 68);
    assert_eq!(FP_KEY[..], full_key(FP_TEXT));
    assert_eq!(FMS_KEY[..], full_key(FMS_TEXT));
    assert_eq!(&FP_KEY[..FP_KEY_TEXT_LEN], FP_TEXT);
    assert_eq!(&FMS_KEY[..FMS_KEY_TEXT_LEN], FMS_TEXT);
}

#[test]
fn digest_offsets_follow_the_published_rule() {
    let mut packet = [0; PACKET_LEN];
    assert_eq!(Scheme0.digest_offset(&packet), 12);
    assert_eq!(Scheme1.digest_offset(&packet), 776);
    packet[8..12].fill(0xFF);
    packet[772..776].fill(0xFF);
    assert_eq!(Scheme0.digest_offset(&packet), 12 + 1020 % 728);
    assert_eq!(Scheme1.digest_offset(&packet), 776 + 1020 % 728);
    for sum in 0..=1020usize {
        let mut packet = [0; PACKET_LEN];
        for (i, byte) in packet[772..776].iter_mut().enumerate() {
            *byte = sum.saturating_sub(255 * i).min(255) as u8;
        }
        let offset = Scheme1.digest_offset(&packet);
        assert_eq!(offset, reference_offset(&packet, Scheme1));
        assert!(offset + DIGEST_LEN <= PACKET_LEN);
    }
}

#[test]
fn corrupted_c1_digest_falls_back_to_simple() {
    let mut c0c1 = Vec::new();
    ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let offset = 1 + reference_offset(&c0c1[1..], Scheme0);
    // The digest's first and last bytes, the version field, and a byte of the other half.
    for at in [offset, offset + 31, 5, PACKET_LEN] {
        let mut corrupted = c0c1.clone();
        corrupted[at] ^= 0x01;
        let mut server = server();
        let mut out = Vec::new();
        server.feed(&corrupted, &mut out).unwrap();
        assert_eq!(be32(&out[5..]), 0, "simple S1 after a bad digest at {at}");
        assert_eq!(&out[1 + PACKET_LEN..], &corrupted[1..], "S2 echoes C1");
        let (_, status) = server.feed(&out[1..=PACKET_LEN], &mut Vec::new()).unwrap();
        let info = done(status);
        assert!(!info.peer_digest);
        assert_eq!(
            (info.mode, info.peer_response),
            (Simple, PeerResponse::Echo)
        );
    }
}

#[test]
fn corrupted_s2_signature_fails_a_digest_client() {
    let mut c0c1 = Vec::new();
    let mut client = ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let mut s0s1s2 = Vec::new();
    server().feed(&c0c1, &mut s0s1s2).unwrap();
    *s0s1s2.last_mut().unwrap() ^= 0x80;
    let mut c2 = Vec::new();
    assert_eq!(
        client.feed(&s0s1s2, &mut c2),
        Err(HandshakeError::InvalidPeerDigest)
    );
    assert_eq!(
        client.feed(CHUNK_BYTES, &mut c2),
        Err(HandshakeError::InvalidPeerDigest)
    );
}

#[test]
fn simple_client_accepts_any_s2() {
    let mut c0c1 = Vec::new();
    let mut client = ClientHandshake::new(Simple, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let mut s0s1s2 = Vec::new();
    server().feed(&c0c1, &mut s0s1s2).unwrap();
    // An S2 whose time fields differ (ffmpeg zeroes the second one) is still an echo.
    s0s1s2[1 + PACKET_LEN..][..8].fill(0x77);
    let (_, status) = client.feed(&s0s1s2, &mut Vec::new()).unwrap();
    assert_eq!(done(status).peer_response, PeerResponse::Echo);

    let mut c0c1 = Vec::new();
    let mut client = ClientHandshake::new(Simple, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    *s0s1s2.last_mut().unwrap() ^= 1;
    let (_, status) = client.feed(&s0s1s2, &mut Vec::new()).unwrap();
    assert_eq!(done(status).peer_response, PeerResponse::Other);
}

#[test]
fn digest_client_falls_back_when_s1_is_unsigned() {
    // nginx-rtmp answers a C1 it cannot validate by echoing it as S1 and S2: non-zero version,
    // but no server digest.
    let mut c0c1 = Vec::new();
    let mut client = ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let echo = [&c0c1[..], &c0c1[1..]].concat();
    let mut c2 = Vec::new();
    let (n, status) = client.feed(&echo, &mut c2).unwrap();
    assert_eq!(n, echo.len());
    assert_eq!(&c2[..], &c0c1[1..], "C2 echoes S1");
    assert_eq!(
        done(status),
        info(
            None,
            DEFAULT_CLIENT_VERSION,
            CLIENT_TIME,
            Simple,
            PeerResponse::Echo
        )
    );
}

#[test]
fn digest_client_treats_a_zero_version_s1_as_simple() {
    let x = exchange(
        ClientConfig::default(),
        server().with_version(0),
        &Delivery::Whole,
    );
    assert_eq!(&x.c2[..], &x.s0s1s2[1..=PACKET_LEN], "C2 echoes S1");
    assert_eq!(
        x.client,
        info(Some(Scheme0), 0, SERVER_TIME, Simple, PeerResponse::Other)
    );
    assert_eq!(
        x.server,
        info(
            Some(Scheme0),
            DEFAULT_CLIENT_VERSION,
            CLIENT_TIME,
            Digest,
            PeerResponse::Echo
        )
    );
}

#[test]
fn server_accepts_unsigned_c2_from_a_digest_client() {
    let mut c0c1 = Vec::new();
    ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let mut s0s1s2 = Vec::new();
    server().feed(&c0c1, &mut s0s1s2).unwrap();
    let s1 = &s0s1s2[1..=PACKET_LEN];
    let mut retimed = s1.to_vec();
    retimed[4..8].copy_from_slice(&[0, 0, 0x30, 0x39]);
    // ffmpeg publishing echoes S1; librtmp's echo carries its own time; nginx sends random bytes.
    for (c2, expected) in [
        (s1.to_vec(), PeerResponse::Echo),
        (retimed, PeerResponse::Echo),
        (vec![0xEE; PACKET_LEN], PeerResponse::Other),
    ] {
        let mut server = server();
        server.feed(&c0c1, &mut Vec::new()).unwrap();
        let (n, status) = server.feed(&c2, &mut Vec::new()).unwrap();
        assert_eq!(n, PACKET_LEN);
        assert_eq!(
            done(status),
            info(
                Some(Scheme0),
                DEFAULT_CLIENT_VERSION,
                CLIENT_TIME,
                Digest,
                expected
            )
        );
    }
}

#[test]
fn simple_server_accepts_any_c2() {
    let mut c0c1 = Vec::new();
    ClientHandshake::new(Simple, CLIENT_SEED, CLIENT_TIME, &mut c0c1);
    let mut server = server();
    server.feed(&c0c1, &mut Vec::new()).unwrap();
    let (_, status) = server.feed(&[0xEE; PACKET_LEN], &mut Vec::new()).unwrap();
    assert_eq!(done(status).peer_response, PeerResponse::Other);
}

#[test]
fn wrong_version_bytes_are_rejected_with_the_right_error() {
    use HandshakeError::{EncryptedNotSupported, UnsupportedVersion};
    let cases = [
        (6, EncryptedNotSupported(6)),
        (8, EncryptedNotSupported(8)),
        (9, EncryptedNotSupported(9)),
        (b'G', UnsupportedVersion(0x47)),
        (b'P', UnsupportedVersion(0x50)),
        (0, UnsupportedVersion(0)),
        (4, UnsupportedVersion(4)),
        (0xFF, UnsupportedVersion(0xFF)),
    ];
    for (byte, error) in cases {
        let mut server = server();
        let mut out = Vec::new();
        assert_eq!(server.feed(&[byte], &mut out), Err(error.clone()));
        assert!(out.is_empty(), "nothing is sent to a peer that is rejected");
        assert_eq!(
            server.feed(&[3; 8], &mut out),
            Err(error.clone()),
            "errors are final"
        );

        let mut client = ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut out);
        out.clear();
        assert_eq!(client.feed(&[byte], &mut out), Err(error.clone()));
        assert!(out.is_empty());
    }
    // An HTTP request is turned away at its first byte.
    let mut out = Vec::new();
    let request = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    assert_eq!(
        server().feed(request, &mut out),
        Err(UnsupportedVersion(b'G'))
    );
    assert!(UnsupportedVersion(b'G').to_string().contains("0x47"));
}

#[test]
fn the_seed_and_time_determine_every_byte() {
    let hello = |seed, time| {
        let mut out = Vec::new();
        ClientHandshake::new(Digest, seed, time, &mut out);
        out
    };
    assert_eq!(hello(CLIENT_SEED, 7), hello(CLIENT_SEED, 7));
    assert_ne!(hello(CLIENT_SEED, 7), hello(SERVER_SEED, 7));
    let c1 = hello(CLIENT_SEED, 7);
    assert_eq!(be32(&c1[1..]), 7);
    assert_eq!(be32(&c1[5..]), DEFAULT_CLIENT_VERSION);

    let a = exchange(ClientConfig::default(), server(), &Delivery::Whole);
    let b = exchange(ClientConfig::default(), server(), &Delivery::Whole);
    assert_eq!(a, b);
    // C1, S1, S2 and C2 each get their own random bytes.
    let s1 = &a.s0s1s2[9..=PACKET_LEN];
    let s2 = &a.s0s1s2[1 + PACKET_LEN..];
    assert_ne!(&a.c0c1[9..], s1);
    assert_ne!(&s2[..SIGNED_LEN], &a.c2[..SIGNED_LEN]);
}

#[test]
fn debug_output_stays_short() {
    let mut out = Vec::new();
    let client = ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut out);
    assert!(format!("{client:?}").len() < 200);
    assert!(format!("{:?}", server()).len() < 200);
}

fn any_scheme() -> impl Strategy<Value = DigestScheme> {
    prop_oneof![Just(Scheme0), Just(Scheme1)]
}

proptest! {
    #[test]
    fn our_c1_digest_always_validates(
        seed in any::<[u8; SEED_LEN]>(),
        time in any::<u32>(),
        scheme in any_scheme(),
        version in 1..=u32::MAX,
    ) {
        let mut c0c1 = Vec::new();
        let config = ClientConfig { mode: Digest, scheme, version };
        ClientHandshake::with_config(config, seed, time, &mut c0c1);
        prop_assert!(reference_is_signed(&c0c1[1..], scheme, FP_TEXT).is_some());
        let mut out = Vec::new();
        ServerHandshake::new(seed, time).feed(&c0c1, &mut out).unwrap();
        prop_assert_eq!(be32(&out[5..]), DEFAULT_SERVER_VERSION, "answered with a signed S1");
    }

    #[test]
    fn random_c1_has_no_digest(c1 in proptest::collection::vec(any::<u8>(), PACKET_LEN)) {
        let packet: &Packet = c1.as_slice().try_into().unwrap();
        prop_assert_eq!(find_digest(packet, &FP_KEY[..FP_KEY_TEXT_LEN], Scheme0), None);
        let mut out = Vec::new();
        server().feed(&[&[3], &c1[..]].concat(), &mut out).unwrap();
        prop_assert_eq!(be32(&out[5..]), 0, "answered with a simple S1");
        prop_assert_eq!(&out[1 + PACKET_LEN..], &c1[..]);
    }

    #[test]
    fn how_input_is_split_does_not_matter(
        mode in prop_oneof![Just(Simple), Just(Digest)],
        scheme in any_scheme(),
        cuts in proptest::collection::vec(0..2 * PACKET_LEN + 40, 0..12),
    ) {
        let whole = exchange(config(mode, scheme), server(), &Delivery::Whole);
        let split = exchange(config(mode, scheme), server(), &Delivery::Cuts(cuts));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn arbitrary_input_never_panics(
        first in prop_oneof![Just(3u8), any::<u8>()],
        data in proptest::collection::vec(any::<u8>(), 0..3 * PACKET_LEN + 64),
        piece in 1..PACKET_LEN + 100,
    ) {
        let input = [&[first], &data[..]].concat();
        let mut server = server();
        let mut client = ClientHandshake::new(Digest, CLIENT_SEED, CLIENT_TIME, &mut Vec::new());
        for hs in [&mut server as &mut dyn Feed, &mut client] {
            let mut out = Vec::new();
            let mut consumed = 0;
            for chunk in input.chunks(piece) {
                match hs.feed(chunk, &mut out) {
                    Ok((n, _)) => {
                        prop_assert!(n <= chunk.len());
                        consumed += n;
                    }
                    Err(_) => break,
                }
            }
            prop_assert!(consumed <= 1 + 2 * PACKET_LEN);
            prop_assert!(out.len() <= 1 + 2 * PACKET_LEN);
        }
    }
}
