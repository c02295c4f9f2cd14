//! Encoder output to frames for the Python `write_video`/`write_audio` methods that
//! `Client` and `LocalPublisher` share: one packager per track, made on first use.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use rtmp_core::media::encoder::{AudioCodec, AudioPackager, VideoCodec, VideoPackager};
use rtmp_core::Frame;

use crate::errors::IntoPyResult;

#[derive(Default)]
pub struct Tracks {
    video: Option<(VideoCodec, VideoPackager)>,
    audio: Option<(AudioCodec, AudioPackager)>,
}

impl Tracks {
    /// Packages one video access unit; `dts` defaults to `pts`.
    pub fn video(
        &mut self,
        codec: &str,
        data: &[u8],
        pts: i64,
        dts: Option<i64>,
    ) -> PyResult<Vec<Frame>> {
        let codec = VideoCodec::from_name(codec).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown video codec {codec:?} (h264, hevc, av1, vp9, vp8)"
            ))
        })?;
        let packager = match &mut self.video {
            Some((current, packager)) if *current == codec => packager,
            slot => &mut slot.insert((codec, VideoPackager::new(codec))).1,
        };
        packager.package(data, pts, dts.unwrap_or(pts)).py_err()
    }

    /// Packages audio: ADTS frames for "aac", one packet for "opus".
    pub fn audio(
        &mut self,
        codec: &str,
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
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown audio codec {other:?} (aac, opus)"
                )))
            }
        };
        let packager = match &mut self.audio {
            Some((current, packager)) if *current == codec => packager,
            slot => &mut slot.insert((codec, AudioPackager::new(codec).py_err()?)).1,
        };
        packager.package(data, pts).py_err()
    }
}
