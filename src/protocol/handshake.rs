//! The RTMP handshake (C0 C1 C2 / S0 S1 S2), both roles, sans-IO.
//!
//! Every RTMP connection opens with it. Each side sends a version byte (C0/S0, always 3 for plain
//! RTMP) and a 1536-byte packet (C1/S1: `time(4) | version(4) | random(1528)`), then answers the
//! peer's packet with a second 1536-byte packet (C2/S2). Two variants are in use:
//!
//! - **Simple**, the one in Adobe's published specification: the version field is zero and C2/S2
//!   echo the peer's S1/C1.
//! - **Digest** (also called "complex" or the FP9 handshake, from Flash Player 9 and FMS 3): the
//!   version field is non-zero, and C1/S1 carry a 32-byte HMAC-SHA256 of the rest of the packet at
//!   an offset derived from the packet's own bytes ([`DigestScheme`]), keyed with the public
//!   "Genuine Adobe Flash Player 001" (C1) or "Genuine Adobe Flash Media Server 001" (S1) keys.
//!   C2/S2 are then random except for their last 32 bytes, an HMAC keyed with a key derived from
//!   the peer's digest, which proves the sender read the peer's packet. Flash Player wants it
//!   before it plays H.264/AAC; ffmpeg always signs its C1 (and checks the server's answer when
//!   it plays), librtmp signs with SWF verification or RTMPE.
//!
//! [`ServerHandshake`] detects which variant the client speaks and answers in kind.
//! [`ClientHandshake`] speaks the variant it is configured for and falls back to simple when the
//! server does not sign its S1. Neither touches a socket, a clock or a global RNG: the caller feeds
//! received bytes to `feed`, sends what it appends to `out`, and supplies the randomness (a seed)
//! and the 4-byte time field. `feed` reports how many bytes it consumed, because the bytes after
//! C2 (or S2) in the same read already belong to the chunk stream.
//!
//! Real peers bend the rules, so checks that would reject working peers are recorded in
//! [`HandshakeInfo`] instead of enforced: ffmpeg publishing and some encoders answer a digest S1
//! with an echo instead of a signed C2, librtmp and ffmpeg rewrite the time fields of their
//! echoes, and nginx-rtmp's relay client answers a simple server with random bytes. The one hard
//! check is the one ffmpeg and librtmp make too: a digest client rejects an S2 whose signature is
//! wrong after the server signed its S1.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The version byte of plain RTMP (C0/S0).
pub const RTMP_VERSION: u8 = 3;

/// Length of each of C1, S1, C2 and S2.
pub const PACKET_LEN: usize = 1536;

/// Length of the randomness seed the caller supplies (see [`ServerHandshake::new`]).
pub const SEED_LEN: usize = 32;

/// C1 version field a digest client sends by default: 9.0.124.2, what ffmpeg and librtmp send.
/// Servers that gate the digest handshake on the player version want at least 9.0.115.
pub const DEFAULT_CLIENT_VERSION: u32 = 0x0900_7C02;

/// S1 version field a server sends to a digest client by default (4.5.0.1, an FMS-like value).
/// Clients only look at it to decide whether to check S1's digest: librtmp wants it non-zero and
/// ffmpeg wants its first byte to be at least 3.
pub const DEFAULT_SERVER_VERSION: u32 = 0x0405_0001;

/// Length of a digest (HMAC-SHA256 output).
const DIGEST_LEN: usize = 32;

/// The signed part of a digest C2/S2: everything before its 32-byte signature.
const SIGNED_LEN: usize = PACKET_LEN - DIGEST_LEN;

/// The 32 bytes shared by both Adobe keys after their text.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];

/// The Flash Player key: its first 30 bytes (the text) sign C1, all 62 derive the C2 key.
const FP_KEY: [u8; 62] = genuine_key(b"Genuine Adobe Flash Player 001");
const FP_KEY_TEXT_LEN: usize = 30;

/// The Flash Media Server key: its first 36 bytes (the text) sign S1, all 68 derive the S2 key.
const FMS_KEY: [u8; 68] = genuine_key(b"Genuine Adobe Flash Media Server 001");
const FMS_KEY_TEXT_LEN: usize = 36;

/// Appends [`KEY_TAIL`] to `text`, at compile time (a length mismatch fails the build).
const fn genuine_key<const N: usize>(text: &[u8]) -> [u8; N] {
    assert!(text.len() + KEY_TAIL.len() == N);
    let mut key = [0u8; N];
    let mut i = 0;
    while i < text.len() {
        key[i] = text[i];
        i += 1;
    }
    let mut j = 0;
    while j < KEY_TAIL.len() {
        key[text.len() + j] = KEY_TAIL[j];
        j += 1;
    }
    key
}

type Packet = [u8; PACKET_LEN];
type HmacSha256 = Hmac<Sha256>;

/// Which side of a handshake a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeMode {
    /// Zero version field, C2 echoes S1. Servers accept it; the digest variant is needed for
    /// SWF verification and by servers that insist on a "genuine" Flash Player.
    Simple,
    /// Non-zero version field and a signed C1; the server's S1/S2 are validated when it signs
    /// them, and the client falls back to simple when it does not.
    Digest,
}

/// Where a C1/S1 keeps its digest. Both placements are in use, so a receiver tries both.
///
/// ffmpeg, librtmp (without FP10) and nginx-rtmp sign in scheme 0; Flash Player 10 and RTMPE
/// clients sign in scheme 1. SRS numbers the two the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestScheme {
    /// The digest lies in bytes 8..772, at `12 + (sum of bytes 8..12) % 728`.
    Scheme0,
    /// The digest lies in bytes 772..1536, at `776 + (sum of bytes 772..776) % 728`.
    Scheme1,
}

impl DigestScheme {
    fn other(self) -> Self {
        match self {
            Self::Scheme0 => Self::Scheme1,
            Self::Scheme1 => Self::Scheme0,
        }
    }

    /// Offset of the digest in `packet`: at most 776 + 727, so the digest always fits.
    fn digest_offset(self, packet: &Packet) -> usize {
        let base = match self {
            Self::Scheme0 => 8,
            Self::Scheme1 => 772,
        };
        let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
        base + 4 + sum % 728
    }
}

/// Why a handshake failed. Every error is final: later calls to `feed` return it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's C0/S0 is not 3. A first byte of `G` or `P` (0x47, 0x50) is an HTTP request
    /// sent to the RTMP port.
    #[error("peer speaks RTMP version {0:#04x}, only version 3 is supported")]
    UnsupportedVersion(u8),
    /// The peer's C0/S0 asks for RTMPE (6: RC4, 8: RC4 + XTEA, 9: RC4 + Blowfish signatures). A
    /// separate variant so that encrypted RTMP can be added later without callers mistaking it
    /// for garbage.
    #[error("peer asks for encrypted RTMP (RTMPE type {0}), which is not supported")]
    EncryptedNotSupported(u8),
    /// The server signed its S1 but the signature at the end of its S2 is wrong: it did not
    /// derive S2 from our C1 (ffmpeg and librtmp reject such servers too).
    #[error("peer's handshake signature does not validate")]
    InvalidPeerDigest,
}

/// How the peer's second packet (C2 for a server, S2 for a client) answered ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerResponse {
    /// Random bytes ending with the signature derived from our digest (digest handshake).
    Digest,
    /// An echo of our first packet. Only bytes 8.. are compared, because librtmp and ffmpeg
    /// rewrite the second time field of their echoes.
    Echo,
    /// Neither. Accepted anyway: nginx-rtmp's relay client, for one, sends random bytes to
    /// simple servers, and no server in use rejects that.
    Other,
}

/// What the finished handshake learned about the peer, for logging and for decisions that
/// depend on the kind of peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeInfo {
    /// The peer's C1/S1 carried a valid digest.
    pub peer_digest: bool,
    /// Where that digest was, when there was one.
    pub digest_scheme: Option<DigestScheme>,
    /// The version field of the peer's C1/S1 (e.g. 0x09007C02 for ffmpeg, 0 for simple peers).
    pub peer_version: u32,
    /// The time field of the peer's C1/S1, in the peer's milliseconds since its own epoch.
    pub peer_time: u32,
    /// The variant this side ended up speaking: [`HandshakeMode::Digest`] when both first
    /// packets were signed, so that this side's second packet carried a signature. A client
    /// also treats a signed S1 with a zero version as simple, as librtmp does.
    pub mode: HandshakeMode,
    /// What the peer's C2/S2 looked like.
    pub peer_response: PeerResponse,
}

/// Result of a successful `feed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeStatus {
    /// More bytes from the peer are needed.
    InProgress,
    /// The handshake is over; bytes after the consumed ones belong to the chunk stream.
    Done(HandshakeInfo),
}

/// The variant a client is to speak, and how it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Simple or digest.
    pub mode: HandshakeMode,
    /// Where to put C1's digest (digest mode only). Scheme 0, like ffmpeg and librtmp, is the
    /// default.
    pub scheme: DigestScheme,
    /// C1's version field in digest mode (simple mode always sends zero). Keep it non-zero:
    /// servers such as nginx-rtmp treat a zero version as a simple client without looking for a
    /// digest.
    pub version: u32,
}

impl ClientConfig {
    /// The defaults of [`ClientConfig::default`], in `mode`.
    #[must_use]
    pub fn new(mode: HandshakeMode) -> Self {
        Self {
            mode,
            ..Self::default()
        }
    }
}

impl Default for ClientConfig {
    /// Digest mode, scheme 0, version 9.0.124.2: what ffmpeg sends, so what servers expect.
    fn default() -> Self {
        Self {
            mode: HandshakeMode::Digest,
            scheme: DigestScheme::Scheme0,
            version: DEFAULT_CLIENT_VERSION,
        }
    }
}

/// The server side of the handshake.
///
/// Feed it what the client sends; as soon as C0 and C1 are in it appends S0, S1 and S2 to `out`
/// (clients wait for all three), then it waits for C2.
pub struct ServerHandshake {
    random: RandomStream,
    time: u32,
    version: u32,
    stage: Stage,
    /// C1, then C2, as they arrive.
    rx: PacketReader,
    /// Our S1, kept to recognise an echo in C2.
    s1: Box<Packet>,
    /// Key of C2's signature when both sides signed their first packet.
    c2_key: Option<[u8; DIGEST_LEN]>,
    peer: PeerHello,
}

impl ServerHandshake {
    /// A server handshake waiting for C0.
    ///
    /// `seed` is expanded (SHA-256 in counter mode) into the random parts of S1 and S2: pass
    /// fresh OS randomness in production so that connections differ, fixed bytes in tests to be
    /// deterministic. In plain RTMP these bytes protect nothing (the keys are public), so a weak
    /// seed costs only uniqueness.
    /// `time` is S1's time field: milliseconds since an epoch of the caller's choice, which the
    /// client may use as the base of our timestamps.
    #[must_use]
    pub fn new(seed: [u8; SEED_LEN], time: u32) -> Self {
        Self {
            random: RandomStream::new(seed),
            time,
            version: DEFAULT_SERVER_VERSION,
            stage: Stage::Version,
            rx: PacketReader::new(),
            s1: Box::new([0; PACKET_LEN]),
            c2_key: None,
            peer: PeerHello::default(),
        }
    }

    /// Replaces the S1 version field sent to digest clients ([`DEFAULT_SERVER_VERSION`]). Zero
    /// makes ffmpeg and librtmp ignore the S1 digest and answer with an echo.
    #[must_use]
    pub fn with_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Consumes handshake bytes from `input` and appends the bytes to send to `out`.
    ///
    /// Returns how many bytes of `input` it consumed and whether the handshake is done. It never
    /// consumes a byte past C2: when it returns [`HandshakeStatus::Done`], `input[consumed..]`
    /// is the start of the chunk stream. Input may arrive in pieces of any size, down to one
    /// byte. After `Done`, further calls consume nothing and return `Done` again.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedVersion`] or [`HandshakeError::EncryptedNotSupported`] when
    /// C0 is not 3; nothing is sent then. Errors are final: the connection should be closed.
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        let mut consumed = 0;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            match &self.stage {
                Stage::Version => {
                    let Some(&c0) = rest.first() else { break };
                    consumed += 1;
                    if let Err(error) = check_version(c0) {
                        self.stage = Stage::Failed(error.clone());
                        return Err(error);
                    }
                    self.stage = Stage::First;
                }
                Stage::First => {
                    consumed += self.rx.fill(rest);
                    if !self.rx.is_full() {
                        break;
                    }
                    self.answer_c1(out);
                    self.rx.clear();
                    self.stage = Stage::Second;
                }
                Stage::Second => {
                    consumed += self.rx.fill(rest);
                    if !self.rx.is_full() {
                        break;
                    }
                    let info = self.check_c2();
                    self.stage = Stage::Done(info);
                }
                Stage::Done(info) => return Ok((consumed, HandshakeStatus::Done(info.clone()))),
                Stage::Failed(error) => return Err(error.clone()),
            }
        }
        Ok((consumed, HandshakeStatus::InProgress))
    }

    /// Reads C1 and appends S0, S1 and S2: signed ones if C1 is signed, else simple ones.
    fn answer_c1(&mut self, out: &mut Vec<u8>) {
        let c1: &Packet = &self.rx.buf;
        let found = find_digest(c1, &FP_KEY[..FP_KEY_TEXT_LEN], DigestScheme::Scheme0);
        self.peer = PeerHello::read(c1, found.map(|(scheme, _)| scheme));

        let s1: &mut Packet = &mut self.s1;
        s1[..4].copy_from_slice(&self.time.to_be_bytes());
        self.random.fill(&mut s1[8..]);
        out.reserve(1 + 2 * PACKET_LEN);
        out.push(RTMP_VERSION);
        if let Some((scheme, c1_digest)) = found {
            // Signed in the client's scheme, as SRS does (FMS and nginx-rtmp always use
            // scheme 0; clients look in both).
            s1[4..8].copy_from_slice(&self.version.to_be_bytes());
            let s1_digest = place_digest(s1, scheme, &FMS_KEY[..FMS_KEY_TEXT_LEN]);
            out.extend_from_slice(s1);
            let mut s2 = [0; PACKET_LEN];
            self.random.fill(&mut s2[..SIGNED_LEN]);
            sign_response(&mut s2, &derive_key(&FMS_KEY, &c1_digest));
            out.extend_from_slice(&s2);
            self.c2_key = Some(derive_key(&FP_KEY, &s1_digest));
        } else {
            log::debug!(
                "handshake: C1 (version {:#010x}) has no valid digest, answering with the simple handshake",
                self.peer.version
            );
            // A zero version tells digest-capable clients not to look for a digest.
            s1[4..8].fill(0);
            out.extend_from_slice(s1);
            out.extend_from_slice(c1);
        }
    }

    fn check_c2(&self) -> HandshakeInfo {
        let c2: &Packet = &self.rx.buf;
        let peer_response = match &self.c2_key {
            Some(key) if response_is_signed(c2, key) => PeerResponse::Digest,
            _ if is_echo(c2, &self.s1) => PeerResponse::Echo,
            _ => PeerResponse::Other,
        };
        if self.c2_key.is_some() && peer_response != PeerResponse::Digest {
            log::debug!(
                "handshake: digest client answered with an unsigned C2 ({peer_response:?})"
            );
        }
        let mode = if self.c2_key.is_some() {
            HandshakeMode::Digest
        } else {
            HandshakeMode::Simple
        };
        self.peer.info(mode, peer_response)
    }
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("stage", &self.stage)
            .field("time", &self.time)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The client side of the handshake.
///
/// Created with C0 and C1 already written out; feed it what the server sends. It sends C2 as soon
/// as S1 is in, as librtmp does (the specification allows it; ffmpeg waits for S2 first), and is
/// done when S2 is in.
pub struct ClientHandshake {
    random: RandomStream,
    config: ClientConfig,
    stage: Stage,
    /// Our C1, kept to recognise an echo in S2.
    c1: Box<Packet>,
    /// C1's digest, in digest mode.
    c1_digest: Option<[u8; DIGEST_LEN]>,
    /// S1, then S2, as they arrive.
    rx: PacketReader,
    /// Key of S2's signature when both sides signed their first packet.
    s2_key: Option<[u8; DIGEST_LEN]>,
    peer: PeerHello,
}

impl ClientHandshake {
    /// A client handshake in `mode` with the other settings of [`ClientConfig::default`];
    /// appends C0 and C1 to `out`. See [`ClientHandshake::with_config`].
    pub fn new(mode: HandshakeMode, seed: [u8; SEED_LEN], time: u32, out: &mut Vec<u8>) -> Self {
        Self::with_config(ClientConfig::new(mode), seed, time, out)
    }

    /// A client handshake speaking `config`; appends C0 and C1 to `out` at once, since a client
    /// speaks first.
    ///
    /// `seed` is expanded (SHA-256 in counter mode) into the random parts of C1 and C2: pass
    /// fresh OS randomness in production, fixed bytes in tests. `time` is C1's time field
    /// (milliseconds since an epoch of the caller's choice).
    pub fn with_config(
        config: ClientConfig,
        seed: [u8; SEED_LEN],
        time: u32,
        out: &mut Vec<u8>,
    ) -> Self {
        let mut random = RandomStream::new(seed);
        let mut c1: Box<Packet> = Box::new([0; PACKET_LEN]);
        c1[..4].copy_from_slice(&time.to_be_bytes());
        random.fill(&mut c1[8..]);
        let c1_digest = match config.mode {
            HandshakeMode::Simple => None,
            HandshakeMode::Digest => {
                c1[4..8].copy_from_slice(&config.version.to_be_bytes());
                Some(place_digest(
                    &mut c1,
                    config.scheme,
                    &FP_KEY[..FP_KEY_TEXT_LEN],
                ))
            }
        };
        out.reserve(1 + PACKET_LEN);
        out.push(RTMP_VERSION);
        out.extend_from_slice(&c1[..]);
        Self {
            random,
            config,
            stage: Stage::Version,
            c1,
            c1_digest,
            rx: PacketReader::new(),
            s2_key: None,
            peer: PeerHello::default(),
        }
    }

    /// Consumes handshake bytes from `input` and appends the bytes to send (C2) to `out`.
    ///
    /// Returns how many bytes of `input` it consumed and whether the handshake is done. It never
    /// consumes a byte past S2: when it returns [`HandshakeStatus::Done`], `input[consumed..]`
    /// is the start of the chunk stream. Input may arrive in pieces of any size, down to one
    /// byte. After `Done`, further calls consume nothing and return `Done` again.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedVersion`] or [`HandshakeError::EncryptedNotSupported`] when
    /// S0 is not 3, and [`HandshakeError::InvalidPeerDigest`] when the server signed its S1 but
    /// not its S2 correctly. Errors are final: the connection should be closed.
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, HandshakeStatus), HandshakeError> {
        let mut consumed = 0;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            match &self.stage {
                Stage::Version => {
                    let Some(&s0) = rest.first() else { break };
                    consumed += 1;
                    if let Err(error) = check_version(s0) {
                        self.stage = Stage::Failed(error.clone());
                        return Err(error);
                    }
                    self.stage = Stage::First;
                }
                Stage::First => {
                    consumed += self.rx.fill(rest);
                    if !self.rx.is_full() {
                        break;
                    }
                    self.answer_s1(out);
                    self.rx.clear();
                    self.stage = Stage::Second;
                }
                Stage::Second => {
                    consumed += self.rx.fill(rest);
                    if !self.rx.is_full() {
                        break;
                    }
                    match self.check_s2() {
                        Ok(info) => self.stage = Stage::Done(info),
                        Err(error) => {
                            self.stage = Stage::Failed(error.clone());
                            return Err(error);
                        }
                    }
                }
                Stage::Done(info) => return Ok((consumed, HandshakeStatus::Done(info.clone()))),
                Stage::Failed(error) => return Err(error.clone()),
            }
        }
        Ok((consumed, HandshakeStatus::InProgress))
    }

    /// Reads S1 and appends C2: a signed one if both sides signed, else an echo of S1.
    fn answer_s1(&mut self, out: &mut Vec<u8>) {
        let s1: &Packet = &self.rx.buf;
        let found = find_digest(s1, &FMS_KEY[..FMS_KEY_TEXT_LEN], self.config.scheme);
        self.peer = PeerHello::read(s1, found.map(|(scheme, _)| scheme));
        out.reserve(PACKET_LEN);
        match (self.c1_digest, found) {
            // Like librtmp, a zero version means "simple server", whatever its bytes say.
            (Some(c1_digest), Some((_, s1_digest))) if self.peer.version != 0 => {
                let mut c2 = [0; PACKET_LEN];
                self.random.fill(&mut c2[..SIGNED_LEN]);
                sign_response(&mut c2, &derive_key(&FP_KEY, &s1_digest));
                out.extend_from_slice(&c2);
                self.s2_key = Some(derive_key(&FMS_KEY, &c1_digest));
            }
            (c1_digest, _) => {
                if c1_digest.is_some() {
                    log::debug!(
                        "handshake: S1 (version {:#010x}) is not signed, falling back to the simple handshake",
                        self.peer.version
                    );
                }
                out.extend_from_slice(s1);
            }
        }
    }

    fn check_s2(&self) -> Result<HandshakeInfo, HandshakeError> {
        let s2: &Packet = &self.rx.buf;
        let (mode, peer_response) = match &self.s2_key {
            Some(key) if response_is_signed(s2, key) => {
                (HandshakeMode::Digest, PeerResponse::Digest)
            }
            Some(_) => return Err(HandshakeError::InvalidPeerDigest),
            None if is_echo(s2, &self.c1) => (HandshakeMode::Simple, PeerResponse::Echo),
            None => (HandshakeMode::Simple, PeerResponse::Other),
        };
        Ok(self.peer.info(mode, peer_response))
    }
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("stage", &self.stage)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Where a handshake is; shared by both roles, whose steps mirror each other.
#[derive(Debug)]
enum Stage {
    /// Waiting for C0/S0.
    Version,
    /// Reading C1/S1.
    First,
    /// Reading C2/S2.
    Second,
    Done(HandshakeInfo),
    Failed(HandshakeError),
}

/// What the peer's C1/S1 said about itself.
#[derive(Debug, Default, Clone, Copy)]
struct PeerHello {
    time: u32,
    version: u32,
    digest: Option<DigestScheme>,
}

impl PeerHello {
    fn read(packet: &Packet, digest: Option<DigestScheme>) -> Self {
        Self {
            time: u32::from_be_bytes([packet[0], packet[1], packet[2], packet[3]]),
            version: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            digest,
        }
    }

    fn info(&self, mode: HandshakeMode, peer_response: PeerResponse) -> HandshakeInfo {
        HandshakeInfo {
            peer_digest: self.digest.is_some(),
            digest_scheme: self.digest,
            peer_version: self.version,
            peer_time: self.time,
            mode,
            peer_response,
        }
    }
}

/// Accepts plain RTMP's version byte, and tells encrypted RTMP apart from garbage.
fn check_version(byte: u8) -> Result<(), HandshakeError> {
    match byte {
        RTMP_VERSION => Ok(()),
        6 | 8 | 9 => Err(HandshakeError::EncryptedNotSupported(byte)),
        other => Err(HandshakeError::UnsupportedVersion(other)),
    }
}

/// Collects one 1536-byte packet from input that arrives in pieces.
struct PacketReader {
    buf: Box<Packet>,
    len: usize,
}

impl PacketReader {
    fn new() -> Self {
        Self {
            buf: Box::new([0; PACKET_LEN]),
            len: 0,
        }
    }

    /// Takes as many bytes of `input` as the packet still lacks; returns how many.
    fn fill(&mut self, input: &[u8]) -> usize {
        let n = input.len().min(PACKET_LEN - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&input[..n]);
        self.len += n;
        n
    }

    fn is_full(&self) -> bool {
        self.len == PACKET_LEN
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// The caller's seed expanded into a stream of filler bytes: block `i` is SHA-256(seed || i).
struct RandomStream {
    seed: [u8; SEED_LEN],
    counter: u64,
}

impl RandomStream {
    fn new(seed: [u8; SEED_LEN]) -> Self {
        Self { seed, counter: 0 }
    }

    fn fill(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(DIGEST_LEN) {
            let block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter = self.counter.wrapping_add(1);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

/// An HMAC-SHA256 state keyed with `key`.
fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (longer ones are hashed first); the hmac crate's own
    // `KeyInit::new` relies on this never failing.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// HMAC-SHA256 over `data` under `key`.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The HMAC of a C1/S1 with the 32 bytes at `offset` (its digest) left out, unfinished.
fn packet_mac(packet: &Packet, offset: usize, key: &[u8]) -> HmacSha256 {
    let mut mac = keyed(key);
    mac.update(&packet[..offset]);
    mac.update(&packet[offset + DIGEST_LEN..]);
    mac
}

/// Signs a C1/S1 in `scheme` under `key` and returns the digest.
fn place_digest(packet: &mut Packet, scheme: DigestScheme, key: &[u8]) -> [u8; DIGEST_LEN] {
    let offset = scheme.digest_offset(packet);
    let digest: [u8; DIGEST_LEN] = packet_mac(packet, offset, key)
        .finalize()
        .into_bytes()
        .into();
    packet[offset..offset + DIGEST_LEN].copy_from_slice(&digest);
    digest
}

/// Looks for a valid digest under `key`, in `first` and then in the other scheme, and returns
/// where it was and its value.
fn find_digest(
    packet: &Packet,
    key: &[u8],
    first: DigestScheme,
) -> Option<(DigestScheme, [u8; DIGEST_LEN])> {
    [first, first.other()].into_iter().find_map(|scheme| {
        let offset = scheme.digest_offset(packet);
        let digest: [u8; DIGEST_LEN] = packet[offset..offset + DIGEST_LEN].try_into().ok()?;
        packet_mac(packet, offset, key)
            .verify_slice(&digest)
            .ok()
            .map(|()| (scheme, digest))
    })
}

/// The key that signs a C2/S2: HMAC of the peer's C1/S1 digest under the full Adobe key of the
/// side that signs.
fn derive_key(full_key: &[u8], peer_digest: &[u8; DIGEST_LEN]) -> [u8; DIGEST_LEN] {
    hmac_sha256(full_key, peer_digest)
}

/// Writes a C2/S2's signature: the HMAC of its first 1504 bytes, into its last 32.
fn sign_response(packet: &mut Packet, key: &[u8; DIGEST_LEN]) {
    let signature = hmac_sha256(key, &packet[..SIGNED_LEN]);
    packet[SIGNED_LEN..].copy_from_slice(&signature);
}

fn response_is_signed(packet: &Packet, key: &[u8; DIGEST_LEN]) -> bool {
    let mut mac = keyed(key);
    mac.update(&packet[..SIGNED_LEN]);
    mac.verify_slice(&packet[SIGNED_LEN..]).is_ok()
}

/// Whether `received` echoes `sent`, time fields aside.
fn is_echo(received: &Packet, sent: &Packet) -> bool {
    received[8..] == sent[8..]
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
