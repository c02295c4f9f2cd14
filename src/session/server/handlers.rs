//! How a server session reacts to what the client sends.

use super::*;

impl ServerSession {
    pub(super) fn handle_message(&mut self, message: RawMessage, now: Millis) -> Result<()> {
        let header = message.header;
        match MessageType::from_id(header.type_id) {
            Some(MessageType::Audio) | Some(MessageType::Video) => {
                if matches!(
                    self.streams.get(&header.stream_id),
                    Some(StreamRole::Publishing(_))
                ) {
                    let kind = MediaKind::from_type_id(header.type_id).unwrap_or(MediaKind::Video);
                    self.events.push_back(ServerEvent::Media {
                        stream_id: header.stream_id,
                        kind,
                        timestamp: header.timestamp,
                        payload: message.payload,
                    });
                }
            }
            Some(MessageType::Aggregate) => {
                for part in split_aggregate(&message)? {
                    self.handle_message(part, now)?;
                }
            }
            Some(MessageType::DataAmf0) | Some(MessageType::DataAmf3) => {
                let amf3 = header.type_id == MessageType::DataAmf3 as u8;
                let data = DataMessage::decode(&message.payload, amf3, self.transport.amf_limits)?;
                if !matches!(
                    self.streams.get(&header.stream_id),
                    Some(StreamRole::Publishing(_))
                ) {
                    return Ok(());
                }
                let event = match data.metadata() {
                    Some(metadata) => ServerEvent::Metadata {
                        stream_id: header.stream_id,
                        timestamp: header.timestamp,
                        metadata: metadata.clone(),
                    },
                    None => ServerEvent::Data {
                        stream_id: header.stream_id,
                        timestamp: header.timestamp,
                        message: data,
                    },
                };
                self.events.push_back(event);
            }
            Some(MessageType::CommandAmf0) | Some(MessageType::CommandAmf3) => {
                let amf3 = header.type_id == MessageType::CommandAmf3 as u8;
                let command = Command::decode(&message.payload, amf3, self.transport.amf_limits)?;
                self.handle_command(header.stream_id, command, now)?;
            }
            Some(MessageType::SharedObjectAmf0) | Some(MessageType::SharedObjectAmf3) | None => {
                log::debug!("ignoring message type {}", header.type_id);
            }
            Some(_) => {
                if let Some(control) = self.transport.decode_control(&message)? {
                    self.transport.handle_control(&control);
                    match control {
                        ControlMessage::UserControl(UserControlEvent::PingResponse(t)) => self
                            .events
                            .push_back(ServerEvent::PingResponse { timestamp: t }),
                        ControlMessage::Acknowledgement { sequence_number } => self
                            .events
                            .push_back(ServerEvent::Acknowledgement { sequence_number }),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn handle_command(&mut self, stream_id: u32, command: Command, now: Millis) -> Result<()> {
        let typed = match NetCommand::from_command(command.clone()) {
            Ok(t) => t,
            // A known command with missing arguments is answered like an unknown one.
            Err(CommandError::MissingField { .. }) => NetCommand::Other(command),
            Err(e) => return Err(e.into()),
        };
        if self.phase == Phase::AwaitingConnect {
            return match typed {
                NetCommand::Connect(connect) => {
                    check_name("app", connect.app())?;
                    self.app = connect.app().to_owned();
                    let object_encoding = connect.object_encoding();
                    let request = self.park(Pending::Connect { object_encoding }, now);
                    self.phase = Phase::ConnectPending;
                    self.events
                        .push_back(ServerEvent::ConnectRequest { request, connect });
                    Ok(())
                }
                other => Err(Error::Protocol(format!(
                    "{} before connect",
                    other.into_command().name
                ))),
            };
        }
        if self.phase != Phase::Connected {
            if let NetCommand::Connect(_) = typed {
                return Err(Error::Protocol("second connect".into()));
            }
            // Commands sent before the connect is answered wait for nothing: drop them.
            log::debug!("ignoring a command before the connect was accepted");
            return Ok(());
        }
        match typed {
            NetCommand::Connect(_) => return Err(Error::Protocol("second connect".into())),
            NetCommand::CreateStream { transaction_id } => {
                let live = self.streams.len();
                if live >= self.config.max_streams {
                    let info = Status::new(
                        StatusLevel::Error,
                        "NetConnection.Call.Failed",
                        "Too many streams.",
                    );
                    self.transport.send_command(
                        0,
                        NetCommand::Error {
                            transaction_id,
                            properties: Amf0Value::Null,
                            info: info.to_amf(),
                        },
                    );
                } else {
                    let id = self.next_stream_id;
                    self.next_stream_id += 1;
                    self.streams.insert(id, StreamRole::Idle);
                    self.transport.send_command(
                        0,
                        NetCommand::Result {
                            transaction_id,
                            properties: Amf0Value::Null,
                            info: Amf0Value::Number(id as f64),
                        },
                    );
                }
            }
            NetCommand::ReleaseStream { transaction_id, .. } => {
                self.transport.send_command(
                    0,
                    NetCommand::Result {
                        transaction_id,
                        properties: Amf0Value::Null,
                        info: Amf0Value::Undefined,
                    },
                );
            }
            NetCommand::FcPublish {
                transaction_id,
                stream_name,
            } => {
                // Encoders that follow FMLE wait for onFCPublish; others ignore it.
                let status = Status::new(
                    StatusLevel::Status,
                    status_code::PUBLISH_START,
                    format!("FCPublish to stream {stream_name}."),
                );
                self.transport.send_command(
                    0,
                    NetCommand::Other(Command::new("onFCPublish", 0.0, vec![status.to_amf()])),
                );
                self.transport.send_command(
                    0,
                    NetCommand::Result {
                        transaction_id,
                        properties: Amf0Value::Null,
                        info: Amf0Value::Undefined,
                    },
                );
            }
            NetCommand::Publish {
                stream_name,
                publish_type,
                ..
            } => self.request_publish(stream_id, stream_name, publish_type, now)?,
            NetCommand::Play {
                stream_name,
                start,
                duration,
                reset,
                ..
            } => self.request_play(stream_id, stream_name, start, duration, reset, now)?,
            NetCommand::Play2 { parameters, .. } => {
                let name = parameters
                    .get("streamName")
                    .and_then(Amf0Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let start = parameters
                    .get("start")
                    .and_then(Amf0Value::as_f64)
                    .unwrap_or(-2.0);
                self.request_play(stream_id, name, start, -1.0, true, now)?;
            }
            NetCommand::FcUnpublish {
                transaction_id,
                stream_name,
            } => {
                // FCUnpublish names the stream; it arrives on stream 0.
                let publishing = self.streams.iter().find_map(|(id, role)| match role {
                    StreamRole::Publishing(n) if *n == stream_name => Some(*id),
                    _ => None,
                });
                if let Some(id) = publishing {
                    self.finish_stream(id);
                }
                self.transport.send_command(
                    0,
                    NetCommand::Result {
                        transaction_id,
                        properties: Amf0Value::Null,
                        info: Amf0Value::Undefined,
                    },
                );
            }
            NetCommand::CloseStream { .. } => self.finish_stream(stream_id),
            NetCommand::DeleteStream {
                stream_id: deleted, ..
            } => {
                let deleted = deleted as u32;
                self.finish_stream(deleted);
                self.streams.remove(&deleted);
            }
            NetCommand::Pause {
                pause, position_ms, ..
            } => {
                let code = if pause {
                    status_code::PAUSE_NOTIFY
                } else {
                    status_code::UNPAUSE_NOTIFY
                };
                self.send_status(
                    stream_id,
                    Status::new(
                        StatusLevel::Status,
                        code,
                        if pause { "Paused." } else { "Unpaused." },
                    ),
                );
                self.events.push_back(ServerEvent::Pause {
                    stream_id,
                    pause,
                    position_ms,
                });
            }
            NetCommand::ReceiveAudio { enable } => {
                self.events.push_back(ServerEvent::ReceiveMedia {
                    stream_id,
                    kind: MediaKind::Audio,
                    enable,
                })
            }
            NetCommand::ReceiveVideo { enable } => {
                self.events.push_back(ServerEvent::ReceiveMedia {
                    stream_id,
                    kind: MediaKind::Video,
                    enable,
                })
            }
            NetCommand::GetStreamLength { transaction_id, .. } => {
                // Live streams have no length.
                self.transport.send_command(
                    stream_id,
                    NetCommand::Result {
                        transaction_id,
                        properties: Amf0Value::Null,
                        info: Amf0Value::Number(0.0),
                    },
                );
            }
            NetCommand::CheckBw { transaction_id } => {
                self.transport.send_command(
                    0,
                    NetCommand::Result {
                        transaction_id,
                        properties: Amf0Value::Null,
                        info: Amf0Value::Undefined,
                    },
                );
            }
            NetCommand::Result { .. } | NetCommand::Error { .. } | NetCommand::OnBwDone => {}
            other => {
                self.events.push_back(ServerEvent::Command {
                    stream_id,
                    command: other.into_command(),
                });
            }
        }
        Ok(())
    }

    fn request_publish(
        &mut self,
        stream_id: u32,
        stream_name: String,
        publish_type: PublishType,
        now: Millis,
    ) -> Result<()> {
        check_name("stream", &stream_name)?;
        match self.streams.get(&stream_id) {
            Some(StreamRole::Idle) => {}
            Some(_) => {
                return Err(Error::Protocol(format!(
                    "publish on stream {stream_id}, which is already in use"
                )))
            }
            None => {
                return Err(Error::Protocol(format!(
                    "publish on stream {stream_id}, which was never created"
                )))
            }
        }
        // Publishers append query strings (?key=...) to the name; the application sees
        // them and decides.
        self.streams
            .insert(stream_id, StreamRole::PublishPending(stream_name.clone()));
        let request = self.park(
            Pending::Publish {
                stream_id,
                stream_name: stream_name.clone(),
            },
            now,
        );
        self.events.push_back(ServerEvent::PublishRequest {
            request,
            stream_id,
            stream_name,
            publish_type,
        });
        Ok(())
    }

    fn request_play(
        &mut self,
        stream_id: u32,
        stream_name: String,
        start: f64,
        duration: f64,
        reset: bool,
        now: Millis,
    ) -> Result<()> {
        check_name("stream", &stream_name)?;
        match self.streams.get(&stream_id) {
            Some(StreamRole::Idle) => {}
            Some(_) => {
                return Err(Error::Protocol(format!(
                    "play on stream {stream_id}, which is already in use"
                )))
            }
            None => {
                return Err(Error::Protocol(format!(
                    "play on stream {stream_id}, which was never created"
                )))
            }
        }
        self.streams
            .insert(stream_id, StreamRole::PlayPending(stream_name.clone()));
        let request = self.park(
            Pending::Play {
                stream_id,
                stream_name: stream_name.clone(),
                reset,
            },
            now,
        );
        self.events.push_back(ServerEvent::PlayRequest {
            request,
            stream_id,
            stream_name,
            start,
            duration,
            reset,
        });
        Ok(())
    }

    /// Ends whatever a stream was doing, reporting it once.
    fn finish_stream(&mut self, stream_id: u32) {
        let Some(role) = self.streams.get_mut(&stream_id) else {
            return;
        };
        match std::mem::replace(role, StreamRole::Idle) {
            StreamRole::Publishing(stream_name) => {
                self.send_status(
                    stream_id,
                    Status::new(
                        StatusLevel::Status,
                        status_code::UNPUBLISH_SUCCESS,
                        format!("{stream_name} is now unpublished."),
                    )
                    .with("details", stream_name.as_str()),
                );
                self.events.push_back(ServerEvent::PublishFinished {
                    stream_id,
                    stream_name,
                });
            }
            StreamRole::Playing(stream_name) => {
                self.send_status(
                    stream_id,
                    Status::new(
                        StatusLevel::Status,
                        status_code::PLAY_STOP,
                        format!("Stopped playing {stream_name}."),
                    )
                    .with("details", stream_name.as_str()),
                );
                self.events.push_back(ServerEvent::PlayFinished {
                    stream_id,
                    stream_name,
                });
            }
            StreamRole::PublishPending(_) | StreamRole::PlayPending(_) => {
                // The request is moot; answering it later finds the stream idle.
                self.pending.retain(|(_, p, _)| match p {
                    Pending::Publish { stream_id: s, .. } | Pending::Play { stream_id: s, .. } => {
                        *s != stream_id
                    }
                    Pending::Connect { .. } => true,
                });
            }
            StreamRole::Idle => {}
        }
    }
}

/// Longest app or stream name accepted (nginx-rtmp allows 256; URLs with tokens run longer).
pub(super) const MAX_NAME_LEN: usize = 4096;

/// Names are echoed in status messages and used as keys: bound them.
fn check_name(what: &str, name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::Protocol(format!(
            "{what} name of {} bytes (the limit is {MAX_NAME_LEN})",
            name.len()
        )));
    }
    Ok(())
}
