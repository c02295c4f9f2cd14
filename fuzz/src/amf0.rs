//! Fuzz target `amf0`: AMF0 decoding, re-encoding, and the command / data message parsers.
//!
//! Input: `[flags] [AMF0 bytes]`. flags bits 0-4 pick the `AmfLimits` (`common::amf_limits`),
//! bit 6 reads the bytes as the body of an AMF3-flavoured message (types 17 / 15: a leading
//! format byte 0 is skipped).
//!
//! Checks: `decode_all` and an `Amf0Reader` loop never panic and agree (values, error, reader
//! position); a decoded buffer re-encodes to bytes that decode again, and encoding is a fixed
//! point after one round (`encode(decode(x)) == encode(decode(encode(decode(x))))`; encodings
//! are compared rather than values because NaN != NaN); the same for `Command`,
//! `NetCommand` and `DataMessage`.

use rtmp_core::protocol::amf::{AmfError, AmfLimits};
use rtmp_core::protocol::amf0::{self, Amf0Reader, Amf0Value};
use rtmp_core::protocol::command::{Command, CommandError, DataMessage, NetCommand};

use super::common;

pub fn run(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let limits = common::amf_limits(flags);
    values(body, limits);
    let amf3 = flags & 0x40 != 0;
    command(body, amf3, limits);
    data_message(body, amf3, limits);
}

fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    amf0::encode_all(values, &mut out);
    out
}

/// `decode_all` against a reader loop, then the re-encoding round trip.
pub fn values(body: &[u8], limits: AmfLimits) {
    let all = amf0::decode_all(body, limits);

    let mut reader = Amf0Reader::new(body, limits);
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

    match all {
        Ok(values) => {
            assert_eq!(error, None, "decode_all succeeded where the reader failed");
            let encoded = encode_all(&values);
            assert!(
                encoded == encode_all(&read),
                "decode_all and the reader disagree"
            );
            round_trip(&encoded, limits, body.len());
        }
        Err(e) => assert_eq!(error, Some(e), "decode_all and the reader disagree"),
    }
}

/// `encoded` is the encoding of values decoded from `input_len` bytes under `limits`: it must
/// decode, and encode again to the same bytes.
fn round_trip(encoded: &[u8], limits: AmfLimits, input_len: usize) {
    let relaxed = common::relaxed_limits(limits, input_len);
    let again = amf0::decode_all(encoded, relaxed)
        .unwrap_or_else(|e| panic!("re-encoded AMF0 does not decode: {e:?}"));
    assert!(
        encode_all(&again) == encoded,
        "AMF0 encoding is not a fixed point after one round"
    );
}

/// A command message body: `Command::decode`, `NetCommand::from_command`, and their
/// encodings' round trips.
///
/// AMF0 references are kept as indexes into the message's complex values, and a command
/// drops or replaces some values (a complex transaction id becomes 0, typed commands keep
/// only their own arguments), so a re-encoded command may hold a reference to a value that
/// is no longer there. That (and only that) may fail to decode again.
pub fn command(body: &[u8], amf3: bool, limits: AmfLimits) {
    let Ok(command) = Command::decode(body, amf3, limits) else {
        return;
    };
    let relaxed = common::relaxed_limits(limits, body.len() + 32);
    let encoded = command.encode();
    let Some(again) = redecode(&encoded, relaxed, "command") else {
        return;
    };
    assert!(
        again.encode() == encoded,
        "Command encoding is not a fixed point"
    );

    let Ok(typed) = NetCommand::from_command(command) else {
        return;
    };
    let encoded = typed.encode();
    let Some(again) = redecode(&encoded, relaxed, "NetCommand") else {
        return;
    };
    let typed_again = NetCommand::from_command(again)
        .unwrap_or_else(|e| panic!("encoded NetCommand does not parse again: {e:?}"));
    assert!(
        typed_again.encode() == encoded,
        "NetCommand encoding is not a fixed point"
    );
}

fn redecode(encoded: &[u8], limits: AmfLimits, what: &str) -> Option<Command> {
    match Command::decode(encoded, false, limits) {
        Ok(command) => Some(command),
        Err(CommandError::Amf(AmfError::InvalidReference(_))) => None,
        Err(e) => panic!("re-encoded {what} does not decode: {e:?}"),
    }
}

/// A data message body: `DataMessage::decode` and its encoding's round trip.
pub fn data_message(body: &[u8], amf3: bool, limits: AmfLimits) {
    let Ok(data) = DataMessage::decode(body, amf3, limits) else {
        return;
    };
    let _ = data.metadata();
    let relaxed = common::relaxed_limits(limits, body.len() + 32);
    let encoded = data.encode();
    let again = DataMessage::decode(&encoded, false, relaxed)
        .unwrap_or_else(|e| panic!("re-encoded data message does not decode: {e:?}"));
    assert!(
        again.encode() == encoded,
        "DataMessage encoding is not a fixed point"
    );
}
