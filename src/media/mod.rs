//! Media packaging: FLV tags and files, codec configuration records, Enhanced RTMP.
//! Sans-IO like the protocol layer.
//!
//! Tag headers: [`enhanced`] (Enhanced RTMP, plus the error and output types every codec
//! module shares) and [`legacy`] (pre-2023 FLV). NAL-unit plumbing H.264 and HEVC share:
//! [`nal`]. One module per codec: [`aac`], [`av1`], [`avc`], [`hevc`], [`opus`], [`vpx`].
//! One call per frame for any codec: [`encoder`] (encoder output to tag bodies) and
//! [`decoder`] (tag bodies to decoder input).
//! FLV files and tag inspection: [`flv`].

pub mod aac;
pub mod av1;
pub mod avc;
pub mod decoder;
pub mod encoder;
pub mod enhanced;
pub mod flv;
pub mod hevc;
pub mod legacy;
pub mod nal;
pub mod opus;
pub mod vpx;
