//! The relay hub: a registry of live streams, each with one publisher, a GOP cache and
//! the players reading from it.
//!
//! A stream is a log of [`Frame`]s with sequence numbers. The publisher appends; every
//! player keeps a cursor into the log and its worker copies frame handles (never payload
//! bytes) from the cursor into the player's session. The log keeps the current and the
//! previous GOP, so a player that is briefly late loses nothing, and a player that falls a
//! whole GOP behind skips to the newest keyframe: it loses whole GOPs, never part of one,
//! and the publisher and the other players never wait for it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::media::flv;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::DataMessage;
use crate::session::MediaKind;

/// One audio or video message: an FLV tag body with its timestamp and what the relay
/// needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: MediaKind,
    /// Milliseconds, as the publisher sent it.
    pub timestamp: u32,
    /// A video frame a decoder can start at (always false for audio).
    pub keyframe: bool,
    /// A codec configuration record (AVC/HEVC/AV1 sequence header, AAC AudioSpecificConfig).
    pub sequence_header: bool,
    /// The FLV tag body, shared by every reader.
    pub payload: Bytes,
}

impl Frame {
    /// Classifies an FLV tag body (legacy or Enhanced RTMP) as it arrived from a publisher.
    pub fn from_tag(kind: MediaKind, timestamp: u32, payload: Bytes) -> Self {
        let (keyframe, sequence_header) = classify(kind, &payload);
        Frame {
            kind,
            timestamp,
            keyframe,
            sequence_header,
            payload,
        }
    }
}

/// Reads the keyframe and sequence-header flags from an FLV tag body's first bytes:
/// legacy or Enhanced RTMP, through ModEx blocks and multitrack headers. A keyframe carries
/// a picture (an end of sequence with frame type 1 is not one).
fn classify(kind: MediaKind, body: &[u8]) -> (bool, bool) {
    match kind {
        // One parse per frame: this runs for every frame a publisher sends.
        MediaKind::Video => flv::video_tag_info(body).map_or((false, false), |info| {
            (
                info.is_keyframe(),
                info.packet == flv::VideoPacket::SequenceHeader,
            )
        }),
        MediaKind::Audio => (false, flv::audio_is_sequence_header(body)),
    }
}

/// The latest sequence header of each audio and video track (E-RTMP v2 multitrack
/// streams have one per track id), in the order the tracks appeared: what a player
/// joining a stream, or a publisher resuming one, must send before media.
#[derive(Debug, Clone, Default)]
pub struct SequenceHeaders(Vec<((MediaKind, u8), Frame)>);

impl SequenceHeaders {
    /// Keeps `header` as its track's latest.
    pub fn remember(&mut self, header: &Frame) {
        let track = flv::ex_fourcc_and_track(&header.payload, header.kind == MediaKind::Video)
            .map_or(0, |(_, track)| track);
        let key = (header.kind, track);
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = header.clone(),
            None => self.0.push((key, header.clone())),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Frame> {
        self.0.iter().map(|(_, frame)| frame)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Who publishes a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublisherId {
    /// An RTMP connection.
    Connection(u64),
    /// The embedding application, through a local publisher.
    Local(u64),
}

/// Counters of one stream, readable from any thread.
#[derive(Debug, Default)]
pub struct StreamCounters {
    pub frames_in: AtomicU64,
    pub bytes_in: AtomicU64,
}

/// What a stream without keyframes keeps: its players can only join at the head, so the
/// log serves players that stall for a moment (about a minute of 128 kbit/s audio).
const KEYFRAMELESS_CACHE_BYTES: usize = 1 << 20;

/// Bounds on what a stream keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Bytes of media the log keeps at most (two GOPs normally fit many times over).
    pub max_cached_bytes: usize,
    /// Whether new streams start tapped (their frames reported to the application).
    pub tap_all: bool,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_cached_bytes: 32 << 20,
            tap_all: false,
        }
    }
}

/// The mutable part of a stream, behind its lock.
#[derive(Debug, Default)]
pub struct StreamLog {
    pub publisher: Option<PublisherId>,
    /// Increments on every publish, so players notice a republish.
    pub generation: u64,
    pub metadata: Option<Amf0Value>,
    /// `metadata` as the `onMetaData` body players get, encoded once for all of them.
    metadata_body: Option<Bytes>,
    /// Increments whenever the metadata changes, so players resend it.
    metadata_version: u64,
    /// The latest sequence header of each track, for players that join.
    pub headers: SequenceHeaders,
    frames: VecDeque<Frame>,
    /// Sequence number of `frames[0]`.
    base: u64,
    /// Sequence numbers of the keyframes in the log, oldest first.
    keyframes: VecDeque<u64>,
    cached_bytes: usize,
}

impl StreamLog {
    /// Sequence number the next frame will get.
    pub fn head(&self) -> u64 {
        self.base + self.frames.len() as u64
    }

    /// Replaces the stream's metadata.
    pub fn set_metadata(&mut self, metadata: Amf0Value) {
        self.metadata_body = Some(DataMessage::on_metadata(metadata.clone()).encode());
        self.metadata = Some(metadata);
        self.metadata_version += 1;
    }

    /// The metadata as an encoded `onMetaData` message body, shared by every player.
    pub fn metadata_body(&self) -> Option<Bytes> {
        self.metadata_body.clone()
    }

    /// Changes whenever [`set_metadata`](Self::set_metadata) is called.
    pub fn metadata_version(&self) -> u64 {
        self.metadata_version
    }

    /// Sequence number of the oldest frame still kept.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Where a player joining now starts: the newest keyframe (the GOP cache), or the
    /// head if there is none yet (audio-only streams start at once).
    pub fn join_point(&self) -> u64 {
        self.keyframes
            .back()
            .copied()
            .unwrap_or_else(|| self.head())
    }

    /// Frames from `cursor` on, at most `max`; `cursor` must be >= base.
    pub fn frames_from(&self, cursor: u64, max: usize, out: &mut Vec<Frame>) {
        let start = cursor.saturating_sub(self.base) as usize;
        out.extend(self.frames.iter().skip(start).take(max).cloned());
    }

    /// Where a player at `cursor` should continue: itself if its frames are still here,
    /// otherwise the newest keyframe (it lost the frames in between).
    pub fn resume_point(&self, cursor: u64) -> u64 {
        if cursor >= self.base {
            cursor
        } else {
            self.join_point()
        }
    }

    /// Appends a frame and trims the log to the previous GOP and the byte bound.
    pub fn push(&mut self, frame: Frame, limits: &StreamLimits) {
        if frame.sequence_header {
            self.headers.remember(&frame);
        }
        if frame.keyframe {
            self.keyframes.push_back(self.head());
            // Keep the previous GOP for players a little behind; older ones go.
            if self.keyframes.len() > 2 {
                self.keyframes.pop_front();
                let keep_from = self.keyframes[0];
                self.drop_until(keep_from);
            }
        }
        self.cached_bytes += frame.payload.len();
        self.frames.push_back(frame);
        // Without a keyframe (audio-only streams, codecs whose keyframes are not known)
        // a joiner starts at the head: the log only serves short stalls.
        let bound = if self.keyframes.is_empty() {
            limits.max_cached_bytes.min(KEYFRAMELESS_CACHE_BYTES)
        } else {
            limits.max_cached_bytes
        };
        while self.cached_bytes > bound && !self.frames.is_empty() {
            // Over the bound: drop whole GOPs from the front (or everything before the
            // last keyframe if only one is left).
            let next_keyframe = self.keyframes.iter().copied().find(|&k| k > self.base);
            match next_keyframe {
                Some(k) => self.drop_until(k),
                // No GOPs to keep whole: just the oldest frame.
                None if self.keyframes.is_empty() => self.drop_until(self.base + 1),
                None => {
                    let head = self.head();
                    self.drop_until(head);
                }
            }
        }
    }

    fn drop_until(&mut self, seq: u64) {
        while self.base < seq {
            match self.frames.pop_front() {
                Some(f) => self.cached_bytes -= f.payload.len(),
                None => break,
            }
            self.base += 1;
        }
        self.base = self.base.max(seq.min(self.head()));
        while self.keyframes.front().is_some_and(|&k| k < self.base) {
            self.keyframes.pop_front();
        }
    }

    /// Forgets the media of the last publish (headers stay until replaced, so a player
    /// that reconnects to a republished stream gets the new ones).
    fn reset_media(&mut self) {
        let head = self.head();
        self.frames.clear();
        self.keyframes.clear();
        self.cached_bytes = 0;
        self.base = head;
        self.metadata = None;
        self.metadata_body = None;
        self.headers.clear();
    }
}

/// One live stream: `app/name`.
#[derive(Debug)]
pub struct Stream {
    key: String,
    log: Mutex<StreamLog>,
    /// Per worker: whether the worker has players of this stream, and whether a wake-up
    /// for it is already on its way (so a burst of frames costs one wake-up).
    watchers: Vec<AtomicU64>,
    wake_pending: Vec<AtomicBool>,
    tapped: AtomicBool,
    pub counters: StreamCounters,
}

impl Stream {
    /// `app/name`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Locks the stream's log.
    pub fn log(&self) -> parking_lot::MutexGuard<'_, StreamLog> {
        self.log.lock()
    }

    /// Whether the application asked for this stream's frames.
    pub fn is_tapped(&self) -> bool {
        self.tapped.load(Ordering::Relaxed)
    }

    /// Players of this stream on all workers.
    pub fn players(&self) -> u64 {
        self.watchers
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .sum()
    }

    /// Registers or unregisters a player on `worker`.
    pub fn watch(&self, worker: usize, add: bool) {
        if let Some(count) = self.watchers.get(worker) {
            if add {
                count.fetch_add(1, Ordering::Relaxed);
            } else {
                count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Workers that have players of this stream and have no wake-up pending for it; marks
    /// them pending. The caller wakes them.
    pub fn workers_to_wake(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.watchers.len()).filter(|&w| {
            self.watchers[w].load(Ordering::Relaxed) > 0
                && !self.wake_pending[w].swap(true, Ordering::AcqRel)
        })
    }

    /// Called by a worker before it reads new frames, so the next frame wakes it again.
    pub fn clear_wake(&self, worker: usize) {
        if let Some(flag) = self.wake_pending.get(worker) {
            flag.store(false, Ordering::Release);
        }
    }
}

/// Why a publish was refused by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishRefused {
    /// Someone else publishes this stream.
    AlreadyPublished,
}

/// The registry of streams, shared by all workers.
#[derive(Debug)]
pub struct Hub {
    streams: Mutex<HashMap<String, Arc<Stream>>>,
    workers: usize,
    limits: StreamLimits,
    next_local: AtomicU64,
}

impl Hub {
    pub fn new(workers: usize, limits: StreamLimits) -> Self {
        Hub {
            streams: Mutex::new(HashMap::new()),
            workers,
            limits,
            next_local: AtomicU64::new(1),
        }
    }

    pub fn limits(&self) -> &StreamLimits {
        &self.limits
    }

    /// The stream key for an application and stream name. Query strings (`?token=...`)
    /// are not part of the name.
    pub fn key(app: &str, name: &str) -> String {
        let name = name.split('?').next().unwrap_or(name);
        format!("{app}/{name}")
    }

    /// The stream for `key`, created if needed.
    pub fn stream(&self, key: &str) -> Arc<Stream> {
        let mut streams = self.streams.lock();
        streams
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Stream {
                    key: key.to_owned(),
                    log: Mutex::new(StreamLog::default()),
                    watchers: (0..self.workers).map(|_| AtomicU64::new(0)).collect(),
                    wake_pending: (0..self.workers).map(|_| AtomicBool::new(false)).collect(),
                    tapped: AtomicBool::new(self.limits.tap_all),
                    counters: StreamCounters::default(),
                })
            })
            .clone()
    }

    /// The stream for `key` if it exists.
    pub fn get(&self, key: &str) -> Option<Arc<Stream>> {
        self.streams.lock().get(key).cloned()
    }

    /// A fresh id for a local publisher.
    pub fn local_publisher_id(&self) -> PublisherId {
        PublisherId::Local(self.next_local.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes `publisher` the publisher of `key`, or refuses if someone else is.
    pub fn claim(&self, key: &str, publisher: PublisherId) -> Result<Arc<Stream>, PublishRefused> {
        let stream = self.stream(key);
        {
            let mut log = stream.log();
            match log.publisher {
                Some(p) if p != publisher => return Err(PublishRefused::AlreadyPublished),
                _ => {}
            }
            log.reset_media();
            log.publisher = Some(publisher);
            log.generation += 1;
        }
        Ok(stream)
    }

    /// Ends `publisher`'s publish of `stream`; returns false if it was not the publisher.
    pub fn release(&self, stream: &Stream, publisher: PublisherId) -> bool {
        let mut log = stream.log();
        if log.publisher != Some(publisher) {
            return false;
        }
        log.publisher = None;
        true
    }

    /// Marks a stream's frames as wanted (or not) by the application.
    pub fn set_tap(&self, key: &str, on: bool) {
        self.stream(key).tapped.store(on, Ordering::Relaxed);
    }

    /// Drops streams nobody publishes or plays, so the registry does not grow forever.
    pub fn collect_idle(&self) {
        self.streams.lock().retain(|_, s| {
            Arc::strong_count(s) > 1
                || s.log().publisher.is_some()
                || s.is_tapped()
                || s.watchers.iter().any(|w| w.load(Ordering::Relaxed) > 0)
        });
    }

    /// Keys and logs' summary of the streams, for statistics.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams.lock().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(ts: u32, keyframe: bool, len: usize) -> Frame {
        let first = if keyframe { 0x17 } else { 0x27 };
        let mut body = vec![first, 1, 0, 0, 0];
        body.resize(len.max(5), 0);
        Frame::from_tag(MediaKind::Video, ts, body.into())
    }

    #[test]
    fn joiners_get_the_latest_header_of_every_track() {
        use crate::media::encoder::{AudioCodec, AudioPackager};
        let adts = [0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3];
        let mut log = StreamLog::default();
        let limits = StreamLimits::default();
        for track in [0u8, 1, 2] {
            let mut packager = AudioPackager::with_track(AudioCodec::Aac, track).unwrap();
            for frame in packager.package(&adts, 0).unwrap() {
                log.push(frame, &limits);
            }
        }
        // A new header for track 1 replaces only track 1's.
        let mut again = AudioPackager::with_track(AudioCodec::AacRaw, 1).unwrap();
        again.set_config(&[0x12, 0x10]).unwrap();
        for frame in again.package(&[9], 40).unwrap() {
            log.push(frame, &limits);
        }
        let headers: Vec<_> = log.headers.iter().collect();
        assert_eq!(headers.len(), 3);
        let tracks: Vec<_> = headers
            .iter()
            .map(|h| crate::media::flv::ex_fourcc_and_track(&h.payload, false).map(|(_, t)| t))
            .collect();
        assert_eq!(tracks, [None, Some(1), Some(2)]);
        assert_eq!(headers[1].timestamp, 40);
    }

    #[test]
    fn classifies_legacy_and_enhanced_tags() {
        let c = |kind, body: &[u8]| classify(kind, body);
        assert_eq!(c(MediaKind::Video, &[0x17, 0, 0, 0, 0]), (false, true));
        assert_eq!(c(MediaKind::Video, &[0x17, 1, 0, 0, 0]), (true, false));
        assert_eq!(c(MediaKind::Video, &[0x27, 1, 0, 0, 0]), (false, false));
        // Enhanced RTMP: 0x80 | frame type 1 << 4 | packet type.
        assert_eq!(
            c(MediaKind::Video, &[0x90, b'h', b'v', b'c', b'1']),
            (false, true)
        );
        assert_eq!(
            c(MediaKind::Video, &[0x91, b'h', b'v', b'c', b'1']),
            (true, false)
        );
        assert_eq!(
            c(MediaKind::Video, &[0x93, b'a', b'v', b'0', b'1']),
            (true, false)
        );
        assert_eq!(c(MediaKind::Audio, &[0xAF, 0, 0x12, 0x10]), (false, true));
        assert_eq!(c(MediaKind::Audio, &[0xAF, 1, 0x21]), (false, false));
        assert_eq!(
            c(MediaKind::Audio, &[0x90, b'O', b'p', b'u', b's']),
            (false, true)
        );
        assert_eq!(
            c(MediaKind::Audio, &[0x91, b'O', b'p', b'u', b's']),
            (false, false)
        );
        assert_eq!(c(MediaKind::Audio, &[]), (false, false));
    }

    #[test]
    fn log_keeps_the_current_and_previous_gop() {
        let limits = StreamLimits::default();
        let mut log = StreamLog::default();
        for i in 0..30u32 {
            log.push(video(i * 33, i % 10 == 0, 100), &limits);
        }
        // Keyframes at 0, 10, 20: the log keeps two GOPs from 10; joiners start at 20.
        assert_eq!(log.base(), 10);
        assert_eq!(log.head(), 30);
        assert_eq!(log.join_point(), 20);
        assert_eq!(log.resume_point(5), 20);
        assert_eq!(log.resume_point(15), 15);
        let mut out = Vec::new();
        log.frames_from(25, 100, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].timestamp, 25 * 33);
    }

    #[test]
    fn an_audio_only_log_keeps_a_megabyte_not_the_whole_bound() {
        let mut log = StreamLog::default();
        let limits = StreamLimits::default();
        for ts in 0..10_000u32 {
            let body = Bytes::from([0xAF, 1, 0x21, 0x10].repeat(256));
            log.push(Frame::from_tag(MediaKind::Audio, ts, body), &limits);
        }
        assert!(
            log.cached_bytes <= KEYFRAMELESS_CACHE_BYTES,
            "{}",
            log.cached_bytes
        );
        assert!(log.cached_bytes > KEYFRAMELESS_CACHE_BYTES - 2048);
        assert_eq!(log.join_point(), log.head());
    }

    #[test]
    fn log_respects_its_byte_bound_by_dropping_whole_gops() {
        let limits = StreamLimits {
            max_cached_bytes: 2_500,
            ..StreamLimits::default()
        };
        let mut log = StreamLog::default();
        for i in 0..40u32 {
            log.push(video(i, i % 10 == 0, 100), &limits);
        }
        assert!(log.cached_bytes <= 2_500);
        // What is left starts at a keyframe.
        let mut out = Vec::new();
        log.frames_from(log.base(), 1, &mut out);
        assert!(out[0].keyframe);
    }

    #[test]
    fn second_publisher_is_refused_and_first_keeps_the_stream() {
        let hub = Hub::new(2, StreamLimits::default());
        let a = PublisherId::Connection(1);
        let b = PublisherId::Connection(2);
        let stream = hub.claim("live/x", a).unwrap();
        assert_eq!(
            hub.claim("live/x", b).unwrap_err(),
            PublishRefused::AlreadyPublished
        );
        assert!(!hub.release(&stream, b));
        assert_eq!(stream.log().publisher, Some(a));
        assert!(hub.release(&stream, a));
        assert!(hub.claim("live/x", b).is_ok());
        assert_eq!(stream.log().generation, 2);
    }

    #[test]
    fn wake_ups_are_coalesced_per_worker() {
        let hub = Hub::new(3, StreamLimits::default());
        let stream = hub.stream("live/x");
        stream.watch(0, true);
        stream.watch(2, true);
        assert_eq!(stream.workers_to_wake().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(stream.workers_to_wake().count(), 0);
        stream.clear_wake(2);
        assert_eq!(stream.workers_to_wake().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn stream_keys_ignore_query_strings() {
        assert_eq!(Hub::key("live", "cam?token=abc"), "live/cam");
    }
}
