//! Fuzz target `amf3`: AMF3 decoding and re-encoding.
//!
//! Input: `[flags] [AMF3 bytes]`. flags bits 0-4 pick the `AmfLimits`
//! (`common::amf_limits`); bit 6 also runs the bytes through the AMF0 checks behind an
//! AVM+ switch marker (0x11), the way AMF3 arrives inside AMF0 commands.
//!
//! Checks: `decode_all` and an `Amf3Reader` loop never panic and agree; the decoded values,
//! written with one `Amf3Writer` (tables shared across values, as in one message), decode
//! again and re-encode to the same bytes; and each value alone, written with
//! `amf3::encode` (fresh tables), decodes to one value that re-encodes to the same bytes.
//! Encodings are compared, not values (NaN != NaN).

use rtmp_core::protocol::amf::{AmfError, AmfLimits};
use rtmp_core::protocol::amf3::{self, Amf3Reader, Amf3Value, Amf3Writer};

use super::common;

pub fn run(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let limits = common::amf_limits(flags);
    values(body, limits);
    if flags & 0x40 != 0 {
        let mut wrapped = Vec::with_capacity(body.len() + 1);
        wrapped.push(0x11);
        wrapped.extend_from_slice(body);
        super::amf0::values(&wrapped, limits);
    }
}

/// Writes `values` with one writer, as consecutive values of one message.
fn write_all(values: &[Amf3Value]) -> Vec<u8> {
    let mut writer = Amf3Writer::new();
    let mut out = Vec::new();
    for value in values {
        writer.write_value(value, &mut out);
    }
    out
}

pub fn values(body: &[u8], limits: AmfLimits) {
    let all = amf3::decode_all(body, limits);

    let mut reader = Amf3Reader::new(body, limits);
    let mut read = Vec::new();
    let mut error: Option<AmfError> = None;
    while !reader.is_empty() {
        let before = reader.position();
        match reader.read_value() {
            Ok(value) => {
                assert!(reader.position() > before, "a value consumed nothing");
                assert_eq!(reader.position() + reader.remaining().len(), body.len());
                read.push(value);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }

    let values = match all {
        Ok(values) => values,
        Err(e) => {
            assert_eq!(error, Some(e), "decode_all and the reader disagree");
            return;
        }
    };
    assert_eq!(error, None, "decode_all succeeded where the reader failed");
    let encoded = write_all(&values);
    assert!(
        encoded == write_all(&read),
        "decode_all and the reader disagree"
    );

    let relaxed = common::relaxed_limits(limits, body.len());
    let again = amf3::decode_all(&encoded, relaxed)
        .unwrap_or_else(|e| panic!("re-encoded AMF3 does not decode: {e:?}"));
    assert_eq!(again.len(), values.len());
    assert!(
        write_all(&again) == encoded,
        "AMF3 encoding is not a fixed point after one round"
    );

    for value in &values {
        let mut alone = Vec::new();
        amf3::encode(value, &mut alone);
        let again = amf3::decode_all(&alone, relaxed)
            .unwrap_or_else(|e| panic!("a value encoded alone does not decode: {e:?}"));
        assert_eq!(
            again.len(),
            1,
            "a value encoded alone decodes to {} values",
            again.len()
        );
        let mut twice = Vec::new();
        amf3::encode(&again[0], &mut twice);
        assert!(
            twice == alone,
            "AMF3 encoding of one value is not a fixed point"
        );
    }
}
