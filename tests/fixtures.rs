//! Byte-exact sessions recorded between real peers (ffmpeg 5.1, ffmpeg 9, rtmpdump 2.4,
//! GStreamer 1.22 and nginx-rtmp 1.2.2), replayed through our decoder and sessions.
//! See tests/fixtures/README.md for how they were recorded.
//!
//! The expected totals below come from tests/tools/rtmp_dump.py, an independent decoder
//! written in Python, run over the same files.

use std::path::PathBuf;

use rtmp_core::protocol::amf::AmfLimits;
use rtmp_core::protocol::amf0::Amf0Value;
use rtmp_core::protocol::chunk::{ChunkDecoder, RawMessage};
use rtmp_core::protocol::command::{Command, DataMessage, NetCommand, PublishType, Status};
use rtmp_core::protocol::handshake::HandshakeMode;
use rtmp_core::session::{
    ClientConfig, ClientEvent, ClientSession, MediaKind, ServerConfig, ServerEvent, ServerSession,
};

/// C0 + C1 + C2 (or S0 + S1 + S2).
const HANDSHAKE_LEN: usize = 1 + 1536 + 1536;

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Totals {
    video: usize,
    video_bytes: usize,
    audio: usize,
    audio_bytes: usize,
    last_video_ts: Option<u32>,
    last_audio_ts: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Publisher,
    Player,
}

struct Fixture {
    name: &'static str,
    role: Role,
    c2s: Totals,
    s2c: Totals,
}

const NONE: Totals = Totals {
    video: 0,
    video_bytes: 0,
    audio: 0,
    audio_bytes: 0,
    last_video_ts: None,
    last_audio_ts: None,
};

const fn totals(v: usize, vb: usize, lv: u32, a: usize, ab: usize, la: u32) -> Totals {
    Totals {
        video: v,
        video_bytes: vb,
        audio: a,
        audio_bytes: ab,
        last_video_ts: Some(lv),
        last_audio_ts: Some(la),
    }
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "ffmpeg_publish_nginx",
        role: Role::Publisher,
        c2s: totals(32, 47442, 1956, 89, 8375, 2020),
        s2c: NONE,
    },
    Fixture {
        name: "ffmpeg9_publish_nginx",
        role: Role::Publisher,
        c2s: totals(32, 47428, 1956, 89, 8334, 2020),
        s2c: NONE,
    },
    Fixture {
        name: "ffmpeg9_publish_hevc_opus_nginx",
        role: Role::Publisher,
        c2s: totals(32, 47088, 1933, 103, 10810, 2127),
        s2c: NONE,
    },
    Fixture {
        name: "gstreamer_publish_nginx",
        role: Role::Publisher,
        c2s: totals(32, 42910, 1973, 87, 8088, 1973),
        s2c: NONE,
    },
    Fixture {
        name: "ffmpeg_publish_nginx_extts",
        role: Role::Publisher,
        c2s: totals(32, 47442, 20_001_933, 89, 8375, 20_001_997),
        s2c: NONE,
    },
    Fixture {
        name: "ffmpeg_play_nginx",
        role: Role::Player,
        c2s: NONE,
        s2c: totals(42, 63681, 2690, 117, 11164, 2670),
    },
    Fixture {
        name: "ffmpeg_play_nginx_extts",
        role: Role::Player,
        c2s: NONE,
        s2c: totals(42, 63681, 20_002_667, 117, 11164, 20_002_647),
    },
    Fixture {
        name: "rtmpdump_play_nginx",
        role: Role::Player,
        c2s: NONE,
        s2c: totals(47, 69076, 2956, 132, 12563, 3018),
    },
];

fn load(name: &str, direction: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.{direction}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode_stream(bytes: &[u8]) -> (Vec<RawMessage>, usize) {
    let mut decoder = ChunkDecoder::default();
    decoder.push(&bytes[HANDSHAKE_LEN..]);
    let mut messages = Vec::new();
    while let Some(m) = decoder.next_message().expect("valid chunk stream") {
        messages.push(m);
    }
    (messages, decoder.buffered())
}

fn media_totals(messages: &[RawMessage]) -> Totals {
    let mut t = Totals::default();
    for m in messages {
        match m.header.type_id {
            9 => {
                t.video += 1;
                t.video_bytes += m.payload.len();
                t.last_video_ts = Some(m.header.timestamp);
            }
            8 => {
                t.audio += 1;
                t.audio_bytes += m.payload.len();
                t.last_audio_ts = Some(m.header.timestamp);
            }
            _ => {}
        }
    }
    t
}

fn commands(messages: &[RawMessage]) -> Vec<NetCommand> {
    messages
        .iter()
        .filter(|m| m.header.type_id == 20 || m.header.type_id == 17)
        .map(|m| {
            let raw = Command::decode(&m.payload, m.header.type_id == 17, AmfLimits::default())
                .expect("command decodes");
            NetCommand::from_command(raw).expect("command is well formed")
        })
        .collect()
}

#[test]
fn decoder_reproduces_every_recorded_message() {
    for f in FIXTURES {
        for (direction, expected) in [("c2s", f.c2s), ("s2c", f.s2c)] {
            let (messages, left) = decode_stream(&load(f.name, direction));
            assert_eq!(left, 0, "{} {direction}: undecoded bytes", f.name);
            assert_eq!(media_totals(&messages), expected, "{} {direction}", f.name);
            // Every command and data message parses.
            commands(&messages);
            for m in messages.iter().filter(|m| m.header.type_id == 18) {
                DataMessage::decode(&m.payload, false, AmfLimits::default())
                    .unwrap_or_else(|e| panic!("{} {direction}: data message: {e}", f.name));
            }
        }
        let (client_messages, _) = decode_stream(&load(f.name, "c2s"));
        match commands(&client_messages).first() {
            Some(NetCommand::Connect(c)) => {
                assert_eq!(c.app(), "live", "{}", f.name);
                assert!(c.tc_url().unwrap().starts_with("rtmp://127.0.0.1"));
            }
            other => panic!("{}: first command is {other:?}", f.name),
        }
    }
}

#[test]
fn modern_ffmpeg_advertises_enhanced_codecs() {
    let (messages, _) = decode_stream(&load("ffmpeg9_publish_nginx", "c2s"));
    let Some(NetCommand::Connect(connect)) = commands(&messages).into_iter().next() else {
        panic!("no connect");
    };
    let list = connect.fourcc_list();
    for codec in ["av01", "hvc1", "vp09", "Opus"] {
        assert!(
            list.iter().any(|c| c == codec),
            "{codec} missing from {list:?}"
        );
    }
}

/// What a server said, reduced to what must match: results by transaction id with their
/// status code or value, and onStatus codes, in order.
fn answers(commands: &[NetCommand]) -> Vec<String> {
    let describe = |info: &Amf0Value| match Status::from_amf(info) {
        Some(s) => s.code,
        None => format!("{info:?}"),
    };
    commands
        .iter()
        .filter_map(|c| match c {
            NetCommand::Result {
                transaction_id,
                info,
                ..
            } => Some(format!("_result {transaction_id} {}", describe(info))),
            NetCommand::Error {
                transaction_id,
                info,
                ..
            } => Some(format!("_error {transaction_id} {}", describe(info))),
            NetCommand::OnStatus(s) => Some(format!("onStatus {}", s.code)),
            _ => None,
        })
        .collect()
}

/// True if `needle` appears in `haystack` in order (other items may come between).
fn is_subsequence(needle: &[String], haystack: &[String]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|n| rest.any(|h| h == n))
}

#[test]
fn server_session_answers_recorded_clients_as_nginx_did() {
    for f in FIXTURES {
        let client_bytes = load(f.name, "c2s");
        let mut server = ServerSession::new(ServerConfig::default(), [9; 32], 0);
        let mut ours = Vec::new();
        let mut events = Vec::new();
        // Feed the client's bytes in socket-sized pieces, answering every request.
        for piece in client_bytes.chunks(1400) {
            server.feed(piece, 0).expect("the recorded client is valid");
            while let Some(event) = server.poll_event() {
                match &event {
                    ServerEvent::ConnectRequest { request, .. }
                    | ServerEvent::PublishRequest { request, .. }
                    | ServerEvent::PlayRequest { request, .. } => server.accept(*request).unwrap(),
                    _ => {}
                }
                events.push(event);
            }
            while let Some(out) = server.poll_transmit() {
                out.write_to(&mut ours);
            }
        }
        assert_eq!(ours[0], 3, "{}: S0", f.name);
        let (our_messages, _) = decode_stream(&ours);
        let (nginx_messages, _) = decode_stream(&load(f.name, "s2c"));
        let ours_said = answers(&commands(&our_messages));
        let nginx_said = answers(&commands(&nginx_messages));
        assert!(
            is_subsequence(&nginx_said, &ours_said),
            "{}: nginx said {nginx_said:?}, we said {ours_said:?}",
            f.name
        );

        assert!(matches!(&events[0], ServerEvent::HandshakeDone { .. }));
        assert!(events.iter().any(|e| matches!(e,
            ServerEvent::ConnectRequest { connect, .. } if connect.app() == "live")));
        let media = |kind: MediaKind| {
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Media { kind: k, .. } if *k == kind))
                .count()
        };
        match f.role {
            Role::Publisher => {
                assert!(
                    events.iter().any(|e| matches!(e,
                    ServerEvent::PublishRequest { stream_name, publish_type: PublishType::Live, .. }
                        if stream_name == "test")),
                    "{}",
                    f.name
                );
                assert!(events.iter().any(|e| matches!(e,
                    ServerEvent::Metadata { metadata, .. } if metadata.get("width").is_some())));
                assert_eq!(media(MediaKind::Video), f.c2s.video, "{}", f.name);
                assert_eq!(media(MediaKind::Audio), f.c2s.audio, "{}", f.name);
                assert!(
                    events.iter().any(|e| matches!(e,
                    ServerEvent::PublishFinished { stream_name, .. } if stream_name == "test")),
                    "{}: no PublishFinished",
                    f.name
                );
            }
            Role::Player => {
                assert!(events.iter().any(|e| matches!(e,
                    ServerEvent::PlayRequest { stream_name, .. } if stream_name == "test")));
                assert!(
                    events.iter().any(|e| matches!(e,
                    ServerEvent::PlayFinished { stream_name, .. } if stream_name == "test")),
                    "{}: no PlayFinished",
                    f.name
                );
            }
        }
    }
}

#[test]
fn client_session_follows_recorded_nginx() {
    for f in FIXTURES.iter().filter(|f| !f.name.contains("gstreamer")) {
        let mut config = ClientConfig::new("live", "rtmp://127.0.0.1:1935/live");
        // The recorded S2 answers another client's C1, so only the simple handshake,
        // which does not check S2, can follow it.
        config.handshake_mode = HandshakeMode::Simple;
        let mut client = ClientSession::new(config, [5; 32], 0);
        let mut events = Vec::new();
        let mut requested = false;
        // One byte at a time, so the client can act on each event before the next message
        // arrives, as it would on a live connection.
        for piece in load(f.name, "s2c").chunks(1) {
            client.feed(piece, 0).expect("nginx's bytes are valid");
            while let Some(event) = client.poll_event() {
                if matches!(event, ClientEvent::Connected { .. }) && !requested {
                    requested = true;
                    match f.role {
                        Role::Publisher => client.publish("test", PublishType::Live).unwrap(),
                        Role::Player => client.play("test", -2.0, -1.0, true).unwrap(),
                    }
                }
                events.push(event);
            }
            while client.poll_transmit().is_some() {}
        }
        assert!(requested, "{}: never connected", f.name);
        match f.role {
            Role::Publisher => assert!(
                events
                    .iter()
                    .any(|e| matches!(e, ClientEvent::PublishStarted { stream_id: 1 })),
                "{}: {events:?}",
                f.name
            ),
            Role::Player => {
                assert!(events
                    .iter()
                    .any(|e| matches!(e, ClientEvent::PlayStarted { stream_id: 1 })));
                let video = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e,
                            ClientEvent::Media {
                                kind: MediaKind::Video,
                                ..
                            }
                        )
                    })
                    .count();
                let audio = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e,
                            ClientEvent::Media {
                                kind: MediaKind::Audio,
                                ..
                            }
                        )
                    })
                    .count();
                assert_eq!((video, audio), (f.s2c.video, f.s2c.audio), "{}", f.name);
                assert!(events
                    .iter()
                    .any(|e| matches!(e, ClientEvent::StreamEof { stream_id: 1 })));
            }
        }
    }
}
