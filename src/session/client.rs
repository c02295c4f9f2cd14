//! The client side of an RTMP connection: connect, then publish or play.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::transport::{not_connected, Outgoing, Transport};
use super::{MediaKind, Millis};
use crate::error::{Error, Result};
use crate::protocol::amf::AmfLimits;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::chunk::{ChunkLimits, MessageHeader, RawMessage};
use crate::protocol::command::{
    caps_ex, status_code, Command, Connect, DataMessage, NetCommand, PublishType, Status,
};
use crate::protocol::handshake::{ClientHandshake, HandshakeMode, HandshakeStatus, SEED_LEN};
use crate::protocol::message::{split_aggregate, ControlMessage, MessageType, UserControlEvent};

/// Settings of a client session.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The application, e.g. "live" for rtmp://host/live/key.
    pub app: String,
    /// The URL of the application, e.g. "rtmp://host:1935/live".
    pub tc_url: String,
    /// What the client calls itself in connect.
    pub flash_ver: String,
    /// Digest (what Flash Player, ffmpeg and OBS send) or simple.
    pub handshake_mode: HandshakeMode,
    /// Chunk size for what this client sends.
    pub chunk_size: u32,
    /// Enhanced RTMP codecs advertised in connect (empty: don't advertise).
    pub fourcc_list: Vec<String>,
    /// Enhanced RTMP capability flags advertised in connect.
    pub caps_ex: u32,
    /// Further connect properties (swfUrl, pageUrl, ...).
    pub extra_properties: Vec<(String, Amf0Value)>,
    /// Extra connect arguments (some services read credentials from them).
    pub connect_arguments: Vec<Amf0Value>,
    /// Buffer length announced to the server when playing.
    pub buffer_ms: u32,
    /// The handshake and connect must finish within this long.
    pub connect_timeout: Millis,
    pub chunk_limits: ChunkLimits,
    pub amf_limits: AmfLimits,
}

impl ClientConfig {
    /// Settings for `app` at `tc_url`, with the defaults encoders use.
    pub fn new(app: impl Into<String>, tc_url: impl Into<String>) -> Self {
        ClientConfig {
            app: app.into(),
            tc_url: tc_url.into(),
            flash_ver: "FMLE/3.0 (compatible; rtmp_core)".into(),
            handshake_mode: HandshakeMode::Digest,
            chunk_size: 4096,
            fourcc_list: ["av01", "vp09", "hvc1", "avc1", "Opus", "mp4a"]
                .map(String::from)
                .to_vec(),
            caps_ex: caps_ex::RECONNECT,
            extra_properties: Vec::new(),
            connect_arguments: Vec::new(),
            buffer_ms: 3000,
            connect_timeout: 10_000,
            chunk_limits: ChunkLimits::default(),
            amf_limits: AmfLimits::default(),
        }
    }
}

/// Where a client session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Handshake,
    Connecting,
    Connected,
    /// The server refused the connect or asked to close.
    Closed,
}

/// What a client session reports to the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server accepted the connect.
    Connected {
        properties: Amf0Value,
        status: Option<Status>,
    },
    /// The server refused the connect; the session is closed.
    ConnectFailed {
        status: Option<Status>,
    },
    /// Publishing started on this stream; media can be sent.
    PublishStarted {
        stream_id: u32,
    },
    /// Playing started on this stream; media will arrive.
    PlayStarted {
        stream_id: u32,
    },
    /// A publish or play failed (status says why: BadName, StreamNotFound, ...).
    StreamFailed {
        stream_id: u32,
        status: Status,
    },
    /// Any onStatus the server sent, including those that produced the events above.
    Status {
        stream_id: u32,
        status: Status,
    },
    /// Enhanced RTMP: the server asks the client to reconnect, maybe to another URL.
    ReconnectRequest {
        tc_url: Option<String>,
        description: String,
    },
    /// Media while playing: an FLV tag body.
    Media {
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// Metadata while playing.
    Metadata {
        stream_id: u32,
        timestamp: u32,
        metadata: Amf0Value,
    },
    /// Another data message while playing.
    Data {
        stream_id: u32,
        timestamp: u32,
        message: DataMessage,
    },
    /// User control: the stream began, ended (publisher left) or ran dry.
    StreamBegin {
        stream_id: u32,
    },
    StreamEof {
        stream_id: u32,
    },
    StreamDry {
        stream_id: u32,
    },
    /// A command this session does not handle (e.g. a server-side call).
    Command {
        stream_id: u32,
        command: Command,
    },
    /// The server acknowledged this many bytes (modulo 2^32).
    Acknowledgement {
        sequence_number: u32,
    },
}

#[derive(Debug, Clone)]
enum Intent {
    Publish {
        stream_name: String,
        publish_type: PublishType,
    },
    Play {
        stream_name: String,
        start: f64,
        duration: f64,
        reset: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    PublishPending,
    Publishing,
    PlayPending,
    Playing,
}

/// The client side of one RTMP connection, without I/O.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: ClientState,
    /// Dropped once done: its buffers are a few KiB per connection.
    handshake: Option<ClientHandshake>,
    deadline: Option<Millis>,
    transport: Transport,
    events: VecDeque<ClientEvent>,
    next_transaction: f64,
    /// createStream calls in flight and what the stream is for.
    creating: HashMap<u64, Intent>,
    streams: HashMap<u32, (Role, String)>,
}

impl ClientSession {
    /// Starts a session: C0 and C1 are ready in [`poll_transmit`](Self::poll_transmit) at
    /// once. `seed` seeds the handshake's random bytes.
    pub fn new(config: ClientConfig, seed: [u8; SEED_LEN], now: Millis) -> Self {
        let mut hello = Vec::with_capacity(1537);
        let handshake = ClientHandshake::new(config.handshake_mode, seed, now as u32, &mut hello);
        let mut transport = Transport::new(config.chunk_limits, config.amf_limits);
        transport.push_raw(hello);
        ClientSession {
            deadline: Some(now.saturating_add(config.connect_timeout)),
            config,
            state: ClientState::Handshake,
            handshake: Some(handshake),
            transport,
            events: VecDeque::new(),
            next_transaction: 2.0,
            creating: HashMap::new(),
            streams: HashMap::new(),
        }
    }

    /// Where the session is.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// Bytes received so far (handshake included).
    pub fn bytes_received(&self) -> u64 {
        self.transport.decoder.bytes_received()
    }

    /// Bytes queued for sending so far (handshake included).
    pub fn bytes_sent(&self) -> u64 {
        self.transport.bytes_sent()
    }

    /// Feeds received bytes. An error means the server broke the protocol: close.
    pub fn feed(&mut self, mut input: &[u8], _now: Millis) -> Result<()> {
        if self.state == ClientState::Closed {
            return Ok(());
        }
        if self.state == ClientState::Handshake {
            let mut out = Vec::new();
            let Some(handshake) = self.handshake.as_mut() else {
                return Err(Error::InvalidState("handshake already finished"));
            };
            let (consumed, status) = handshake.feed(input, &mut out)?;
            if matches!(status, HandshakeStatus::Done(_)) {
                self.handshake = None;
            }
            self.transport.push_raw(out);
            self.transport.decoder.count_received(consumed);
            input = &input[consumed..];
            match status {
                HandshakeStatus::InProgress => return Ok(()),
                HandshakeStatus::Done(_) => self.send_connect()?,
            }
        }
        self.transport.decoder.push(input);
        while let Some(message) = self.transport.next_message()? {
            self.handle_message(message)?;
        }
        Ok(())
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
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When the connect times out, while it is under way.
    pub fn next_timeout(&self) -> Option<Millis> {
        self.deadline
    }

    /// An error if the connect did not finish in time.
    pub fn on_timeout(&mut self, now: Millis) -> Result<()> {
        match self.deadline {
            Some(deadline) if now >= deadline => Err(Error::Timeout("connect")),
            _ => Ok(()),
        }
    }

    fn send_connect(&mut self) -> Result<()> {
        self.state = ClientState::Connecting;
        self.transport
            .set_outgoing_chunk_size(self.config.chunk_size)?;
        let c = &self.config;
        let mut connect = Connect::new(&c.app, &c.tc_url);
        connect.set("flashVer", c.flash_ver.as_str().into());
        if !c.fourcc_list.is_empty() {
            let list = c.fourcc_list.iter().map(|s| s.as_str().into()).collect();
            connect.set("fourCcList", Amf0Value::StrictArray(list));
            connect.set("capsEx", Amf0Value::Number(c.caps_ex as f64));
        }
        for (k, v) in &c.extra_properties {
            connect.set(k, v.clone());
        }
        connect.arguments = c.connect_arguments.clone();
        self.transport.send_command(0, NetCommand::Connect(connect));
        Ok(())
    }

    fn transaction(&mut self) -> f64 {
        let t = self.next_transaction;
        self.next_transaction += 1.0;
        t
    }

    fn require_connected(&self) -> Result<()> {
        match self.state {
            ClientState::Connected => Ok(()),
            _ => Err(not_connected()),
        }
    }

    fn create_stream(&mut self, intent: Intent) {
        let transaction_id = self.transaction();
        self.creating.insert(transaction_id as u64, intent);
        self.transport
            .send_command(0, NetCommand::CreateStream { transaction_id });
    }

    /// Starts publishing `stream_name` (the stream key): releaseStream, FCPublish,
    /// createStream, then publish. [`ClientEvent::PublishStarted`] follows.
    pub fn publish(&mut self, stream_name: &str, publish_type: PublishType) -> Result<()> {
        self.require_connected()?;
        for command in [
            NetCommand::ReleaseStream {
                transaction_id: self.transaction(),
                stream_name: stream_name.into(),
            },
            NetCommand::FcPublish {
                transaction_id: self.transaction(),
                stream_name: stream_name.into(),
            },
        ] {
            self.transport.send_command(0, command);
        }
        self.create_stream(Intent::Publish {
            stream_name: stream_name.into(),
            publish_type,
        });
        Ok(())
    }

    /// Starts playing `stream_name`: createStream, then play. `start` -2 plays live or
    /// recorded, -1 live only; `duration` -1 plays to the end.
    /// [`ClientEvent::PlayStarted`] follows.
    pub fn play(
        &mut self,
        stream_name: &str,
        start: f64,
        duration: f64,
        reset: bool,
    ) -> Result<()> {
        self.require_connected()?;
        self.create_stream(Intent::Play {
            stream_name: stream_name.into(),
            start,
            duration,
            reset,
        });
        Ok(())
    }

    /// The stream this session publishes on, once publishing started.
    pub fn publishing_stream(&self) -> Option<u32> {
        self.streams
            .iter()
            .find(|(_, (role, _))| *role == Role::Publishing)
            .map(|(id, _)| *id)
    }

    /// Sends an audio or video message (an FLV tag body) on the publishing stream.
    pub fn send_media(&mut self, kind: MediaKind, timestamp: u32, payload: Bytes) -> Result<()> {
        let stream_id = self
            .publishing_stream()
            .ok_or(Error::InvalidState("not publishing"))?;
        let header = MessageHeader {
            chunk_stream_id: kind.chunk_stream_id(),
            timestamp,
            type_id: kind.type_id(),
            stream_id,
        };
        self.transport.send(header, payload);
        Ok(())
    }

    /// Sends stream metadata (`@setDataFrame onMetaData`) on the publishing stream.
    pub fn send_metadata(&mut self, metadata: Amf0Value) -> Result<()> {
        let stream_id = self
            .publishing_stream()
            .ok_or(Error::InvalidState("not publishing"))?;
        let body = DataMessage::set_data_frame(metadata).encode();
        self.transport.send_data(stream_id, 0, body);
        Ok(())
    }

    /// Stops publishing: FCUnpublish and deleteStream.
    pub fn unpublish(&mut self) -> Result<()> {
        let stream_id = self
            .publishing_stream()
            .ok_or(Error::InvalidState("not publishing"))?;
        let name = self
            .streams
            .remove(&stream_id)
            .map(|(_, n)| n)
            .unwrap_or_default();
        let fc = NetCommand::FcUnpublish {
            transaction_id: self.transaction(),
            stream_name: name,
        };
        self.transport.send_command(0, fc);
        self.delete_stream(stream_id);
        Ok(())
    }

    /// Stops playing a stream: deleteStream.
    pub fn stop_play(&mut self, stream_id: u32) -> Result<()> {
        match self.streams.remove(&stream_id) {
            Some((Role::Playing | Role::PlayPending, _)) => {
                self.delete_stream(stream_id);
                Ok(())
            }
            _ => Err(Error::InvalidState("not playing that stream")),
        }
    }

    fn delete_stream(&mut self, stream_id: u32) {
        let delete = NetCommand::DeleteStream {
            transaction_id: self.transaction(),
            stream_id: stream_id as f64,
        };
        self.transport.send_command(0, delete);
    }

    /// Pauses or resumes a playing stream.
    pub fn pause(&mut self, stream_id: u32, pause: bool, position_ms: f64) -> Result<()> {
        self.require_connected()?;
        let command = NetCommand::Pause {
            transaction_id: 0.0,
            pause,
            position_ms,
        };
        self.transport.send_command(stream_id, command);
        Ok(())
    }

    /// Sends a raw command on a stream (0: the connection).
    pub fn send_command(&mut self, stream_id: u32, command: Command) -> Result<()> {
        self.require_connected()?;
        self.transport
            .send_command(stream_id, NetCommand::Other(command));
        Ok(())
    }

    fn handle_message(&mut self, message: RawMessage) -> Result<()> {
        let header = message.header;
        let stream_id = header.stream_id;
        match MessageType::from_id(header.type_id) {
            Some(MessageType::Audio) | Some(MessageType::Video) => {
                let kind = MediaKind::from_type_id(header.type_id).unwrap_or(MediaKind::Video);
                self.events.push_back(ClientEvent::Media {
                    stream_id,
                    kind,
                    timestamp: header.timestamp,
                    payload: message.payload,
                });
            }
            Some(MessageType::Aggregate) => {
                for part in split_aggregate(&message)? {
                    self.handle_message(part)?;
                }
            }
            Some(MessageType::DataAmf0) | Some(MessageType::DataAmf3) => {
                let amf3 = header.type_id == MessageType::DataAmf3 as u8;
                let data = DataMessage::decode(&message.payload, amf3, self.transport.amf_limits)?;
                let event = match data.metadata() {
                    Some(metadata) => ClientEvent::Metadata {
                        stream_id,
                        timestamp: header.timestamp,
                        metadata: metadata.clone(),
                    },
                    None => ClientEvent::Data {
                        stream_id,
                        timestamp: header.timestamp,
                        message: data,
                    },
                };
                self.events.push_back(event);
            }
            Some(MessageType::CommandAmf0) | Some(MessageType::CommandAmf3) => {
                let amf3 = header.type_id == MessageType::CommandAmf3 as u8;
                let command = Command::decode(&message.payload, amf3, self.transport.amf_limits)?;
                self.handle_command(stream_id, command)?;
            }
            Some(MessageType::SharedObjectAmf0) | Some(MessageType::SharedObjectAmf3) | None => {
                log::debug!("ignoring message type {}", header.type_id);
            }
            Some(_) => {
                if let Some(control) = self.transport.decode_control(&message)? {
                    self.transport.handle_control(&control);
                    self.handle_control(control);
                }
            }
        }
        Ok(())
    }

    fn handle_control(&mut self, control: ControlMessage) {
        let event = match control {
            ControlMessage::SetPeerBandwidth { size, .. } => {
                // Answer with our window, as Flash Player and ffmpeg do.
                self.transport
                    .send_control(ControlMessage::WindowAckSize(size), 0);
                return;
            }
            ControlMessage::Acknowledgement { sequence_number } => {
                ClientEvent::Acknowledgement { sequence_number }
            }
            ControlMessage::UserControl(UserControlEvent::StreamBegin(stream_id)) => {
                ClientEvent::StreamBegin { stream_id }
            }
            ControlMessage::UserControl(UserControlEvent::StreamEof(stream_id)) => {
                ClientEvent::StreamEof { stream_id }
            }
            ControlMessage::UserControl(UserControlEvent::StreamDry(stream_id)) => {
                ClientEvent::StreamDry { stream_id }
            }
            _ => return,
        };
        self.events.push_back(event);
    }

    fn handle_command(&mut self, stream_id: u32, command: Command) -> Result<()> {
        let typed = NetCommand::from_command(command.clone()).unwrap_or(NetCommand::Other(command));
        match typed {
            NetCommand::Result {
                transaction_id,
                properties,
                info,
            } => {
                if self.state == ClientState::Connecting && transaction_id == 1.0 {
                    self.state = ClientState::Connected;
                    self.deadline = None;
                    self.events.push_back(ClientEvent::Connected {
                        properties,
                        status: Status::from_amf(&info),
                    });
                } else if let Some(intent) = self.creating.remove(&(transaction_id as u64)) {
                    let id = info
                        .as_f64()
                        .filter(|v| *v >= 1.0 && *v <= u32::MAX as f64)
                        .ok_or_else(|| {
                            Error::Protocol("createStream result without a stream id".into())
                        })? as u32;
                    self.start_stream(id, intent);
                }
            }
            NetCommand::Error {
                transaction_id,
                info,
                ..
            } => {
                if self.state == ClientState::Connecting && transaction_id == 1.0 {
                    self.state = ClientState::Closed;
                    self.deadline = None;
                    self.events.push_back(ClientEvent::ConnectFailed {
                        status: Status::from_amf(&info),
                    });
                } else if self.creating.remove(&(transaction_id as u64)).is_some() {
                    let status = Status::from_amf(&info).unwrap_or_else(|| {
                        Status::new(
                            crate::protocol::command::StatusLevel::Error,
                            "NetConnection.Call.Failed",
                            "createStream failed",
                        )
                    });
                    self.events.push_back(ClientEvent::StreamFailed {
                        stream_id: 0,
                        status,
                    });
                }
            }
            NetCommand::OnStatus(status) => self.handle_status(stream_id, status),
            NetCommand::OnBwDone | NetCommand::CheckBw { .. } => {}
            other => {
                let command = other.into_command();
                // onFCPublish and friends carry nothing the session needs.
                if !command.name.starts_with("onFC") {
                    self.events
                        .push_back(ClientEvent::Command { stream_id, command });
                }
            }
        }
        Ok(())
    }

    fn start_stream(&mut self, stream_id: u32, intent: Intent) {
        match intent {
            Intent::Publish {
                stream_name,
                publish_type,
            } => {
                self.streams
                    .insert(stream_id, (Role::PublishPending, stream_name.clone()));
                let publish = NetCommand::Publish {
                    transaction_id: self.transaction(),
                    stream_name,
                    publish_type,
                };
                self.transport.send_command(stream_id, publish);
            }
            Intent::Play {
                stream_name,
                start,
                duration,
                reset,
            } => {
                self.streams
                    .insert(stream_id, (Role::PlayPending, stream_name.clone()));
                let play = NetCommand::Play {
                    transaction_id: self.transaction(),
                    stream_name,
                    start,
                    duration,
                    reset,
                };
                self.transport.send_command(stream_id, play);
                self.transport
                    .send_user_control(UserControlEvent::SetBufferLength {
                        stream_id,
                        buffer_ms: self.config.buffer_ms,
                    });
            }
        }
    }

    fn handle_status(&mut self, stream_id: u32, status: Status) {
        self.events.push_back(ClientEvent::Status {
            stream_id,
            status: status.clone(),
        });
        if status.code == status_code::CONNECT_RECONNECT_REQUEST {
            let tc_url = status
                .extra
                .iter()
                .find(|(k, _)| k == "tcUrl")
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned);
            self.events.push_back(ClientEvent::ReconnectRequest {
                tc_url,
                description: status.description,
            });
            return;
        }
        let Some((role, _)) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let event = match (*role, status.code.as_str()) {
            (Role::PublishPending, status_code::PUBLISH_START) => {
                *role = Role::Publishing;
                ClientEvent::PublishStarted { stream_id }
            }
            (Role::PlayPending, status_code::PLAY_START) => {
                *role = Role::Playing;
                ClientEvent::PlayStarted { stream_id }
            }
            (Role::PublishPending | Role::PlayPending, _) if status.is_error() => {
                self.streams.remove(&stream_id);
                ClientEvent::StreamFailed { stream_id, status }
            }
            _ => return,
        };
        self.events.push_back(event);
    }
}
