//! Fuzz target `server_session`: a `ServerSession` driven like the runtime drives it.
//!
//! Input: `[flags] [split header] [bytes from the client]` (see `common`).
//!
//! - flags bit 0 clear: the session first gets a valid simple handshake (C0 C1, then C2,
//!   made by a `ClientHandshake` with a fixed seed against the same server seed), so the
//!   fuzzer's bytes land in the chunk stream and command layer. Set: the bytes are fed raw,
//!   from the first handshake byte on.
//! - bits 1-2: how the application answers connect / publish / play requests: accept all,
//!   reject all, alternate, or never (so the decision timeout answers them).
//! - bit 3: small chunk and AMF limits instead of the defaults.
//! - bits 4-6: how far the clock moves between pieces (0 ms .. 60 s).
//! - bit 7: the application also calls the sending API (ping, metadata, media, notifications,
//!   reconnect request, answers to commands) between pieces.
//!
//! After each piece: every event is handled, `poll_transmit` is drained and what it returns
//! is decoded by a client-side `ChunkDecoder` (the session's output must always be a valid
//! chunk stream), and `on_timeout` is called. At the end the clock jumps past every deadline.
//! Nothing may panic; an error from `feed` or `on_timeout` ends the connection, as in the
//! runtime. The byte counters must match what went in and out.

use std::sync::OnceLock;

use bytes::Bytes;
use rtmp_core::protocol::amf::AmfLimits;
use rtmp_core::protocol::amf0::Amf0Value;
use rtmp_core::protocol::chunk::{ChunkDecoder, ChunkLimits};
use rtmp_core::protocol::command::Command;
use rtmp_core::protocol::handshake::{ClientHandshake, HandshakeMode, HandshakeStatus};
use rtmp_core::session::{
    MediaKind, Millis, Outgoing, Rejection, RequestId, ServerConfig, ServerEvent, ServerSession,
};

use super::common;

const SERVER_SEED: [u8; 32] = [0x5e; 32];
const CLIENT_SEED: [u8; 32] = [0xc1; 32];

/// C0 C1 C2 of a simple-handshake client that completes against a fresh session.
pub fn handshake_prefix() -> &'static [u8] {
    static PREFIX: OnceLock<Vec<u8>> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let mut prefix = Vec::new();
        let mut client = ClientHandshake::new(HandshakeMode::Simple, CLIENT_SEED, 0, &mut prefix);
        let mut session = ServerSession::new(ServerConfig::default(), SERVER_SEED, 0);
        session.feed(&prefix, 0).expect("C0 C1");
        let mut reply = Vec::new();
        while let Some(out) = session.poll_transmit() {
            out.write_to(&mut reply);
        }
        let (consumed, status) = client.feed(&reply, &mut prefix).expect("S0 S1 S2");
        assert_eq!(consumed, reply.len());
        assert!(matches!(status, HandshakeStatus::Done(_)));
        prefix
    })
}

fn config(small: bool) -> ServerConfig {
    let mut config = ServerConfig::default();
    if small {
        config.max_streams = 3;
        config.chunk_limits = ChunkLimits {
            max_message_size: 4096,
            max_reassembly_bytes: 8192,
            max_chunk_streams: 8,
        };
        config.amf_limits = AmfLimits {
            max_depth: 4,
            max_elements: 256,
        };
    }
    config
}

struct Harness {
    session: ServerSession,
    now: Millis,
    policy: u8,
    decisions: u64,
    /// Calls the sending API too.
    active: bool,
    /// The client's view of what the session sent after the handshake.
    client: ChunkDecoder,
    raw_sent: usize,
    sent: u64,
    fed: u64,
    handshake_done: bool,
    /// Stream ids the client asked to publish or play on, for the sending API.
    streams: Vec<u32>,
}

impl Harness {
    /// Feeds one piece; false once the connection is over.
    fn feed(&mut self, piece: &[u8]) -> bool {
        if !self.session.is_closing() {
            self.fed += piece.len() as u64;
        }
        let ok = self.session.feed(piece, self.now).is_ok();
        self.pump();
        ok
    }

    /// What the runtime does after every feed: events to the application, output to the
    /// socket.
    fn pump(&mut self) {
        for _ in 0..4 {
            while let Some(event) = self.session.poll_event() {
                self.handle(event);
            }
            self.transmit();
            if !self.session.has_pending_output() {
                break;
            }
        }
        assert_eq!(self.session.bytes_sent(), self.sent, "bytes_sent");
    }

    fn handle(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::HandshakeDone { .. } => {
                assert!(!self.handshake_done, "two HandshakeDone events");
                self.handshake_done = true;
            }
            ServerEvent::ConnectRequest { request, connect } => {
                let _ = (
                    connect.app(),
                    connect.tc_url(),
                    connect.fourcc_list(),
                    connect.caps_ex(),
                );
                self.decide(request);
            }
            ServerEvent::PublishRequest {
                request, stream_id, ..
            }
            | ServerEvent::PlayRequest {
                request, stream_id, ..
            } => {
                if self.streams.len() < 8 && !self.streams.contains(&stream_id) {
                    self.streams.push(stream_id);
                }
                self.decide(request);
            }
            ServerEvent::Command { stream_id, command } if self.active => {
                let answer = Command::new("_result", command.transaction_id, vec![Amf0Value::Null]);
                let _ = self.session.send_command(stream_id, answer);
            }
            _ => {}
        }
    }

    fn decide(&mut self, request: RequestId) {
        self.decisions += 1;
        let accept = match self.policy {
            0 => true,
            1 => false,
            2 => self.decisions % 2 == 1,
            _ => return,
        };
        let result = if accept {
            self.session.accept(request)
        } else {
            self.session.reject(request, Rejection::new("fuzz says no"))
        };
        // A request is answered once: the same answer again must be refused.
        if result.is_ok() {
            assert!(
                self.session.accept(request).is_err(),
                "request answered twice"
            );
        }
    }

    fn transmit(&mut self) {
        while let Some(out) = self.session.poll_transmit() {
            let mut wire = Vec::new();
            out.write_to(&mut wire);
            assert_eq!(wire.len(), out.len());
            self.sent += wire.len() as u64;
            match out {
                Outgoing::Raw(_) => {
                    self.raw_sent += wire.len();
                    assert!(self.raw_sent <= 1 + 2 * 1536, "raw output past S0 S1 S2");
                }
                Outgoing::Message(_) => {
                    self.client.push(&wire);
                    loop {
                        match self.client.next_message() {
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(e) => panic!("the session sent an invalid chunk stream: {e}"),
                        }
                    }
                }
            }
        }
    }

    /// The application's own calls, between pieces.
    fn act(&mut self, round: usize) {
        let s = &mut self.session;
        let now = self.now as u32;
        let _ = s.ping(now);
        let _ = s.app();
        let _ = s.outgoing_chunk_size();
        for &id in &self.streams {
            let _ = s.stream_name(id);
            match round % 4 {
                0 => {
                    let payload = Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 2, 3]);
                    let _ = s.send_media(id, MediaKind::Video, now, payload);
                    let _ = s.send_media(id, MediaKind::Audio, now, Bytes::from_static(&[0xaf, 1]));
                }
                1 => {
                    let meta = Amf0Value::object([("width", Amf0Value::Number(640.0))]);
                    let _ = s.send_metadata(id, meta);
                }
                2 => {
                    let _ = s.send_unpublish_notify(id);
                    let _ = s.send_publish_notify(id);
                }
                _ => {
                    let _ = s.request_reconnect(Some("rtmp://elsewhere/app"), "move");
                }
            }
        }
        self.pump();
    }

    fn timeout(&mut self) -> bool {
        let ok = self.session.on_timeout(self.now).is_ok();
        self.pump();
        ok
    }
}

pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let input = common::split(rest);
    let raw = flags & 1 != 0;
    let step: Millis = [0, 1, 50, 500, 2_000, 6_000, 15_000, 60_000][usize::from((flags >> 4) & 7)];
    let mut h = Harness {
        session: ServerSession::new(config(flags & 8 != 0), SERVER_SEED, 0),
        now: 0,
        policy: (flags >> 1) & 3,
        decisions: 0,
        active: flags & 0x80 != 0,
        client: ChunkDecoder::default(),
        raw_sent: 0,
        sent: 0,
        fed: 0,
        handshake_done: false,
        streams: Vec::new(),
    };
    let mut alive = true;

    if !raw {
        let prefix = handshake_prefix();
        let (c0c1, c2) = prefix.split_at(1 + 1536);
        assert!(h.feed(c0c1), "C0 C1 rejected");
        assert_eq!(h.raw_sent, 1 + 2 * 1536, "S0 S1 S2");
        assert!(h.feed(c2), "C2 rejected");
        assert!(h.handshake_done, "the handshake prefix did not complete");
    }

    for (round, piece) in input.pieces().enumerate() {
        h.now += step;
        if !h.feed(piece) {
            alive = false;
            break;
        }
        if h.active {
            h.act(round);
        }
        if !h.timeout() {
            alive = false;
            break;
        }
    }

    if alive {
        assert_eq!(h.session.bytes_received(), h.fed, "bytes_received");
        // Let every deadline pass: unanswered requests time out and are rejected.
        for _ in 0..4 {
            let Some(deadline) = h.session.next_timeout() else {
                break;
            };
            h.now = h.now.max(deadline);
            if !h.timeout() {
                break;
            }
        }
    }
    if h.handshake_done {
        assert_eq!(h.raw_sent, 1 + 2 * 1536);
    }
}
