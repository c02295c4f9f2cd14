//! What the client and server sessions share: the handshake-to-chunk-stream switch, the
//! chunk codecs, acknowledgements, pings and the outgoing queue.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::protocol::amf::AmfLimits;
use crate::protocol::chunk::{
    ChunkDecoder, ChunkEncoder, ChunkLimits, ChunkedMessage, MessageHeader, RawMessage,
    MAX_MESSAGE_LENGTH,
};
use crate::protocol::command::NetCommand;
use crate::protocol::message::{chunk_stream, ControlMessage, UserControlEvent};

/// One piece of output: raw bytes (the handshake) or a chunked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Raw(Bytes),
    Message(ChunkedMessage),
}

impl Outgoing {
    /// Appends the wire bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Outgoing::Raw(b) => out.extend_from_slice(b),
            Outgoing::Message(m) => m.write_to(out),
        }
    }

    /// Length on the wire.
    pub fn len(&self) -> usize {
        match self {
            Outgoing::Raw(b) => b.len(),
            Outgoing::Message(m) => m.encoded_len(),
        }
    }

    /// True if there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The chunk-stream half of a session, after the handshake.
#[derive(Debug)]
pub(crate) struct Transport {
    pub decoder: ChunkDecoder,
    pub encoder: ChunkEncoder,
    pub amf_limits: AmfLimits,
    out: VecDeque<Outgoing>,
    /// The peer wants an Acknowledgement every this many bytes (0: never).
    ack_window: u32,
    acked_at: u64,
    bytes_sent: u64,
}

impl Transport {
    pub fn new(chunk_limits: ChunkLimits, amf_limits: AmfLimits) -> Self {
        Transport {
            decoder: ChunkDecoder::new(chunk_limits),
            encoder: ChunkEncoder::new(),
            amf_limits,
            out: VecDeque::new(),
            ack_window: 0,
            acked_at: 0,
            bytes_sent: 0,
        }
    }

    pub fn push_raw(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.bytes_sent += bytes.len() as u64;
            self.out.push_back(Outgoing::Raw(bytes.into()));
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        let next = self.out.pop_front();
        if next.is_none() {
            shrink_idle(&mut self.out);
        }
        next
    }

    pub fn has_pending_output(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Queues a message. One longer than the protocol can carry (2^24-1 bytes) is not
    /// sent; that is logged, since only a caller's bug or an unchecked peer value can
    /// produce it.
    pub fn send(&mut self, header: MessageHeader, payload: Bytes) {
        if payload.len() > MAX_MESSAGE_LENGTH as usize {
            log::error!(
                "not sending a {}-byte message of type {}: longer than RTMP allows",
                payload.len(),
                header.type_id
            );
            return;
        }
        let message = self.encoder.encode(&header, payload);
        self.bytes_sent += message.encoded_len() as u64;
        self.out.push_back(Outgoing::Message(message));
    }

    pub fn send_control(&mut self, control: ControlMessage, timestamp: u32) {
        let header = control.header(timestamp);
        let (_, payload) = control.encode();
        self.send(header, payload);
    }

    /// Sends Set Chunk Size and switches the encoder to it.
    pub fn set_outgoing_chunk_size(&mut self, size: u32) -> Result<()> {
        if size != self.encoder.chunk_size() {
            self.send_control(ControlMessage::SetChunkSize(size), 0);
            self.encoder.set_chunk_size(size)?;
        }
        Ok(())
    }

    pub fn send_command(&mut self, stream_id: u32, command: NetCommand) {
        let chunk_stream_id = if stream_id == 0 {
            chunk_stream::COMMAND
        } else {
            chunk_stream::STREAM_COMMAND
        };
        let header = MessageHeader {
            chunk_stream_id,
            timestamp: 0,
            type_id: crate::protocol::message::MessageType::CommandAmf0 as u8,
            stream_id,
        };
        self.send(header, command.encode());
    }

    pub fn send_data(&mut self, stream_id: u32, timestamp: u32, payload: Bytes) {
        let header = MessageHeader {
            chunk_stream_id: chunk_stream::STREAM_COMMAND,
            timestamp,
            type_id: crate::protocol::message::MessageType::DataAmf0 as u8,
            stream_id,
        };
        self.send(header, payload);
    }

    pub fn send_user_control(&mut self, event: UserControlEvent) {
        self.send_control(ControlMessage::UserControl(event), 0);
    }

    /// Decodes the next message, acknowledging received bytes as the peer's window asks.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>> {
        let message = self.decoder.next_message()?;
        let received = self.decoder.bytes_received();
        if self.ack_window > 0 && received - self.acked_at >= self.ack_window as u64 {
            self.acked_at = received;
            // The sequence number is the byte count modulo 2^32, as peers expect.
            self.send_control(
                ControlMessage::Acknowledgement {
                    sequence_number: received as u32,
                },
                0,
            );
        }
        Ok(message)
    }

    /// Handles the control messages both roles treat alike; returns what the session
    /// itself should see.
    pub fn handle_control(&mut self, control: &ControlMessage) {
        match control {
            ControlMessage::WindowAckSize(size) => self.ack_window = *size,
            ControlMessage::UserControl(UserControlEvent::PingRequest(t)) => {
                self.send_user_control(UserControlEvent::PingResponse(*t))
            }
            _ => {}
        }
    }

    pub fn decode_control(&self, message: &RawMessage) -> Result<Option<ControlMessage>> {
        Ok(ControlMessage::decode(
            message.header.type_id,
            &message.payload,
        )?)
    }
}

/// Rejects a session call made before the handshake finished.
pub(crate) fn not_connected() -> Error {
    Error::InvalidState("the session is not connected")
}

/// Gives back the memory of a queue that grew for a burst (a late joiner's GOP) once it is
/// empty again: thousands of idle players should not each keep a burst's worth.
pub(crate) fn shrink_idle<T>(queue: &mut VecDeque<T>) {
    const KEEP: usize = 8;
    if queue.is_empty() && queue.capacity() > 4 * KEEP {
        queue.shrink_to(KEEP);
    }
}
