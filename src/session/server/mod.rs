//! The server side of an RTMP connection.

mod events;
mod handlers;

pub use events::{Rejection, ServerConfig, ServerEvent};

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::transport::{not_connected, Outgoing, Transport};
use super::{MediaKind, Millis, RequestId};
use crate::error::{Error, Result};
use crate::protocol::amf0::Amf0Value;
use crate::protocol::chunk::{MessageHeader, RawMessage};
use crate::protocol::command::{
    status_code, Command, CommandError, DataMessage, NetCommand, PublishType, Status, StatusLevel,
};
use crate::protocol::handshake::{HandshakeStatus, ServerHandshake, SEED_LEN};
use crate::protocol::message::{
    split_aggregate, BandwidthLimit, ControlMessage, MessageType, UserControlEvent,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    AwaitingConnect,
    ConnectPending,
    Connected,
    Closing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StreamRole {
    Idle,
    PublishPending(String),
    Publishing(String),
    PlayPending(String),
    Playing(String),
}

#[derive(Debug)]
enum Pending {
    Connect {
        object_encoding: f64,
    },
    Publish {
        stream_id: u32,
        stream_name: String,
    },
    Play {
        stream_id: u32,
        stream_name: String,
        reset: bool,
    },
}

/// The server side of one RTMP connection, without I/O.
///
/// ```
/// use rtmp_core::session::{ServerConfig, ServerSession};
///
/// let mut session = ServerSession::new(ServerConfig::default(), [7; 32], 0);
/// // A client's C0 + C1 (simple handshake).
/// let mut c0c1 = vec![3u8];
/// c0c1.extend_from_slice(&[0u8; 1536]);
/// session.feed(&c0c1, 0).unwrap();
/// let mut reply = Vec::new();
/// while let Some(out) = session.poll_transmit() {
///     out.write_to(&mut reply);
/// }
/// assert_eq!(reply.len(), 1 + 1536 + 1536); // S0 + S1 + S2
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    phase: Phase,
    /// Dropped once done: its buffers are a few KiB per connection.
    handshake: Option<ServerHandshake>,
    handshake_deadline: Millis,
    transport: Transport,
    events: VecDeque<ServerEvent>,
    app: String,
    streams: HashMap<u32, StreamRole>,
    next_stream_id: u32,
    pending: Vec<(RequestId, Pending, Millis)>,
    next_request: u64,
    /// The latest time the caller gave; deadlines of requests parked later start here.
    now: Millis,
}

impl ServerSession {
    /// A session waiting for a client's handshake. `seed` seeds the handshake's random
    /// bytes (pass OS randomness; tests pass constants); `now` starts the handshake timer.
    pub fn new(config: ServerConfig, seed: [u8; SEED_LEN], now: Millis) -> Self {
        let transport = Transport::new(config.chunk_limits, config.amf_limits);
        ServerSession {
            handshake: Some(ServerHandshake::new(seed, now as u32)),
            handshake_deadline: now.saturating_add(config.handshake_timeout),
            config,
            phase: Phase::Handshake,
            transport,
            events: VecDeque::new(),
            app: String::new(),
            streams: HashMap::new(),
            next_stream_id: 1,
            pending: Vec::new(),
            next_request: 1,
            now,
        }
    }

    /// The application name the client connected to ("" before connect).
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The chunk size this session sends with.
    pub fn outgoing_chunk_size(&self) -> u32 {
        self.transport.encoder.chunk_size()
    }

    /// True once the connection should be closed (after a rejected connect); send what
    /// [`poll_transmit`](Self::poll_transmit) still returns first.
    pub fn is_closing(&self) -> bool {
        self.phase == Phase::Closing
    }

    /// True once the client's connect was accepted.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Bytes received so far (handshake included).
    pub fn bytes_received(&self) -> u64 {
        self.transport.decoder.bytes_received()
    }

    /// Bytes queued for sending so far (handshake included).
    pub fn bytes_sent(&self) -> u64 {
        self.transport.bytes_sent()
    }

    /// Feeds received bytes. An error means the client broke the protocol or a limit:
    /// close the connection.
    pub fn feed(&mut self, mut input: &[u8], now: Millis) -> Result<()> {
        if self.phase == Phase::Closing {
            return Ok(());
        }
        if self.phase == Phase::Handshake {
            let mut out = Vec::new();
            let Some(handshake) = self.handshake.as_mut() else {
                return Err(Error::InvalidState("handshake already finished"));
            };
            let (consumed, status) = handshake.feed(input, &mut out)?;
            if matches!(status, HandshakeStatus::Done(_)) {
                self.handshake = None;
            }
            self.transport.push_raw(out);
            // Handshake bytes count towards acknowledgements like any others.
            self.transport.decoder.count_received(consumed);
            input = &input[consumed..];
            match status {
                HandshakeStatus::InProgress => return Ok(()),
                HandshakeStatus::Done(info) => {
                    self.phase = Phase::AwaitingConnect;
                    self.events.push_back(ServerEvent::HandshakeDone {
                        peer_digest: info.peer_digest,
                    });
                }
            }
        }
        self.now = now;
        self.transport.decoder.push(input);
        self.process()
    }

    /// Handles buffered messages until a decision is owed. While one is, what the client
    /// sent after the request waits in the decoder: clients that pipeline (publish, then
    /// metadata and media at once) lose nothing, and nothing is handled out of order.
    fn process(&mut self) -> Result<()> {
        while self.pending.is_empty() && self.phase != Phase::Closing {
            match self.transport.next_message()? {
                Some(message) => self.handle_message(message, self.now)?,
                None => break,
            }
        }
        Ok(())
    }

    /// True while the session waits for the application to accept or reject a request.
    /// Input fed meanwhile is buffered, not handled; a caller reading from a socket should
    /// stop reading while [`buffered_input`](Self::buffered_input) is large.
    pub fn is_awaiting_decision(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Received bytes not yet handled.
    pub fn buffered_input(&self) -> usize {
        self.transport.decoder.buffered()
    }

    /// The next piece of output to send, or `None`.
    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        self.transport.poll_transmit()
    }

    /// True if [`poll_transmit`](Self::poll_transmit) has something.
    pub fn has_pending_output(&self) -> bool {
        self.transport.has_pending_output()
    }

    /// The next event, or `None`.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// The earliest time [`on_timeout`](Self::on_timeout) has work to do.
    pub fn next_timeout(&self) -> Option<Millis> {
        let decisions = self.pending.iter().map(|(_, _, deadline)| *deadline).min();
        match self.phase {
            Phase::Handshake => Some(self.handshake_deadline),
            _ => decisions,
        }
    }

    /// Handles deadlines that passed: an unfinished handshake is an error, unanswered
    /// requests are rejected.
    pub fn on_timeout(&mut self, now: Millis) -> Result<()> {
        self.now = self.now.max(now);
        if self.phase == Phase::Handshake && now >= self.handshake_deadline {
            return Err(Error::Timeout("handshake"));
        }
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, _, deadline)| *deadline <= now)
            .map(|(id, _, _)| *id)
            .collect();
        for request in expired {
            self.events
                .push_back(ServerEvent::DecisionTimedOut { request });
            self.reject(
                request,
                Rejection::new("The server did not answer in time."),
            )?;
        }
        Ok(())
    }

    fn take_pending(&mut self, request: RequestId) -> Result<Pending> {
        let index = self
            .pending
            .iter()
            .position(|(id, _, _)| *id == request)
            .ok_or(Error::UnknownRequest)?;
        Ok(self.pending.remove(index).1)
    }

    fn park(&mut self, pending: Pending, now: Millis) -> RequestId {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.pending.push((
            request,
            pending,
            now.saturating_add(self.config.decision_timeout),
        ));
        request
    }

    /// Accepts a connect, publish or play request, then handles what the client sent after
    /// it. An error other than [`Error::UnknownRequest`] means the client broke the
    /// protocol in that later input: close the connection.
    pub fn accept(&mut self, request: RequestId) -> Result<()> {
        self.answer(request, None)
    }

    /// Rejects a connect, publish or play request (a rejected connect closes the session),
    /// then handles what the client sent after it, as [`accept`](Self::accept) does.
    pub fn reject(&mut self, request: RequestId, rejection: Rejection) -> Result<()> {
        self.answer(request, Some(rejection))
    }

    fn answer(&mut self, request: RequestId, rejection: Option<Rejection>) -> Result<()> {
        let pending = self.take_pending(request)?;
        match rejection {
            None => self.grant(pending)?,
            Some(rejection) => self.refuse(pending, rejection),
        }
        self.process()
    }

    fn grant(&mut self, pending: Pending) -> Result<()> {
        match pending {
            Pending::Connect { object_encoding } => {
                let t = &mut self.transport;
                t.send_control(
                    ControlMessage::WindowAckSize(self.config.window_ack_size),
                    0,
                );
                t.send_control(
                    ControlMessage::SetPeerBandwidth {
                        size: self.config.window_ack_size,
                        limit: BandwidthLimit::Dynamic,
                    },
                    0,
                );
                t.set_outgoing_chunk_size(self.config.chunk_size)?;
                let info = Status::new(
                    StatusLevel::Status,
                    status_code::CONNECT_SUCCESS,
                    "Connection succeeded.",
                )
                .with("objectEncoding", object_encoding);
                t.send_command(
                    0,
                    NetCommand::Result {
                        transaction_id: 1.0,
                        properties: Amf0Value::object([
                            ("fmsVer", Amf0Value::from("FMS/3,0,1,123")),
                            ("capabilities", Amf0Value::Number(31.0)),
                        ]),
                        info: info.to_amf(),
                    },
                );
                self.phase = Phase::Connected;
            }
            Pending::Publish {
                stream_id,
                stream_name,
            } => {
                self.transport
                    .send_user_control(UserControlEvent::StreamBegin(stream_id));
                let description = format!("{stream_name} is now published.");
                self.send_status(
                    stream_id,
                    Status::new(StatusLevel::Status, status_code::PUBLISH_START, description)
                        .with("details", stream_name.as_str()),
                );
                self.set_role(stream_id, StreamRole::Publishing(stream_name));
            }
            Pending::Play {
                stream_id,
                stream_name,
                reset,
            } => {
                let t = &mut self.transport;
                t.send_user_control(UserControlEvent::StreamIsRecorded(stream_id));
                t.send_user_control(UserControlEvent::StreamBegin(stream_id));
                if reset {
                    self.send_status(
                        stream_id,
                        Status::new(
                            StatusLevel::Status,
                            status_code::PLAY_RESET,
                            format!("Playing and resetting {stream_name}."),
                        )
                        .with("details", stream_name.as_str()),
                    );
                }
                self.send_status(
                    stream_id,
                    Status::new(
                        StatusLevel::Status,
                        status_code::PLAY_START,
                        format!("Started playing {stream_name}."),
                    )
                    .with("details", stream_name.as_str()),
                );
                let access = DataMessage {
                    name: "|RtmpSampleAccess".into(),
                    values: vec![true.into(), true.into()],
                };
                self.transport.send_data(stream_id, 0, access.encode());
                self.send_status(
                    stream_id,
                    Status::new(
                        StatusLevel::Status,
                        status_code::DATA_START,
                        "Started playing.",
                    ),
                );
                self.set_role(stream_id, StreamRole::Playing(stream_name));
            }
        }
        Ok(())
    }

    fn refuse(&mut self, pending: Pending, rejection: Rejection) {
        match pending {
            Pending::Connect { .. } => {
                let code = rejection
                    .code
                    .as_deref()
                    .unwrap_or(status_code::CONNECT_REJECTED);
                let info = Status::new(StatusLevel::Error, code, rejection.description);
                self.transport.send_command(
                    0,
                    NetCommand::Error {
                        transaction_id: 1.0,
                        properties: Amf0Value::Null,
                        info: info.to_amf(),
                    },
                );
                self.phase = Phase::Closing;
            }
            Pending::Publish {
                stream_id,
                stream_name,
            } => {
                let code = rejection
                    .code
                    .as_deref()
                    .unwrap_or(status_code::PUBLISH_BAD_NAME);
                self.send_status(
                    stream_id,
                    Status::new(StatusLevel::Error, code, rejection.description)
                        .with("details", stream_name.as_str()),
                );
                self.set_role(stream_id, StreamRole::Idle);
            }
            Pending::Play {
                stream_id,
                stream_name,
                ..
            } => {
                let code = rejection
                    .code
                    .as_deref()
                    .unwrap_or(status_code::PLAY_STREAM_NOT_FOUND);
                self.send_status(
                    stream_id,
                    Status::new(StatusLevel::Error, code, rejection.description)
                        .with("details", stream_name.as_str()),
                );
                self.set_role(stream_id, StreamRole::Idle);
            }
        }
    }

    fn set_role(&mut self, stream_id: u32, role: StreamRole) {
        if let Some(slot) = self.streams.get_mut(&stream_id) {
            *slot = role;
        }
    }

    /// Sends an onStatus message on a stream.
    pub fn send_status(&mut self, stream_id: u32, status: Status) {
        self.transport
            .send_command(stream_id, NetCommand::OnStatus(status));
    }

    /// Sends an audio or video message (an FLV tag body) to a playing client.
    pub fn send_media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    ) -> Result<()> {
        self.require_connected()?;
        let header = MessageHeader {
            chunk_stream_id: kind.chunk_stream_id(),
            timestamp,
            type_id: kind.type_id(),
            stream_id,
        };
        self.transport.send(header, payload);
        Ok(())
    }

    /// Sends stream metadata (`onMetaData`) to a playing client.
    pub fn send_metadata(&mut self, stream_id: u32, metadata: Amf0Value) -> Result<()> {
        self.send_metadata_body(stream_id, DataMessage::on_metadata(metadata).encode())
    }

    /// Sends an already encoded `onMetaData` data message body (one encoding shared by
    /// every player of a stream).
    pub fn send_metadata_body(&mut self, stream_id: u32, body: Bytes) -> Result<()> {
        self.require_connected()?;
        self.transport.send_data(stream_id, 0, body);
        Ok(())
    }

    /// Tells a playing client its stream's publisher stopped (UnpublishNotify and
    /// StreamEOF); the client keeps waiting for a republish.
    pub fn send_unpublish_notify(&mut self, stream_id: u32) -> Result<()> {
        self.require_connected()?;
        let name = self.stream_name(stream_id).unwrap_or_default();
        self.send_status(
            stream_id,
            Status::new(
                StatusLevel::Status,
                status_code::PLAY_UNPUBLISH_NOTIFY,
                format!("{name} is now unpublished."),
            )
            .with("details", name.as_str()),
        );
        self.transport
            .send_user_control(UserControlEvent::StreamEof(stream_id));
        Ok(())
    }

    /// Tells a waiting client its stream's publisher (re)started.
    pub fn send_publish_notify(&mut self, stream_id: u32) -> Result<()> {
        self.require_connected()?;
        let name = self.stream_name(stream_id).unwrap_or_default();
        self.transport
            .send_user_control(UserControlEvent::StreamBegin(stream_id));
        self.send_status(
            stream_id,
            Status::new(
                StatusLevel::Status,
                status_code::PLAY_PUBLISH_NOTIFY,
                format!("{name} is now published."),
            )
            .with("details", name.as_str()),
        );
        Ok(())
    }

    /// Sends a ping; the answer arrives as [`ServerEvent::PingResponse`].
    pub fn ping(&mut self, timestamp: u32) -> Result<()> {
        self.require_connected()?;
        self.transport
            .send_user_control(UserControlEvent::PingRequest(timestamp));
        Ok(())
    }

    /// Asks an Enhanced RTMP client to reconnect, optionally to another tcUrl.
    pub fn request_reconnect(&mut self, tc_url: Option<&str>, description: &str) -> Result<()> {
        self.require_connected()?;
        let mut status = Status::new(
            StatusLevel::Status,
            status_code::CONNECT_RECONNECT_REQUEST,
            description,
        );
        if let Some(url) = tc_url {
            status = status.with("tcUrl", url);
        }
        self.send_status(0, status);
        Ok(())
    }

    /// Sends a raw command (e.g. the answer to a [`ServerEvent::Command`]).
    pub fn send_command(&mut self, stream_id: u32, command: Command) -> Result<()> {
        self.require_connected()?;
        self.transport
            .send_command(stream_id, NetCommand::Other(command));
        Ok(())
    }

    /// The name a stream publishes or plays, if any.
    pub fn stream_name(&self, stream_id: u32) -> Option<String> {
        match self.streams.get(&stream_id)? {
            StreamRole::Idle => None,
            StreamRole::PublishPending(n)
            | StreamRole::Publishing(n)
            | StreamRole::PlayPending(n)
            | StreamRole::Playing(n) => Some(n.clone()),
        }
    }

    fn require_connected(&self) -> Result<()> {
        match self.phase {
            Phase::Connected => Ok(()),
            _ => Err(not_connected()),
        }
    }
}
