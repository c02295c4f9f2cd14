//! RTMP messages above the chunk stream: protocol control, user control events, media,
//! data and command messages, and aggregates.

use bytes::Bytes;

use super::chunk::{MessageHeader, RawMessage};

/// Message type ids defined by the RTMP specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    SetChunkSize = 1,
    Abort = 2,
    Acknowledgement = 3,
    UserControl = 4,
    WindowAckSize = 5,
    SetPeerBandwidth = 6,
    Audio = 8,
    Video = 9,
    DataAmf3 = 15,
    SharedObjectAmf3 = 16,
    CommandAmf3 = 17,
    DataAmf0 = 18,
    SharedObjectAmf0 = 19,
    CommandAmf0 = 20,
    Aggregate = 22,
}

impl MessageType {
    /// The type for a type id, or `None` for ids the specification does not define.
    pub fn from_id(id: u8) -> Option<Self> {
        use MessageType::*;
        Some(match id {
            1 => SetChunkSize,
            2 => Abort,
            3 => Acknowledgement,
            4 => UserControl,
            5 => WindowAckSize,
            6 => SetPeerBandwidth,
            8 => Audio,
            9 => Video,
            15 => DataAmf3,
            16 => SharedObjectAmf3,
            17 => CommandAmf3,
            18 => DataAmf0,
            19 => SharedObjectAmf0,
            20 => CommandAmf0,
            22 => Aggregate,
            _ => return None,
        })
    }
}

/// Chunk stream ids conventionally used for each kind of message. Peers accept any, but
/// keeping media on their own chunk streams lets headers compress well.
pub mod chunk_stream {
    /// Protocol control and user control messages (required by the specification).
    pub const CONTROL: u32 = 2;
    /// NetConnection commands.
    pub const COMMAND: u32 = 3;
    /// Audio.
    pub const AUDIO: u32 = 4;
    /// NetStream commands and data (onStatus, @setDataFrame).
    pub const STREAM_COMMAND: u32 = 5;
    /// Video.
    pub const VIDEO: u32 = 6;
}

/// How a Set Peer Bandwidth limit is to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthLimit {
    Hard = 0,
    Soft = 1,
    Dynamic = 2,
}

/// User control events (message type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControlEvent {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength {
        stream_id: u32,
        buffer_ms: u32,
    },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    /// Events this library does not interpret (SWF verification, buffer empty/ready, ...).
    Other {
        event_type: u16,
        data: Bytes,
    },
}

impl UserControlEvent {
    /// Parses the body of a user control message.
    pub fn decode(payload: &[u8]) -> Result<Self, MessageError> {
        let malformed = MessageError::Malformed(MessageType::UserControl as u8);
        let b = payload.get(..2).ok_or(malformed.clone())?;
        let event_type = u16::from_be_bytes([b[0], b[1]]);
        let arg = |i: usize| -> Result<u32, MessageError> {
            let b = payload.get(2 + i * 4..6 + i * 4).ok_or(malformed.clone())?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Ok(match event_type {
            0 => Self::StreamBegin(arg(0)?),
            1 => Self::StreamEof(arg(0)?),
            2 => Self::StreamDry(arg(0)?),
            3 => Self::SetBufferLength {
                stream_id: arg(0)?,
                buffer_ms: arg(1)?,
            },
            4 => Self::StreamIsRecorded(arg(0)?),
            6 => Self::PingRequest(arg(0)?),
            7 => Self::PingResponse(arg(0)?),
            other => Self::Other {
                event_type: other,
                data: Bytes::copy_from_slice(&payload[2..]),
            },
        })
    }

    /// Serializes the event as a user control message body.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(10);
        let (event_type, args): (u16, &[u32]) = match self {
            Self::StreamBegin(id) => (0, std::slice::from_ref(id)),
            Self::StreamEof(id) => (1, std::slice::from_ref(id)),
            Self::StreamDry(id) => (2, std::slice::from_ref(id)),
            Self::SetBufferLength {
                stream_id,
                buffer_ms,
            } => {
                out.extend_from_slice(&3u16.to_be_bytes());
                out.extend_from_slice(&stream_id.to_be_bytes());
                out.extend_from_slice(&buffer_ms.to_be_bytes());
                return out.into();
            }
            Self::StreamIsRecorded(id) => (4, std::slice::from_ref(id)),
            Self::PingRequest(t) => (6, std::slice::from_ref(t)),
            Self::PingResponse(t) => (7, std::slice::from_ref(t)),
            Self::Other { event_type, data } => {
                out.extend_from_slice(&event_type.to_be_bytes());
                out.extend_from_slice(data);
                return out.into();
            }
        };
        out.extend_from_slice(&event_type.to_be_bytes());
        for a in args {
            out.extend_from_slice(&a.to_be_bytes());
        }
        out.into()
    }
}

/// Errors in message bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    #[error("malformed message of type {0}")]
    Malformed(u8),
    #[error("malformed aggregate message: {0}")]
    MalformedAggregate(&'static str),
}

/// Protocol control messages (types 1-3, 5, 6) and user control events, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    SetChunkSize(u32),
    Abort { chunk_stream_id: u32 },
    Acknowledgement { sequence_number: u32 },
    UserControl(UserControlEvent),
    WindowAckSize(u32),
    SetPeerBandwidth { size: u32, limit: BandwidthLimit },
}

impl ControlMessage {
    /// Parses a control message, or returns `Ok(None)` if the type is not a control type.
    pub fn decode(type_id: u8, payload: &[u8]) -> Result<Option<Self>, MessageError> {
        let word = || -> Result<u32, MessageError> {
            let b = payload.get(..4).ok_or(MessageError::Malformed(type_id))?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Ok(Some(match MessageType::from_id(type_id) {
            Some(MessageType::SetChunkSize) => Self::SetChunkSize(word()? & 0x7FFF_FFFF),
            Some(MessageType::Abort) => Self::Abort {
                chunk_stream_id: word()?,
            },
            Some(MessageType::Acknowledgement) => Self::Acknowledgement {
                sequence_number: word()?,
            },
            Some(MessageType::UserControl) => Self::UserControl(UserControlEvent::decode(payload)?),
            Some(MessageType::WindowAckSize) => Self::WindowAckSize(word()?),
            Some(MessageType::SetPeerBandwidth) => Self::SetPeerBandwidth {
                size: word()?,
                // Some peers omit the limit type; dynamic is the most permissive reading.
                limit: match payload.get(4) {
                    Some(0) => BandwidthLimit::Hard,
                    Some(1) => BandwidthLimit::Soft,
                    _ => BandwidthLimit::Dynamic,
                },
            },
            _ => return Ok(None),
        }))
    }

    /// The message type id and body of this control message.
    pub fn encode(&self) -> (MessageType, Bytes) {
        let word = |v: u32| Bytes::copy_from_slice(&v.to_be_bytes());
        match self {
            Self::SetChunkSize(size) => (MessageType::SetChunkSize, word(*size)),
            Self::Abort { chunk_stream_id } => (MessageType::Abort, word(*chunk_stream_id)),
            Self::Acknowledgement { sequence_number } => {
                (MessageType::Acknowledgement, word(*sequence_number))
            }
            Self::UserControl(event) => (MessageType::UserControl, event.encode()),
            Self::WindowAckSize(size) => (MessageType::WindowAckSize, word(*size)),
            Self::SetPeerBandwidth { size, limit } => {
                let mut b = size.to_be_bytes().to_vec();
                b.push(*limit as u8);
                (MessageType::SetPeerBandwidth, b.into())
            }
        }
    }

    /// The header a control message travels with: chunk stream 2, message stream 0.
    pub fn header(&self, timestamp: u32) -> MessageHeader {
        MessageHeader {
            chunk_stream_id: chunk_stream::CONTROL,
            timestamp,
            type_id: self.encode().0 as u8,
            stream_id: 0,
        }
    }
}

/// Splits an aggregate message (type 22) into its sub-messages. Each sub-message is an FLV
/// tag: type (1), length (3), timestamp (3 + 1 high byte), stream id (3), body, back
/// pointer (4). Timestamps are rebased so the first sub-message gets the aggregate's own
/// timestamp, as the specification describes. Bodies are views of the aggregate payload.
pub fn split_aggregate(aggregate: &RawMessage) -> Result<Vec<RawMessage>, MessageError> {
    let payload = &aggregate.payload;
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut base: Option<u32> = None;
    while pos < payload.len() {
        let h = payload
            .get(pos..pos + 11)
            .ok_or(MessageError::MalformedAggregate(
                "truncated sub-message header",
            ))?;
        let type_id = h[0];
        let length = (h[1] as usize) << 16 | (h[2] as usize) << 8 | h[3] as usize;
        let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let body_start = pos + 11;
        let body_end = body_start + length;
        if body_end > payload.len() {
            return Err(MessageError::MalformedAggregate(
                "sub-message body truncated",
            ));
        }
        if type_id == MessageType::Aggregate as u8 {
            return Err(MessageError::MalformedAggregate("nested aggregate"));
        }
        let first = *base.get_or_insert(timestamp);
        out.push(RawMessage {
            header: MessageHeader {
                chunk_stream_id: aggregate.header.chunk_stream_id,
                timestamp: aggregate
                    .header
                    .timestamp
                    .wrapping_add(timestamp.wrapping_sub(first)),
                type_id,
                stream_id: aggregate.header.stream_id,
            },
            payload: payload.slice(body_start..body_end),
        });
        // The back pointer is optional at the very end; some muxers leave it out.
        pos = (body_end + 4).min(payload.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip() {
        let cases = [
            ControlMessage::SetChunkSize(4096),
            ControlMessage::Abort { chunk_stream_id: 6 },
            ControlMessage::Acknowledgement {
                sequence_number: 2_500_000,
            },
            ControlMessage::WindowAckSize(2_500_000),
            ControlMessage::SetPeerBandwidth {
                size: 2_500_000,
                limit: BandwidthLimit::Dynamic,
            },
            ControlMessage::UserControl(UserControlEvent::StreamBegin(1)),
            ControlMessage::UserControl(UserControlEvent::StreamEof(1)),
            ControlMessage::UserControl(UserControlEvent::StreamDry(1)),
            ControlMessage::UserControl(UserControlEvent::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000,
            }),
            ControlMessage::UserControl(UserControlEvent::StreamIsRecorded(1)),
            ControlMessage::UserControl(UserControlEvent::PingRequest(123_456)),
            ControlMessage::UserControl(UserControlEvent::PingResponse(123_456)),
            ControlMessage::UserControl(UserControlEvent::Other {
                event_type: 31,
                data: Bytes::from_static(&[0, 0, 0, 1]),
            }),
        ];
        for case in cases {
            let (ty, body) = case.encode();
            assert_eq!(ControlMessage::decode(ty as u8, &body), Ok(Some(case)));
        }
    }

    #[test]
    fn control_message_bytes_match_the_specification() {
        let (ty, body) = ControlMessage::SetPeerBandwidth {
            size: 5_000_000,
            limit: BandwidthLimit::Dynamic,
        }
        .encode();
        assert_eq!(ty as u8, 6);
        assert_eq!(&body[..], &[0x00, 0x4C, 0x4B, 0x40, 2]);
        let (ty, body) = ControlMessage::UserControl(UserControlEvent::SetBufferLength {
            stream_id: 1,
            buffer_ms: 3000,
        })
        .encode();
        assert_eq!(ty as u8, 4);
        assert_eq!(&body[..], &[0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8]);
    }

    #[test]
    fn truncated_control_messages_are_rejected() {
        for ty in [1u8, 2, 3, 5, 6] {
            assert_eq!(
                ControlMessage::decode(ty, &[0, 0, 1]),
                Err(MessageError::Malformed(ty))
            );
        }
        assert!(ControlMessage::decode(4, &[0]).is_err());
        assert!(ControlMessage::decode(4, &[0, 3, 0, 0, 0, 1]).is_err());
        assert_eq!(ControlMessage::decode(9, &[]), Ok(None));
    }

    fn flv_tag(type_id: u8, timestamp: u32, body: &[u8]) -> Vec<u8> {
        let mut t = vec![type_id];
        t.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        t.extend_from_slice(&timestamp.to_be_bytes()[1..]);
        t.push((timestamp >> 24) as u8);
        t.extend_from_slice(&[0, 0, 0]);
        t.extend_from_slice(body);
        t.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        t
    }

    #[test]
    fn aggregate_is_split_with_rebased_timestamps() {
        let mut payload = flv_tag(9, 0x0100_0010, b"video-1");
        payload.extend(flv_tag(8, 0x0100_0020, b"audio"));
        payload.extend(flv_tag(9, 0x0100_0043, b"video-2"));
        let aggregate = RawMessage {
            header: MessageHeader {
                chunk_stream_id: 6,
                timestamp: 1000,
                type_id: 22,
                stream_id: 1,
            },
            payload: payload.into(),
        };
        let parts = split_aggregate(&aggregate).unwrap();
        let summary: Vec<_> = parts
            .iter()
            .map(|m| (m.header.type_id, m.header.timestamp, &m.payload[..]))
            .collect();
        assert_eq!(
            summary,
            vec![
                (9, 1000, &b"video-1"[..]),
                (8, 1016, &b"audio"[..]),
                (9, 1051, &b"video-2"[..])
            ]
        );
        assert!(parts.iter().all(|m| m.header.stream_id == 1));
    }

    #[test]
    fn malformed_aggregates_are_rejected() {
        let whole = flv_tag(9, 5, b"0123456789");
        for cut in 1..whole.len() - 4 {
            let m = RawMessage {
                header: MessageHeader {
                    chunk_stream_id: 6,
                    timestamp: 0,
                    type_id: 22,
                    stream_id: 1,
                },
                payload: Bytes::copy_from_slice(&whole[..cut]),
            };
            assert!(split_aggregate(&m).is_err(), "prefix {cut}");
        }
        let nested = RawMessage {
            header: MessageHeader {
                chunk_stream_id: 6,
                timestamp: 0,
                type_id: 22,
                stream_id: 1,
            },
            payload: flv_tag(22, 0, b"x").into(),
        };
        assert!(split_aggregate(&nested).is_err());
    }
}
