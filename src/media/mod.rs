//! Media packaging: FLV tags and files, codec configuration records, Enhanced RTMP.
//! Sans-IO like the protocol layer.

pub mod aac;
pub mod av1;
pub mod avc;
pub mod enhanced;
pub mod flv;
pub mod hevc;
pub mod opus;
pub mod vpx;
