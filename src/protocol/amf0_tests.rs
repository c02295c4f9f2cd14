use super::*;
use crate::protocol::amf3::tests::arb_amf3;
use proptest::prelude::*;

fn limits() -> AmfLimits {
    AmfLimits::default()
}

fn encoded(value: &Amf0Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

/// The body of the `connect` command ffmpeg (libavformat 61.7.100) sends when publishing.
const FFMPEG_CONNECT: &[u8] = b"\x02\x00\x07connect\
    \x00\x3f\xf0\x00\x00\x00\x00\x00\x00\
    \x03\
    \x00\x03app\x02\x00\x04live\
    \x00\x04type\x02\x00\x0anonprivate\
    \x00\x08flashVer\x02\x00\x23FMLE/3.0 (compatible; Lavf61.7.100)\
    \x00\x05tcUrl\x02\x00\x1artmp://127.0.0.1:1935/live\
    \x00\x00\x09";

fn ffmpeg_connect() -> Vec<Amf0Value> {
    vec![
        "connect".into(),
        1.0.into(),
        Amf0Value::object([
            ("app", "live".into()),
            ("type", "nonprivate".into()),
            ("flashVer", "FMLE/3.0 (compatible; Lavf61.7.100)".into()),
            ("tcUrl", "rtmp://127.0.0.1:1935/live".into()),
        ]),
    ]
}

/// `@setDataFrame` + `onMetaData` as an encoder sends it before the first frame.
const ON_METADATA: &[u8] = b"\x02\x00\x0d@setDataFrame\
    \x02\x00\x0aonMetaData\
    \x08\x00\x00\x00\x06\
    \x00\x08duration\x00\x00\x00\x00\x00\x00\x00\x00\x00\
    \x00\x05width\x00\x40\x94\x00\x00\x00\x00\x00\x00\
    \x00\x06height\x00\x40\x86\x80\x00\x00\x00\x00\x00\
    \x00\x09framerate\x00\x40\x3e\x00\x00\x00\x00\x00\x00\
    \x00\x0cvideocodecid\x00\x40\x1c\x00\x00\x00\x00\x00\x00\
    \x00\x07encoder\x02\x00\x0cLavf61.7.100\
    \x00\x00\x09";

fn on_metadata() -> Vec<Amf0Value> {
    vec![
        "@setDataFrame".into(),
        "onMetaData".into(),
        Amf0Value::EcmaArray(vec![
            ("duration".into(), 0.0.into()),
            ("width".into(), 1280.0.into()),
            ("height".into(), 720.0.into()),
            ("framerate".into(), 30.0.into()),
            ("videocodecid".into(), 7.0.into()),
            ("encoder".into(), "Lavf61.7.100".into()),
        ]),
    ]
}

#[test]
fn ffmpeg_connect_is_byte_exact() {
    let mut out = Vec::new();
    encode_all(&ffmpeg_connect(), &mut out);
    assert_eq!(out, FFMPEG_CONNECT);
    let decoded = decode_all(FFMPEG_CONNECT, limits()).unwrap();
    assert_eq!(decoded, ffmpeg_connect());
    assert_eq!(decoded[0].as_str(), Some("connect"));
    assert_eq!(decoded[1].as_f64(), Some(1.0));
    assert_eq!(
        decoded[2].get("tcUrl").and_then(Amf0Value::as_str),
        Some("rtmp://127.0.0.1:1935/live")
    );
    assert_eq!(decoded[2].get("missing"), None);
}

#[test]
fn on_metadata_is_byte_exact() {
    let mut out = Vec::new();
    encode_all(&on_metadata(), &mut out);
    assert_eq!(out, ON_METADATA);
    assert_eq!(decode_all(ON_METADATA, limits()).unwrap(), on_metadata());
}

#[test]
fn reader_walks_values_one_by_one() {
    let mut body = FFMPEG_CONNECT.to_vec();
    body.extend_from_slice(b"trailing media");
    let mut reader = Amf0Reader::new(&body, limits());
    assert_eq!(reader.read_value().unwrap().as_str(), Some("connect"));
    assert_eq!(reader.position(), 10);
    reader.read_value().unwrap();
    reader.read_value().unwrap();
    assert_eq!(reader.position(), FFMPEG_CONNECT.len());
    assert_eq!(reader.remaining(), b"trailing media");
    assert!(!reader.is_empty());
}

#[test]
fn scalar_vectors() {
    let cases: Vec<(Amf0Value, &[u8])> = vec![
        (true.into(), b"\x01\x01"),
        (false.into(), b"\x01\x00"),
        (Amf0Value::Null, b"\x05"),
        (Amf0Value::Undefined, b"\x06"),
        (Amf0Value::Unsupported, b"\x0d"),
        (
            Amf0Value::Date {
                millis: 1.0,
                time_zone: -60,
            },
            b"\x0b\x3f\xf0\x00\x00\x00\x00\x00\x00\xff\xc4",
        ),
        (
            Amf0Value::LongString("ab".into()),
            b"\x0c\x00\x00\x00\x02ab",
        ),
        (
            Amf0Value::XmlDocument("<a/>".into()),
            b"\x0f\x00\x00\x00\x04<a/>",
        ),
        (
            Amf0Value::StrictArray(vec![Amf0Value::Null, true.into()]),
            b"\x0a\x00\x00\x00\x02\x05\x01\x01",
        ),
        (
            Amf0Value::TypedObject {
                class_name: "C".into(),
                properties: vec![("x".into(), Amf0Value::Null)],
            },
            b"\x10\x00\x01C\x00\x01x\x05\x00\x00\x09",
        ),
        (
            Amf0Value::AvmPlus(crate::protocol::amf3::Amf3Value::String("hi".into())),
            b"\x11\x06\x05hi",
        ),
    ];
    for (value, bytes) in cases {
        assert_eq!(encoded(&value), bytes, "{value:?}");
        assert_eq!(decode_all(bytes, limits()).unwrap(), vec![value]);
    }
}

#[test]
fn references_are_kept_and_checked() {
    // An object, then a reference to it (index 0).
    let bytes = b"\x03\x00\x00\x09\x07\x00\x00";
    let values = decode_all(bytes, limits()).unwrap();
    assert_eq!(values[1], Amf0Value::Reference(0));
    assert_eq!(encoded(&values[1]), b"\x07\x00\x00");
    // Nothing defined yet.
    assert_eq!(
        decode_all(b"\x07\x00\x00", limits()),
        Err(AmfError::InvalidReference(0))
    );
    assert_eq!(
        decode_all(b"\x0a\x00\x00\x00\x01\x07\x00\x01", limits()),
        Err(AmfError::InvalidReference(1))
    );
}

#[test]
fn accessors() {
    let obj = Amf0Value::object([("a", 1.0.into()), ("b", true.into())]);
    assert_eq!(obj.get("b").and_then(Amf0Value::as_bool), Some(true));
    assert_eq!(obj.properties().map(<[_]>::len), Some(2));
    assert_eq!(Amf0Value::LongString("x".into()).as_str(), Some("x"));
    assert_eq!(Amf0Value::Null.as_str(), None);
    assert_eq!(Amf0Value::Null.get("a"), None);
    assert!(Amf0Value::Undefined.is_null_or_undefined());
    let ecma = Amf0Value::EcmaArray(vec![("k".into(), "v".into())]);
    assert_eq!(ecma.get("k").and_then(Amf0Value::as_str), Some("v"));
    assert_eq!(
        Amf0Value::from(String::from("s")),
        Amf0Value::String("s".into())
    );
}

#[test]
fn ecma_count_is_only_a_hint() {
    // Count says 0 but two entries follow; count says 1000 but one entry follows.
    let lying_low = b"\x08\x00\x00\x00\x00\x00\x01a\x05\x00\x01b\x06\x00\x00\x09";
    let lying_high = b"\x08\x00\x00\x03\xe8\x00\x01a\x05\x00\x00\x09";
    assert_eq!(
        decode_all(lying_low, limits()).unwrap(),
        vec![Amf0Value::EcmaArray(vec![
            ("a".into(), Amf0Value::Null),
            ("b".into(), Amf0Value::Undefined)
        ])]
    );
    assert_eq!(
        decode_all(lying_high, limits()).unwrap(),
        vec![Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)])]
    );
}

#[test]
fn empty_key_with_a_value_is_a_property() {
    let value = Amf0Value::object([("", 1.0.into()), ("b", Amf0Value::Null)]);
    let bytes = encoded(&value);
    assert_eq!(&bytes[..4], b"\x03\x00\x00\x00");
    assert_eq!(decode_all(&bytes, limits()).unwrap(), vec![value]);
}

#[test]
fn non_utf8_strings_decode_lossily() {
    // "Caf\xe9" is Latin-1, as some encoders write metadata.
    let values = decode_all(b"\x02\x00\x04Caf\xe9", limits()).unwrap();
    assert_eq!(values[0].as_str(), Some("Caf\u{fffd}"));
}

#[test]
fn long_strings_switch_marker() {
    let long = "x".repeat(70_000);
    let bytes = encoded(&Amf0Value::String(long.clone()));
    assert_eq!(&bytes[..5], b"\x0c\x00\x01\x11\x70");
    assert_eq!(
        decode_all(&bytes, limits()).unwrap(),
        vec![Amf0Value::LongString(long)]
    );
    let max = "y".repeat(65_535);
    let bytes = encoded(&Amf0Value::String(max.clone()));
    assert_eq!(&bytes[..3], b"\x02\xff\xff");
    assert_eq!(
        decode_all(&bytes, limits()).unwrap(),
        vec![Amf0Value::String(max)]
    );
}

#[test]
fn unrepresentable_keys_are_skipped() {
    let long_key = "k".repeat(70_000);
    let value = Amf0Value::EcmaArray(vec![
        ("a".into(), 1.0.into()),
        (long_key.clone(), 2.0.into()),
        ("b".into(), 3.0.into()),
    ]);
    let bytes = encoded(&value);
    // The count covers only what was written.
    assert_eq!(&bytes[..5], b"\x08\x00\x00\x00\x02");
    assert_eq!(
        decode_all(&bytes, limits()).unwrap(),
        vec![Amf0Value::EcmaArray(vec![
            ("a".into(), 1.0.into()),
            ("b".into(), 3.0.into())
        ])]
    );
    let typed = Amf0Value::TypedObject {
        class_name: long_key,
        properties: vec![("a".into(), Amf0Value::Null)],
    };
    assert_eq!(
        decode_all(&encoded(&typed), limits()).unwrap(),
        vec![Amf0Value::object([("a", Amf0Value::Null)])]
    );
}

#[test]
fn bad_markers() {
    assert_eq!(
        decode_all(b"\x04", limits()),
        Err(AmfError::UnsupportedMarker(4))
    );
    assert_eq!(
        decode_all(b"\x0e", limits()),
        Err(AmfError::UnsupportedMarker(0x0e))
    );
    assert_eq!(
        decode_all(b"\x12", limits()),
        Err(AmfError::UnknownMarker(0x12))
    );
    assert_eq!(
        decode_all(b"\x09", limits()),
        Err(AmfError::UnexpectedObjectEnd)
    );
    assert_eq!(
        decode_all(b"\x11\x14", limits()),
        Err(AmfError::UnknownMarker(0x14))
    );
}

#[test]
fn depth_bomb_is_rejected() {
    for unit in [
        &b"\x03\x00\x01a"[..],
        b"\x0a\x00\x00\x00\x01",
        b"\x08\x00\x00\x00\x01\x00\x01a",
    ] {
        let bomb = unit.repeat(10_000);
        assert_eq!(decode_all(&bomb, limits()), Err(AmfError::DepthLimit));
    }
    // Exactly at the limit is fine.
    let mut ok = b"\x0a\x00\x00\x00\x01".repeat(32);
    ok.push(0x05);
    assert!(decode_all(&ok, limits()).is_ok());
    ok.splice(0..0, b"\x0a\x00\x00\x00\x01".iter().copied());
    assert_eq!(decode_all(&ok, limits()), Err(AmfError::DepthLimit));
    // AMF3 nesting inside AMF0 counts towards the same limit.
    let mut mixed = b"\x03\x00\x01a".repeat(20);
    mixed.push(0x11);
    mixed.extend(b"\x09\x03\x01".repeat(20));
    assert_eq!(decode_all(&mixed, limits()), Err(AmfError::DepthLimit));
}

#[test]
fn element_bomb_is_rejected() {
    let mut bomb = b"\x0a\x00\x01\x11\x70".to_vec(); // 70_000 items
    bomb.resize(bomb.len() + 70_000, 0x05);
    assert_eq!(decode_all(&bomb, limits()), Err(AmfError::ElementLimit));
    // The budget spans the reader, not one value.
    let nulls = vec![0x05; 70_000];
    assert_eq!(decode_all(&nulls, limits()), Err(AmfError::ElementLimit));
    let small = AmfLimits {
        max_depth: 4,
        max_elements: 3,
    };
    assert!(decode_all(b"\x0a\x00\x00\x00\x02\x05\x05", small).is_ok());
    assert_eq!(
        decode_all(b"\x0a\x00\x00\x00\x03\x05\x05\x05", small),
        Err(AmfError::ElementLimit)
    );
}

#[test]
fn huge_declared_lengths_fail_fast() {
    for bytes in [
        &b"\x0c\xff\xff\xff\xffabc"[..],
        b"\x0f\xff\xff\xff\xffabc",
        b"\x02\xff\xffabc",
        b"\x0a\xff\xff\xff\xff\x05\x05",
        b"\x08\xff\xff\xff\xff\x00\x01a\x05",
        b"\x10\xff\xffab",
        b"\x03\xff\xffab",
    ] {
        assert_eq!(decode_all(bytes, limits()), Err(AmfError::UnexpectedEof));
    }
}

#[test]
fn every_truncation_of_connect_fails() {
    for value in ffmpeg_connect().iter().chain(&on_metadata()) {
        let bytes = encoded(value);
        for end in 0..bytes.len() {
            let mut reader = Amf0Reader::new(&bytes[..end], limits());
            assert!(reader.read_value().is_err(), "prefix of {end} bytes");
        }
    }
}

/// Replaces each reference by one the decoder accepts: an index below the number of complex
/// values begun before it, in encoding order.
fn fix_references(value: &mut Amf0Value, begun: &mut u16) {
    match value {
        Amf0Value::Reference(index) => {
            if *begun == 0 {
                *value = Amf0Value::Null;
            } else {
                *index %= *begun;
            }
        }
        Amf0Value::Object(props)
        | Amf0Value::EcmaArray(props)
        | Amf0Value::TypedObject {
            properties: props, ..
        } => {
            *begun += 1;
            props.iter_mut().for_each(|(_, v)| fix_references(v, begun));
        }
        Amf0Value::StrictArray(items) => {
            *begun += 1;
            items.iter_mut().for_each(|v| fix_references(v, begun));
        }
        _ => {}
    }
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN never compares equal", |f| !f.is_nan())
}

fn arb_amf0() -> impl Strategy<Value = Amf0Value> {
    let leaf = prop_oneof![
        finite().prop_map(Amf0Value::Number),
        any::<bool>().prop_map(Amf0Value::Boolean),
        ".{0,12}".prop_map(Amf0Value::String),
        Just(Amf0Value::Null),
        Just(Amf0Value::Undefined),
        any::<u16>().prop_map(Amf0Value::Reference),
        (finite(), any::<i16>())
            .prop_map(|(millis, time_zone)| Amf0Value::Date { millis, time_zone }),
        ".{0,12}".prop_map(Amf0Value::LongString),
        Just(Amf0Value::Unsupported),
        ".{0,12}".prop_map(Amf0Value::XmlDocument),
        arb_amf3().prop_map(Amf0Value::AvmPlus),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let props = prop::collection::vec((".{0,6}", inner.clone()), 0..6);
        prop_oneof![
            props.clone().prop_map(Amf0Value::Object),
            props.clone().prop_map(Amf0Value::EcmaArray),
            prop::collection::vec(inner, 0..6).prop_map(Amf0Value::StrictArray),
            (".{0,6}", props).prop_map(|(class_name, properties)| Amf0Value::TypedObject {
                class_name,
                properties
            }),
        ]
    })
}

fn arb_message() -> impl Strategy<Value = Vec<Amf0Value>> {
    prop::collection::vec(arb_amf0(), 0..4).prop_map(|mut values| {
        let mut begun = 0;
        values
            .iter_mut()
            .for_each(|v| fix_references(v, &mut begun));
        values
    })
}

proptest! {
    #[test]
    fn round_trip(values in arb_message()) {
        let mut bytes = Vec::new();
        encode_all(&values, &mut bytes);
        prop_assert_eq!(decode_all(&bytes, limits()), Ok(values));
    }

    #[test]
    fn truncation_never_succeeds(values in arb_message()) {
        let Some(first) = values.first() else { return Ok(()) };
        let bytes = encoded(first);
        for end in 0..bytes.len() {
            let mut reader = Amf0Reader::new(&bytes[..end], limits());
            prop_assert!(reader.read_value().is_err());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&bytes, limits());
    }

    #[test]
    fn mutated_encodings_never_panic(
        values in arb_message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Vec::new();
        encode_all(&values, &mut bytes);
        if !bytes.is_empty() {
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
        }
        let _ = decode_all(&bytes, limits());
    }
}
