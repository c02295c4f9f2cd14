use proptest::prelude::*;

use super::*;
use crate::protocol::amf::AmfLimits;

fn limits() -> AmfLimits {
    AmfLimits::default()
}

fn encoded(value: &Amf3Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

fn decode_one(bytes: &[u8]) -> Result<Amf3Value, AmfError> {
    let mut values = decode_all(bytes, limits())?;
    assert_eq!(values.len(), 1, "{values:?}");
    Ok(values.remove(0))
}

fn u29(value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_u29(value, &mut out);
    out
}

fn dynamic(props: Vec<(&str, Amf3Value)>) -> Amf3Value {
    Amf3Value::Object(Amf3Object {
        dynamic: true,
        dynamic_props: props.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ..Amf3Object::default()
    })
}

fn dense(items: Vec<Amf3Value>) -> Amf3Value {
    Amf3Value::Array {
        assoc: Vec::new(),
        dense: items,
    }
}

#[test]
fn u29_boundaries() {
    let cases: [(u32, &[u8]); 10] = [
        (0, b"\x00"),
        (0x7f, b"\x7f"),
        (0x80, b"\x81\x00"),
        (0x3fff, b"\xff\x7f"),
        (0x4000, b"\x81\x80\x00"),
        (0x1f_ffff, b"\xff\xff\x7f"),
        (0x20_0000, b"\x80\xc0\x80\x00"),
        (0x0fff_ffff, b"\xbf\xff\xff\xff"),
        (0x1000_0000, b"\xc0\x80\x80\x00"),
        (0x1fff_ffff, b"\xff\xff\xff\xff"),
    ];
    for (value, bytes) in cases {
        assert_eq!(u29(value), bytes, "{value:#x}");
        let mut cur = Cursor::new(bytes, 0);
        assert_eq!(read_u29(&mut cur), Ok(value));
        assert_eq!(cur.pos, bytes.len());
    }
    // Non-shortest forms are accepted.
    assert_eq!(read_u29(&mut Cursor::new(b"\x80\x01", 0)), Ok(1));
    assert_eq!(
        read_u29(&mut Cursor::new(b"\x80\x80", 0)),
        Err(AmfError::UnexpectedEof)
    );
}

#[test]
fn integers() {
    let cases: [(i32, &[u8]); 10] = [
        (0, b"\x04\x00"),
        (0x7f, b"\x04\x7f"),
        (0x80, b"\x04\x81\x00"),
        (0x3fff, b"\x04\xff\x7f"),
        (0x4000, b"\x04\x81\x80\x00"),
        (0x1f_ffff, b"\x04\xff\xff\x7f"),
        (0x20_0000, b"\x04\x80\xc0\x80\x00"),
        (INTEGER_MAX, b"\x04\xbf\xff\xff\xff"),
        (-1, b"\x04\xff\xff\xff\xff"),
        (INTEGER_MIN, b"\x04\xc0\x80\x80\x00"),
    ];
    for (value, bytes) in cases {
        assert_eq!(encoded(&Amf3Value::Integer(value)), bytes, "{value}");
        assert_eq!(decode_one(bytes), Ok(Amf3Value::Integer(value)));
    }
    // Outside 29 bits: a double.
    for value in [INTEGER_MAX + 1, INTEGER_MIN - 1, i32::MAX, i32::MIN] {
        let bytes = encoded(&Amf3Value::Integer(value));
        assert_eq!(bytes[0], 0x05);
        assert_eq!(decode_one(&bytes), Ok(Amf3Value::Double(f64::from(value))));
    }
}

#[test]
fn scalar_and_flat_vectors() {
    let cases: Vec<(Amf3Value, &[u8])> = vec![
        (Amf3Value::Undefined, b"\x00"),
        (Amf3Value::Null, b"\x01"),
        (false.into(), b"\x02"),
        (true.into(), b"\x03"),
        (
            Amf3Value::Double(1.5),
            b"\x05\x3f\xf8\x00\x00\x00\x00\x00\x00",
        ),
        ("".into(), b"\x06\x01"),
        ("hello".into(), b"\x06\x0bhello"),
        (Amf3Value::XmlDocument("<a/>".into()), b"\x07\x09<a/>"),
        (
            Amf3Value::Date(1.0),
            b"\x08\x01\x3f\xf0\x00\x00\x00\x00\x00\x00",
        ),
        (Amf3Value::Xml("<b/>".into()), b"\x0b\x09<b/>"),
        (Amf3Value::ByteArray(vec![1, 2, 3]), b"\x0c\x07\x01\x02\x03"),
        (
            Amf3Value::VectorInt {
                fixed: false,
                items: vec![1, -1],
            },
            b"\x0d\x05\x00\x00\x00\x00\x01\xff\xff\xff\xff",
        ),
        (
            Amf3Value::VectorUInt {
                fixed: true,
                items: vec![u32::MAX],
            },
            b"\x0e\x03\x01\xff\xff\xff\xff",
        ),
        (
            Amf3Value::VectorDouble {
                fixed: false,
                items: vec![1.0],
            },
            b"\x0f\x03\x00\x3f\xf0\x00\x00\x00\x00\x00\x00",
        ),
        (
            Amf3Value::VectorObject {
                fixed: false,
                type_name: "*".into(),
                items: vec![Amf3Value::Integer(1), Amf3Value::Null],
            },
            b"\x10\x05\x00\x03*\x04\x01\x01",
        ),
        (
            Amf3Value::Dictionary {
                weak_keys: false,
                entries: vec![("k".into(), Amf3Value::Integer(5))],
            },
            b"\x11\x03\x00\x06\x03k\x04\x05",
        ),
        (
            Amf3Value::Array {
                assoc: vec![("a".into(), Amf3Value::Null)],
                dense: vec![Amf3Value::True],
            },
            b"\x09\x03\x03a\x01\x01\x03",
        ),
    ];
    for (value, bytes) in cases {
        assert_eq!(encoded(&value), bytes, "{value:?}");
        assert_eq!(decode_one(bytes), Ok(value));
    }
}

#[test]
fn string_references() {
    // ["abc", "abc", "", ""]: the repeat is a reference, the empty string never is.
    let value = dense(vec!["abc".into(), "abc".into(), "".into(), "".into()]);
    let bytes = b"\x09\x09\x01\x06\x07abc\x06\x00\x06\x01\x06\x01";
    assert_eq!(encoded(&value), bytes);
    assert_eq!(decode_one(bytes), Ok(value));
    // Keys and values share the table: {a: "a"}.
    let value = dynamic(vec![("a", "a".into())]);
    let bytes = b"\x0a\x0b\x01\x03a\x06\x00\x01";
    assert_eq!(encoded(&value), bytes);
    assert_eq!(decode_one(bytes), Ok(value));
}

#[test]
fn traits_references() {
    let point = |x, y| {
        Amf3Value::Object(Amf3Object {
            class_name: "Point".into(),
            sealed: vec![
                ("x".into(), Amf3Value::Integer(x)),
                ("y".into(), Amf3Value::Integer(y)),
            ],
            ..Amf3Object::default()
        })
    };
    let value = dense(vec![point(1, 2), point(3, 4)]);
    // 0x23: 2 sealed members, not dynamic, inline traits. 0x01: traits reference 0.
    let bytes = b"\x09\x05\x01\x0a\x23\x0bPoint\x03x\x03y\x04\x01\x04\x02\x0a\x01\x04\x03\x04\x04";
    assert_eq!(encoded(&value), bytes);
    assert_eq!(decode_one(bytes), Ok(value));
    // Two anonymous dynamic objects share traits too.
    let value = dense(vec![dynamic(vec![]), dynamic(vec![])]);
    let bytes = b"\x09\x05\x01\x0a\x0b\x01\x01\x0a\x01\x01";
    assert_eq!(encoded(&value), bytes);
    assert_eq!(decode_one(bytes), Ok(value));
}

#[test]
fn object_references_resolve_to_copies() {
    // [obj, ref 1]: the array itself is object 0.
    let bytes = b"\x09\x05\x01\x0a\x0b\x01\x03a\x04\x01\x01\x0a\x02";
    let obj = dynamic(vec![("a", Amf3Value::Integer(1))]);
    assert_eq!(decode_one(bytes), Ok(dense(vec![obj.clone(), obj])));
    // Every complex type is referenceable: a date, a byte array, xml and a vector, twice.
    let bytes = b"\x09\x11\x01\
        \x08\x01\x3f\xf0\x00\x00\x00\x00\x00\x00\x08\x02\
        \x0c\x03\x07\x0c\x04\
        \x0b\x03x\x0b\x06\
        \x0d\x03\x00\x00\x00\x00\x09\x0d\x08";
    let date = Amf3Value::Date(1.0);
    let bytes_value = Amf3Value::ByteArray(vec![7]);
    let xml = Amf3Value::Xml("x".into());
    let vector = Amf3Value::VectorInt {
        fixed: false,
        items: vec![9],
    };
    assert_eq!(
        decode_one(bytes),
        Ok(dense(vec![
            date.clone(),
            date,
            bytes_value.clone(),
            bytes_value,
            xml.clone(),
            xml,
            vector.clone(),
            vector
        ]))
    );
}

#[test]
fn reader_keeps_tables_across_values() {
    let values = decode_all(b"\x06\x07abc\x06\x00\x09\x01\x01\x09\x00", limits()).unwrap();
    assert_eq!(
        values,
        vec!["abc".into(), "abc".into(), dense(vec![]), dense(vec![])]
    );
    let mut reader = Amf3Reader::new(b"\x06\x07abc\x06\x00", limits());
    assert_eq!(reader.read_value(), Ok("abc".into()));
    assert_eq!(reader.position(), 5);
    assert_eq!(reader.remaining(), b"\x06\x00");
    assert_eq!(reader.read_value(), Ok("abc".into()));
    assert!(reader.is_empty());

    let mut writer = Amf3Writer::new();
    let mut out = Vec::new();
    writer.write_value(&"abc".into(), &mut out);
    writer.write_value(&"abc".into(), &mut out);
    assert_eq!(out, b"\x06\x07abc\x06\x00");
}

#[test]
fn externalizable() {
    // A Flex ArrayCollection wraps one array.
    let bytes = b"\x0a\x07\x43flex.messaging.io.ArrayCollection\x09\x03\x01\x04\x01";
    let value = Amf3Value::Object(Amf3Object {
        class_name: "flex.messaging.io.ArrayCollection".into(),
        externalizable: Some(Box::new(dense(vec![Amf3Value::Integer(1)]))),
        ..Amf3Object::default()
    });
    assert_eq!(encoded(&value), bytes);
    assert_eq!(decode_one(bytes), Ok(value.clone()));
    // Twice: the second uses the traits reference.
    let twice = dense(vec![value.clone(), value]);
    assert_eq!(decode_one(&encoded(&twice)), Ok(twice));
    // Anything else has a private format.
    assert_eq!(
        decode_one(b"\x0a\x07\x07Foo\x01"),
        Err(AmfError::Externalizable("Foo".into()))
    );
}

#[test]
fn invalid_references() {
    for (bytes, index) in [
        (&b"\x06\x02"[..], 1),                    // string table empty
        (b"\x0a\x01", 0),                         // traits table empty
        (b"\x09\x04", 2),                         // object table empty
        (b"\x08\x00", 0),                         // date reference
        (b"\x09\x03\x01\x09\x02", 1),             // array 0 refers to 1, not defined yet
        (b"\x06\x03a\x0a\x0b\x02\x01", 1),        // class name: string 1 of 1
        (b"\x0a\x0b\x01\x01\x0a\x05\x01\x01", 1), // traits 1 of 1
    ] {
        assert_eq!(
            decode_all(bytes, limits()),
            Err(AmfError::InvalidReference(index)),
            "{bytes:x?}"
        );
    }
}

#[test]
fn cycles_are_rejected() {
    // An object whose property "a" is itself.
    assert_eq!(
        decode_one(b"\x0a\x0b\x01\x03a\x0a\x00\x01"),
        Err(AmfError::CyclicReference(0))
    );
    // An array containing an array containing the outer one.
    assert_eq!(
        decode_one(b"\x09\x03\x01\x09\x03\x01\x09\x00"),
        Err(AmfError::CyclicReference(0))
    );
}

/// `[a0, a1, ...]` where `a0 = []` and each `a(k) = [a(k-1)]` by reference, so the decoded
/// tree is `count` levels deep although no definition is.
fn reference_chain(count: u32) -> Vec<u8> {
    let mut bytes = vec![ARRAY];
    bytes.extend(u29((count << 1) | 1));
    bytes.extend(b"\x01\x09\x01\x01");
    for k in 1..count {
        bytes.extend(b"\x09\x03\x01\x09");
        bytes.extend(u29(k << 1)); // a(k-1) is object k
    }
    bytes
}

#[test]
fn references_cannot_nest_deeper_than_the_limit() {
    let value = decode_one(&reference_chain(4)).unwrap();
    let a0 = dense(vec![]);
    let a1 = dense(vec![a0.clone()]);
    let a2 = dense(vec![a1.clone()]);
    let a3 = dense(vec![a2.clone()]);
    assert_eq!(value, dense(vec![a0, a1, a2, a3]));
    assert_eq!(
        decode_all(&reference_chain(64), limits()),
        Err(AmfError::DepthLimit)
    );
}

#[test]
fn reference_doubling_hits_the_element_limit() {
    // a0 = ["x"], a(k) = [a(k-1), a(k-1)]: 2^k values from a few bytes each.
    let levels = 24;
    let mut bytes = vec![ARRAY];
    bytes.extend(u29((levels << 1) | 1));
    bytes.extend(b"\x01\x09\x03\x01\x06\x03x");
    for k in 1..levels {
        bytes.extend(b"\x09\x05\x01\x09");
        bytes.extend(u29(k << 1));
        bytes.push(ARRAY);
        bytes.extend(u29(k << 1));
    }
    assert_eq!(decode_all(&bytes, limits()), Err(AmfError::ElementLimit));
}

#[test]
fn string_references_are_charged() {
    let big = "s".repeat(60_000);
    let mut bytes = vec![ARRAY];
    bytes.extend(u29((100 << 1) | 1));
    bytes.extend(b"\x01\x06");
    bytes.extend(u29((60_000 << 1) | 1));
    bytes.extend(big.as_bytes());
    for _ in 1..100 {
        bytes.extend(b"\x06\x00");
    }
    assert_eq!(decode_all(&bytes, limits()), Err(AmfError::ExpansionLimit));
    // A few copies are fine.
    let bytes = encoded(&dense(vec![big.as_str().into(); 3]));
    assert!(bytes.len() < 60_020);
    assert_eq!(decode_one(&bytes), Ok(dense(vec![big.as_str().into(); 3])));
}

#[test]
fn depth_bomb_is_rejected() {
    for unit in [
        &b"\x09\x03\x01"[..], // array of one
        b"\x0a\x0b\x01\x03a", // dynamic object {a: ...}
        b"\x11\x03\x00",      // dictionary keyed by the next one
        b"\x10\x03\x00\x01",  // Vector.<*> of one
        b"\x0a\x07\x43flex.messaging.io.ArrayCollection",
    ] {
        let bomb = unit.repeat(10_000);
        assert_eq!(decode_all(&bomb, limits()), Err(AmfError::DepthLimit));
    }
}

#[test]
fn element_bomb_is_rejected() {
    let mut bomb = vec![ARRAY];
    bomb.extend(u29((70_000 << 1) | 1));
    bomb.push(0x01);
    bomb.resize(bomb.len() + 70_000, NULL);
    assert_eq!(decode_all(&bomb, limits()), Err(AmfError::ElementLimit));
}

#[test]
fn huge_declared_lengths_fail_fast() {
    for bytes in [
        &b"\x06\xff\xff\xff\xffabc"[..],
        b"\x0c\xff\xff\xff\xffabc",
        b"\x0b\xff\xff\xff\xffabc",
        b"\x0d\xff\xff\xff\xff\x00abc",
        b"\x0f\xff\xff\xff\xff\x00abc",
        b"\x09\xff\xff\xff\xff\x01\x01\x01",
        b"\x10\xff\xff\xff\xff\x00\x01\x01\x01",
        b"\x11\xff\xff\xff\xff\x00\x01\x01\x01",
        b"\x0a\xff\xff\xff\xf3\x01\x03a",
    ] {
        assert_eq!(
            decode_all(bytes, limits()),
            Err(AmfError::UnexpectedEof),
            "{bytes:x?}"
        );
    }
}

#[test]
fn unknown_marker() {
    assert_eq!(
        decode_all(b"\x12", limits()),
        Err(AmfError::UnknownMarker(0x12))
    );
}

#[test]
fn unrepresentable_values_are_written_safely() {
    let mut writer = Amf3Writer::with_max_len(4);
    let mut out = Vec::new();
    let object = |class_name: &str, sealed: &str| {
        Amf3Value::Object(Amf3Object {
            class_name: class_name.into(),
            sealed: vec![(sealed.into(), Amf3Value::Null)],
            ..Amf3Object::default()
        })
    };
    for value in [
        Amf3Value::String("hello".into()),
        Amf3Value::Xml("hello".into()),
        Amf3Value::ByteArray(vec![0; 5]),
        dense(vec![Amf3Value::Null; 5]),
        object("hello", "x"),
        object("C", "hello"),
    ] {
        out.clear();
        writer.write_value(&value, &mut out);
        assert_eq!(out, [UNDEFINED], "{value:?}");
    }
    // Keys that cannot be written are skipped, the rest of the object survives.
    let value = Amf3Value::Array {
        assoc: vec![
            ("".into(), Amf3Value::Null),
            ("hello".into(), Amf3Value::Null),
            ("ok".into(), Amf3Value::True),
        ],
        dense: vec![],
    };
    out.clear();
    writer.write_value(&value, &mut out);
    assert_eq!(
        decode_all(&out, limits()),
        Ok(vec![Amf3Value::Array {
            assoc: vec![("ok".into(), Amf3Value::True)],
            dense: vec![]
        }])
    );
    // dynamic_props are never dropped for want of the dynamic flag.
    let value = Amf3Value::Object(Amf3Object {
        dynamic: false,
        dynamic_props: vec![("k".into(), Amf3Value::Null)],
        ..Amf3Object::default()
    });
    assert_eq!(
        decode_one(&encoded(&value)),
        Ok(dynamic(vec![("k", Amf3Value::Null)]))
    );
}

#[test]
fn accessors() {
    assert_eq!(Amf3Value::Integer(3).as_f64(), Some(3.0));
    assert_eq!(Amf3Value::Double(0.5).as_f64(), Some(0.5));
    assert_eq!(Amf3Value::from("s").as_str(), Some("s"));
    assert_eq!(Amf3Value::True.as_bool(), Some(true));
    assert_eq!(Amf3Value::Null.as_bool(), None);
    let object = Amf3Object {
        sealed: vec![("a".into(), Amf3Value::Null)],
        dynamic_props: vec![("b".into(), Amf3Value::True)],
        ..Amf3Object::default()
    };
    assert_eq!(object.get("b"), Some(&Amf3Value::True));
    assert_eq!(object.get("c"), None);
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN never compares equal", |f| !f.is_nan())
}

/// Arbitrary AMF3 trees whose strings, class names and member names come from small sets, so
/// string and traits references occur often.
pub(crate) fn arb_amf3() -> impl Strategy<Value = Amf3Value> {
    use prop::collection::vec;
    let leaf = prop_oneof![
        Just(Amf3Value::Undefined),
        Just(Amf3Value::Null),
        Just(Amf3Value::False),
        Just(Amf3Value::True),
        (INTEGER_MIN..=INTEGER_MAX).prop_map(Amf3Value::Integer),
        finite().prop_map(Amf3Value::Double),
        prop_oneof!["[ab]{0,2}", ".{0,8}"].prop_map(Amf3Value::String),
        ".{0,8}".prop_map(Amf3Value::XmlDocument),
        finite().prop_map(Amf3Value::Date),
        ".{0,8}".prop_map(Amf3Value::Xml),
        vec(any::<u8>(), 0..8).prop_map(Amf3Value::ByteArray),
        (any::<bool>(), vec(any::<i32>(), 0..4))
            .prop_map(|(fixed, items)| Amf3Value::VectorInt { fixed, items }),
        (any::<bool>(), vec(any::<u32>(), 0..4))
            .prop_map(|(fixed, items)| Amf3Value::VectorUInt { fixed, items }),
        (any::<bool>(), vec(finite(), 0..4))
            .prop_map(|(fixed, items)| Amf3Value::VectorDouble { fixed, items }),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let props = vec(("[ab]{1,2}", inner.clone()), 0..4);
        let class_name = prop_oneof![Just(""), Just("Point"), Just("a")];
        prop_oneof![
            (props.clone(), vec(inner.clone(), 0..4))
                .prop_map(|(assoc, dense)| Amf3Value::Array { assoc, dense }),
            (
                class_name,
                vec(("[xy]{0,1}", inner.clone()), 0..3),
                any::<bool>(),
                props,
            )
                .prop_map(|(class_name, sealed, dynamic, props)| {
                    Amf3Value::Object(Amf3Object {
                        class_name: class_name.into(),
                        dynamic,
                        sealed,
                        dynamic_props: if dynamic { props } else { Vec::new() },
                        externalizable: None,
                    })
                }),
            (
                prop::sample::select(&SINGLE_VALUE_EXTERNALIZABLE[..]),
                inner.clone()
            )
                .prop_map(|(class_name, value)| {
                    Amf3Value::Object(Amf3Object {
                        class_name: class_name.into(),
                        externalizable: Some(Box::new(value)),
                        ..Amf3Object::default()
                    })
                }),
            (any::<bool>(), "[ab*]{0,2}", vec(inner.clone(), 0..4)).prop_map(
                |(fixed, type_name, items)| Amf3Value::VectorObject {
                    fixed,
                    type_name,
                    items
                }
            ),
            (any::<bool>(), vec((inner.clone(), inner), 0..3))
                .prop_map(|(weak_keys, entries)| Amf3Value::Dictionary { weak_keys, entries }),
        ]
    })
}

proptest! {
    #[test]
    fn round_trip(values in prop::collection::vec(arb_amf3(), 0..4)) {
        let mut writer = Amf3Writer::new();
        let mut bytes = Vec::new();
        for value in &values {
            writer.write_value(value, &mut bytes);
        }
        prop_assert_eq!(decode_all(&bytes, limits()), Ok(values));
    }

    #[test]
    fn truncation_never_succeeds(value in arb_amf3()) {
        let bytes = encoded(&value);
        for end in 0..bytes.len() {
            let mut reader = Amf3Reader::new(&bytes[..end], limits());
            prop_assert!(reader.read_value().is_err());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&bytes, limits());
    }

    #[test]
    fn mutated_encodings_never_panic(
        value in arb_amf3(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encoded(&value);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode_all(&bytes, limits());
    }
}
