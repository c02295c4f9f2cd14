//! Output waiting for a socket: handshake bytes and chunked messages, written with
//! vectored writes straight from the shared payloads. Generic over `io::Write`, so the
//! same queue serves the library's own runtime and applications that drive a session
//! over a socket of their own.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use super::Outgoing;

/// How many slices one vectored write takes at most (Linux's IOV_MAX is 1024).
const MAX_IOVECS: usize = 256;

/// A queue of [`Outgoing`] items that writes itself to a non-blocking socket, resuming
/// partial writes where they stopped.
///
/// ```
/// use rtmp_core::session::{ClientConfig, ClientSession, WriteQueue};
///
/// let mut session = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"), [0; 32], 0);
/// let mut queue = WriteQueue::default();
/// while let Some(out) = session.poll_transmit() {
///     queue.push(out);
/// }
/// let mut socket = Vec::new(); // any io::Write; a TcpStream in practice
/// queue.flush(&mut socket).unwrap();
/// assert_eq!(socket.len(), 1 + 1536); // C0 + C1
/// ```
#[derive(Debug, Default)]
pub struct WriteQueue {
    items: VecDeque<Outgoing>,
    /// Bytes of `items[0]` already written.
    offset: usize,
    bytes: usize,
    written_total: u64,
}

impl WriteQueue {
    /// Adds an item at the end.
    pub fn push(&mut self, item: Outgoing) {
        self.bytes += item.len();
        self.items.push_back(item);
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes written since creation.
    pub fn written(&self) -> u64 {
        self.written_total
    }

    /// Writes until the queue is empty or the socket would block. `Ok(0)` from the socket
    /// is reported as `WriteZero`.
    pub fn flush(&mut self, socket: &mut impl Write) -> io::Result<()> {
        while !self.items.is_empty() {
            match self.write_some(socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.consume(written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn write_some(&mut self, socket: &mut impl Write) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        let mut offset = self.offset;
        'fill: for item in &self.items {
            match item {
                Outgoing::Raw(bytes) => {
                    slices[count] = IoSlice::new(&bytes[offset..]);
                    count += 1;
                }
                Outgoing::Message(message) => {
                    for segment in message.segments_from(offset) {
                        slices[count] = IoSlice::new(segment);
                        count += 1;
                        if count == MAX_IOVECS {
                            break 'fill;
                        }
                    }
                }
            }
            offset = 0;
            if count == MAX_IOVECS {
                break;
            }
        }
        socket.write_vectored(&slices[..count])
    }

    fn consume(&mut self, mut written: usize) {
        self.written_total += written as u64;
        self.bytes -= written;
        while written > 0 {
            let Some(front) = self.items.front() else {
                break;
            };
            let left = front.len() - self.offset;
            if written < left {
                self.offset += written;
                return;
            }
            written -= left;
            self.offset = 0;
            self.items.pop_front();
        }
        super::transport::shrink_idle(&mut self.items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::chunk::{ChunkEncoder, MessageHeader};

    /// A socket that takes at most `limit` bytes per write, then blocks after `budget`.
    struct Trickle {
        out: Vec<u8>,
        limit: usize,
        budget: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.limit - n).min(self.budget);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                self.budget -= take;
                if n == self.limit || self.budget == 0 {
                    break;
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut expected = b"handshake".to_vec();
        let mut queue = WriteQueue::default();
        queue.push(Outgoing::Raw(bytes::Bytes::from_static(b"handshake")));
        let mut encoder = ChunkEncoder::new();
        for i in 0..20u32 {
            let header = MessageHeader {
                chunk_stream_id: 6,
                timestamp: i * 40,
                type_id: 9,
                stream_id: 1,
            };
            let m = encoder.encode(&header, vec![i as u8; 300 + i as usize * 50].into());
            m.write_to(&mut expected);
            queue.push(Outgoing::Message(m));
        }
        let mut socket = Trickle {
            out: Vec::new(),
            limit: 97,
            budget: 5000,
        };
        queue.flush(&mut socket).unwrap();
        assert_eq!(queue.len(), expected.len() - 5000);
        socket.budget = usize::MAX;
        queue.flush(&mut socket).unwrap();
        assert!(queue.is_empty());
        assert_eq!(socket.out, expected);
        assert_eq!(queue.written(), expected.len() as u64);
    }
}
