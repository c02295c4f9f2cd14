//! Client and server sessions wired together in memory.

use bytes::Bytes;

use super::*;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::{status_code, PublishType};
use crate::protocol::handshake::HandshakeMode;
use crate::Error;

struct Pair {
    client: ClientSession,
    server: ServerSession,
    now: Millis,
    server_events: Vec<ServerEvent>,
    client_events: Vec<ClientEvent>,
    /// Accept every request the server sees.
    auto_accept: bool,
}

fn drain<F: FnMut() -> Option<Outgoing>>(mut poll: F) -> Vec<u8> {
    let mut wire = Vec::new();
    while let Some(out) = poll() {
        out.write_to(&mut wire);
    }
    wire
}

impl Pair {
    fn new(mode: HandshakeMode) -> Self {
        let mut config = ClientConfig::new("live", "rtmp://127.0.0.1/live");
        config.handshake_mode = mode;
        Pair {
            client: ClientSession::new(config, [1; 32], 0),
            server: ServerSession::new(ServerConfig::default(), [2; 32], 0),
            now: 0,
            server_events: Vec::new(),
            client_events: Vec::new(),
            auto_accept: true,
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn run(&mut self) {
        loop {
            let to_server = drain(|| self.client.poll_transmit());
            let to_client = drain(|| self.server.poll_transmit());
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
            // Feed in small pieces to exercise partial input everywhere.
            for piece in to_server.chunks(700) {
                self.server.feed(piece, self.now).unwrap();
            }
            for piece in to_client.chunks(700) {
                self.client.feed(piece, self.now).unwrap();
            }
            while let Some(event) = self.server.poll_event() {
                if self.auto_accept {
                    match &event {
                        ServerEvent::ConnectRequest { request, .. }
                        | ServerEvent::PublishRequest { request, .. }
                        | ServerEvent::PlayRequest { request, .. } => {
                            self.server.accept(*request).unwrap()
                        }
                        _ => {}
                    }
                }
                self.server_events.push(event);
            }
            while let Some(event) = self.client.poll_event() {
                self.client_events.push(event);
            }
        }
    }

    fn connected(mode: HandshakeMode) -> Self {
        let mut pair = Pair::new(mode);
        pair.run();
        assert_eq!(pair.client.state(), ClientState::Connected);
        assert!(pair.server.is_connected());
        pair
    }
}

#[test]
fn connect_with_both_handshake_modes() {
    for (mode, digest) in [
        (HandshakeMode::Digest, true),
        (HandshakeMode::Simple, false),
    ] {
        let pair = Pair::connected(mode);
        assert!(pair.server_events.contains(&ServerEvent::HandshakeDone {
            peer_digest: digest
        }));
        let connect = pair
            .server_events
            .iter()
            .find_map(|e| match e {
                ServerEvent::ConnectRequest { connect, .. } => Some(connect.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(connect.app(), "live");
        assert_eq!(connect.tc_url(), Some("rtmp://127.0.0.1/live"));
        assert!(connect.fourcc_list().contains(&"hvc1".to_string()));
        assert!(matches!(
            &pair.client_events[0],
            ClientEvent::Connected { status: Some(s), .. } if s.code == status_code::CONNECT_SUCCESS
        ));
        assert_eq!(pair.server.outgoing_chunk_size(), 4096);
    }
}

#[test]
fn publish_frames_and_unpublish() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.client.publish("key", PublishType::Live).unwrap();
    pair.run();
    let stream_id = pair.client.publishing_stream().expect("publishing");
    assert!(pair
        .client_events
        .contains(&ClientEvent::PublishStarted { stream_id }));
    assert!(pair.server_events.iter().any(|e| matches!(e,
        ServerEvent::PublishRequest { stream_name, publish_type: PublishType::Live, .. } if stream_name == "key")));

    let metadata = Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(640.0))]);
    pair.client.send_metadata(metadata.clone()).unwrap();
    let mut sent = Vec::new();
    for i in 0..100u32 {
        let kind = if i % 3 == 0 {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        let payload: Bytes = vec![i as u8; 50 + (i as usize * 97) % 9000].into();
        pair.client
            .send_media(kind, i * 21, payload.clone())
            .unwrap();
        sent.push((kind, i * 21, payload));
    }
    pair.run();
    let received: Vec<_> = pair
        .server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Media {
                kind,
                timestamp,
                payload,
                ..
            } => Some((*kind, *timestamp, payload.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(received, sent);
    assert!(pair.server_events.iter().any(|e| matches!(e,
        ServerEvent::Metadata { metadata: m, .. } if *m == metadata)));

    pair.client.unpublish().unwrap();
    pair.run();
    let finished: Vec<_> = pair
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::PublishFinished { .. }))
        .collect();
    assert_eq!(
        finished,
        vec![&ServerEvent::PublishFinished {
            stream_id,
            stream_name: "key".into()
        }]
    );
}

#[test]
fn play_receives_what_the_server_sends() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.client.play("key", -2.0, -1.0, true).unwrap();
    pair.run();
    let stream_id = pair
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::PlayStarted { stream_id } => Some(*stream_id),
            _ => None,
        })
        .expect("play started");
    let codes: Vec<_> = pair
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Status { status, .. } => Some(status.code.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        [
            status_code::PLAY_RESET,
            status_code::PLAY_START,
            status_code::DATA_START
        ]
    );
    let metadata = Amf0Value::EcmaArray(vec![("duration".into(), Amf0Value::Number(0.0))]);
    pair.server
        .send_metadata(stream_id, metadata.clone())
        .unwrap();
    pair.server
        .send_media(
            stream_id,
            MediaKind::Video,
            0x0100_0000,
            Bytes::from_static(&[0x17, 0, 0, 0, 0]),
        )
        .unwrap();
    pair.server.send_unpublish_notify(stream_id).unwrap();
    pair.run();
    assert!(pair.client_events.iter().any(|e| matches!(e,
        ClientEvent::Metadata { metadata: m, .. } if *m == metadata)));
    assert!(pair.client_events.iter().any(|e| matches!(
        e,
        ClientEvent::Media {
            kind: MediaKind::Video,
            timestamp: 0x0100_0000,
            ..
        }
    )));
    assert!(pair
        .client_events
        .contains(&ClientEvent::StreamEof { stream_id }));
    pair.client.stop_play(stream_id).unwrap();
    pair.run();
    assert!(pair.server_events.iter().any(|e| matches!(e,
        ServerEvent::PlayFinished { stream_name, .. } if stream_name == "key")));
}

#[test]
fn rejected_connect_closes_the_session() {
    let mut pair = Pair::new(HandshakeMode::Digest);
    pair.auto_accept = false;
    pair.run();
    let request = pair
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::ConnectRequest { request, .. } => Some(*request),
            _ => None,
        })
        .unwrap();
    pair.server
        .reject(request, Rejection::new("no such app"))
        .unwrap();
    pair.run();
    assert!(pair.server.is_closing());
    assert_eq!(pair.client.state(), ClientState::Closed);
    assert!(
        matches!(&pair.client_events[..], [ClientEvent::ConnectFailed { status: Some(s) }]
        if s.code == status_code::CONNECT_REJECTED && s.description == "no such app")
    );
    assert!(matches!(
        pair.server.reject(request, Rejection::new("again")),
        Err(Error::UnknownRequest)
    ));
}

#[test]
fn rejected_publish_reports_bad_name() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.auto_accept = false;
    pair.client.publish("taken", PublishType::Live).unwrap();
    pair.run();
    let request = pair
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::PublishRequest { request, .. } => Some(*request),
            _ => None,
        })
        .unwrap();
    pair.server
        .reject(request, Rejection::new("taken is already published"))
        .unwrap();
    pair.run();
    assert!(pair.client_events.iter().any(|e| matches!(e,
        ClientEvent::StreamFailed { status, .. } if status.code == status_code::PUBLISH_BAD_NAME)));
    assert!(pair.client.publishing_stream().is_none());
    assert!(pair
        .client
        .send_media(MediaKind::Audio, 0, Bytes::new())
        .is_err());
}

#[test]
fn unanswered_decisions_time_out_as_rejections() {
    let mut pair = Pair::connected(HandshakeMode::Simple);
    pair.auto_accept = false;
    pair.client
        .play("nobody-answers", -2.0, -1.0, true)
        .unwrap();
    pair.run();
    let deadline = pair.server.next_timeout().expect("a decision is pending");
    pair.server.on_timeout(deadline - 1).unwrap();
    pair.run();
    assert!(!pair
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::StreamFailed { .. })));
    pair.server.on_timeout(deadline).unwrap();
    pair.run();
    assert!(pair
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::DecisionTimedOut { .. })));
    assert!(pair.client_events.iter().any(|e| matches!(e,
        ClientEvent::StreamFailed { status, .. } if status.code == status_code::PLAY_STREAM_NOT_FOUND)));
    assert_eq!(pair.server.next_timeout(), None);
}

#[test]
fn handshake_times_out() {
    let mut server = ServerSession::new(ServerConfig::default(), [0; 32], 1000);
    server.feed(&[3, 0, 0], 1500).unwrap();
    let deadline = server.next_timeout().unwrap();
    assert_eq!(deadline, 11_000);
    assert!(server.on_timeout(10_999).is_ok());
    assert!(matches!(
        server.on_timeout(11_000),
        Err(Error::Timeout("handshake"))
    ));
}

#[test]
fn commands_before_connect_are_protocol_errors() {
    let mut pair = Pair::new(HandshakeMode::Simple);
    // Finish only the handshake, then send createStream in place of connect.
    let c0c1 = drain(|| pair.client.poll_transmit());
    pair.server.feed(&c0c1, 0).unwrap();
    let s0s1s2 = drain(|| pair.server.poll_transmit());
    pair.client.feed(&s0s1s2, 0).unwrap();
    let mut wire = drain(|| pair.client.poll_transmit());
    // Drop everything after C2 (the connect) and append a createStream instead.
    wire.truncate(1536);
    let mut encoder = crate::protocol::chunk::ChunkEncoder::new();
    let body = crate::protocol::command::NetCommand::CreateStream {
        transaction_id: 2.0,
    }
    .encode();
    let header = crate::protocol::chunk::MessageHeader {
        chunk_stream_id: 3,
        timestamp: 0,
        type_id: 20,
        stream_id: 0,
    };
    encoder.encode(&header, body).write_to(&mut wire);
    assert!(matches!(
        pair.server.feed(&wire, 0),
        Err(Error::Protocol(_))
    ));
}

#[test]
fn acknowledgements_follow_the_window() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.client.publish("key", PublishType::Live).unwrap();
    pair.run();
    // The server asked for acks every 2.5 MB; the client sends 6 MB.
    for i in 0..600u32 {
        pair.client
            .send_media(MediaKind::Video, i * 33, vec![0u8; 10_000].into())
            .unwrap();
    }
    pair.run();
    let acks: Vec<u32> = pair
        .server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Acknowledgement { sequence_number } => Some(*sequence_number),
            _ => None,
        })
        .collect();
    // The client sees little traffic; the server acks what it received.
    assert!(acks.is_empty());
    let received = pair.server.bytes_received();
    assert!(received > 6_000_000);
    // The server's acks reach the client: one per 2.5 MB window the client set.
    let client_acks = pair
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Acknowledgement { .. }))
        .count();
    assert_eq!(client_acks, (received / 2_500_000) as usize);
}

#[test]
fn pings_are_answered() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.server.ping(4242).unwrap();
    pair.run();
    assert!(pair
        .server_events
        .contains(&ServerEvent::PingResponse { timestamp: 4242 }));
}

#[test]
fn reconnect_request_reaches_the_client() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.server
        .request_reconnect(Some("rtmp://other/live"), "maintenance")
        .unwrap();
    pair.run();
    assert!(pair.client_events.contains(&ClientEvent::ReconnectRequest {
        tc_url: Some("rtmp://other/live".into()),
        description: "maintenance".into()
    }));
}

#[test]
fn second_publish_on_a_busy_stream_is_an_error() {
    let mut pair = Pair::connected(HandshakeMode::Digest);
    pair.client.publish("a", PublishType::Live).unwrap();
    pair.run();
    let stream_id = pair.client.publishing_stream().unwrap();
    let command =
        crate::protocol::command::Command::new("publish", 9.0, vec!["b".into(), "live".into()]);
    pair.client.send_command(stream_id, command).unwrap();
    let wire = drain(|| pair.client.poll_transmit());
    assert!(matches!(
        pair.server.feed(&wire, 0),
        Err(Error::Protocol(_))
    ));
}

#[test]
fn oversized_names_are_protocol_errors_not_panics() {
    let mut pair = Pair::connected(HandshakeMode::Simple);
    pair.client
        .publish(&"n".repeat(8_400_000), PublishType::Live)
        .unwrap();
    // releaseStream and FCPublish pass; the publish itself is refused.
    let mut result = Ok(());
    for _ in 0..4 {
        let to_server = drain(|| pair.client.poll_transmit());
        result = pair.server.feed(&to_server, 0);
        if result.is_err() {
            break;
        }
        let to_client = drain(|| pair.server.poll_transmit());
        pair.client.feed(&to_client, 0).unwrap();
    }
    assert!(
        matches!(&result, Err(Error::Protocol(m)) if m.contains("stream name")),
        "{result:?}"
    );
}
