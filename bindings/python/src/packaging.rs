//! Encoder output to frames for the Python `write_video`/`write_audio` methods that
//! `Client` and `LocalPublisher` share: one packager per (codec, track), made on first
//! use.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use rtmp_core::media::encoder::{AudioCodec, AudioPackager, VideoCodec, VideoPackager};
use rtmp_core::Frame;

use crate::errors::IntoPyResult;

#[derive(Default)]
pub struct Tracks {
    video: Vec<((VideoCodec, u8), VideoPackager)>,
    audio: Vec<((AudioCodec, u8), AudioPackager)>,
}

/// The packager stored under `key`, made by `make` the first time.
fn slot<K: PartialEq, P>(
    all: &mut Vec<(K, P)>,
    key: K,
    make: impl FnOnce() -> PyResult<P>,
) -> PyResult<&mut P> {
    let at = match all.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            all.push((key, make()?));
            all.len() - 1
        }
    };
    Ok(&mut all[at].1)
}

impl Tracks {
    /// Packages one video access unit; `dts` defaults to `pts`. Track 0 is the default
    /// track; others go out as E-RTMP v2 multitrack bodies.
    pub fn video(
        &mut self,
        codec: &str,
        track: u8,
        data: &[u8],
        pts: i64,
        dts: Option<i64>,
    ) -> PyResult<Vec<Frame>> {
        let codec = VideoCodec::from_name(codec).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown video codec {codec:?} (h264, hevc, av1, vp9, vp8)"
            ))
        })?;
        let packager = slot(&mut self.video, (codec, track), || {
            VideoPackager::with_track(codec, track).py_err()
        })?;
        packager.package(data, pts, dts.unwrap_or(pts)).py_err()
    }

    /// Packages audio: ADTS frames for "aac", one packet for "opus", one frame for "mp3".
    pub fn audio(
        &mut self,
        codec: &str,
        track: u8,
        data: &[u8],
        pts: i64,
        channels: u8,
        sample_rate: u32,
    ) -> PyResult<Vec<Frame>> {
        let codec = match codec {
            "aac" => AudioCodec::Aac,
            "opus" => AudioCodec::Opus {
                channels,
                sample_rate,
            },
            "mp3" => AudioCodec::Mp3 {
                channels,
                sample_rate,
            },
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown audio codec {other:?} (aac, opus, mp3)"
                )))
            }
        };
        let packager = slot(&mut self.audio, (codec, track), || {
            AudioPackager::with_track(codec, track).py_err()
        })?;
        packager.package(data, pts).py_err()
    }
}
