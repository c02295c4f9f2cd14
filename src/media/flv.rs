//! FLV files and tags (being written).
