//! Media packaging: FLV tags and files, codec configuration records, Enhanced RTMP.
//! Sans-IO like the protocol layer.

pub mod flv;
