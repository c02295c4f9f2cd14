use super::*;

fn round_trip(command: NetCommand) {
    let bytes = command.clone().encode();
    let raw = Command::decode(&bytes, false, AmfLimits::default()).unwrap();
    assert_eq!(NetCommand::from_command(raw).unwrap(), command);
}

#[test]
fn every_typed_command_round_trips() {
    let mut connect = Connect::new("live", "rtmp://127.0.0.1:1935/live");
    connect.set(
        "fourCcList",
        Amf0Value::StrictArray(vec!["av01".into(), "hvc1".into(), "vp09".into()]),
    );
    connect.set("capsEx", Amf0Value::Number(caps_ex::RECONNECT as f64));
    let commands = vec![
        NetCommand::Connect(connect),
        NetCommand::Result {
            transaction_id: 4.0,
            properties: Amf0Value::Null,
            info: Amf0Value::Number(1.0),
        },
        NetCommand::Error {
            transaction_id: 1.0,
            properties: Amf0Value::Null,
            info: Status::new(StatusLevel::Error, status_code::CONNECT_REJECTED, "no").to_amf(),
        },
        NetCommand::OnStatus(
            Status::new(
                StatusLevel::Status,
                status_code::PUBLISH_START,
                "Start publishing",
            )
            .with("details", "key"),
        ),
        NetCommand::CreateStream {
            transaction_id: 4.0,
        },
        NetCommand::ReleaseStream {
            transaction_id: 2.0,
            stream_name: "key".into(),
        },
        NetCommand::FcPublish {
            transaction_id: 3.0,
            stream_name: "key".into(),
        },
        NetCommand::FcUnpublish {
            transaction_id: 6.0,
            stream_name: "key".into(),
        },
        NetCommand::Publish {
            transaction_id: 5.0,
            stream_name: "key".into(),
            publish_type: PublishType::Record,
        },
        NetCommand::Play {
            transaction_id: 5.0,
            stream_name: "key".into(),
            start: -2.0,
            duration: -1.0,
            reset: true,
        },
        NetCommand::Play2 {
            transaction_id: 0.0,
            parameters: Amf0Value::object([("streamName", Amf0Value::from("key"))]),
        },
        NetCommand::Pause {
            transaction_id: 0.0,
            pause: true,
            position_ms: 1234.0,
        },
        NetCommand::Seek {
            transaction_id: 0.0,
            position_ms: 5000.0,
        },
        NetCommand::DeleteStream {
            transaction_id: 0.0,
            stream_id: 1.0,
        },
        NetCommand::CloseStream {
            transaction_id: 0.0,
        },
        NetCommand::ReceiveAudio { enable: false },
        NetCommand::ReceiveVideo { enable: true },
        NetCommand::GetStreamLength {
            transaction_id: 3.0,
            stream_name: "vod".into(),
        },
        NetCommand::OnBwDone,
        NetCommand::CheckBw {
            transaction_id: 0.0,
        },
        NetCommand::Other(Command::new("myCustomCall", 9.0, vec!["x".into()])),
    ];
    for command in commands {
        round_trip(command);
    }
}

#[test]
fn connect_exposes_enhanced_rtmp_capabilities() {
    let mut connect = Connect::new("app", "rtmp://h/app");
    connect.set(
        "fourCcList",
        Amf0Value::StrictArray(vec!["hvc1".into(), "av01".into()]),
    );
    connect.set("capsEx", Amf0Value::Number(3.0));
    assert_eq!(connect.fourcc_list(), vec!["hvc1", "av01"]);
    assert_eq!(
        connect.caps_ex(),
        Some(caps_ex::RECONNECT | caps_ex::MULTITRACK)
    );
    assert_eq!(connect.app(), "app");
    assert_eq!(connect.tc_url(), Some("rtmp://h/app"));
    assert_eq!(connect.object_encoding(), 0.0);
}

#[test]
fn publish_bytes_are_what_ffmpeg_sends() {
    // ffmpeg: publish(tx 5, null, "key", "live")
    let bytes = NetCommand::Publish {
        transaction_id: 5.0,
        stream_name: "key".into(),
        publish_type: PublishType::Live,
    }
    .encode();
    let expected: &[u8] = &[
        0x02, 0x00, 0x07, b'p', b'u', b'b', b'l', b'i', b's', b'h', // "publish"
        0x00, 0x40, 0x14, 0, 0, 0, 0, 0, 0,    // 5.0
        0x05, // null
        0x02, 0x00, 0x03, b'k', b'e', b'y', // "key"
        0x02, 0x00, 0x04, b'l', b'i', b'v', b'e', // "live"
    ];
    assert_eq!(&bytes[..], expected);
}

#[test]
fn amf3_command_bodies_skip_the_format_byte() {
    let body = NetCommand::CreateStream {
        transaction_id: 2.0,
    }
    .encode();
    let mut amf3 = vec![0u8];
    amf3.extend_from_slice(&body);
    let raw = Command::decode(&amf3, true, AmfLimits::default()).unwrap();
    assert_eq!(
        NetCommand::from_command(raw).unwrap(),
        NetCommand::CreateStream {
            transaction_id: 2.0
        }
    );
}

#[test]
fn commands_missing_required_fields_are_errors() {
    let publish = Command::new("publish", 5.0, vec![]);
    assert!(matches!(
        NetCommand::from_command(publish),
        Err(CommandError::MissingField {
            command: "publish",
            ..
        })
    ));
    assert!(matches!(
        Command::decode(
            &[0x00, 0x40, 0x14, 0, 0, 0, 0, 0, 0],
            false,
            AmfLimits::default()
        ),
        Err(CommandError::MissingName)
    ));
    assert!(Command::decode(&[0x02, 0x00, 0x09, b'x'], false, AmfLimits::default()).is_err());
}

#[test]
fn metadata_from_both_data_message_forms() {
    let meta = Amf0Value::EcmaArray(vec![
        ("width".into(), Amf0Value::Number(1280.0)),
        ("videocodecid".into(), Amf0Value::Number(7.0)),
    ]);
    for message in [
        DataMessage::set_data_frame(meta.clone()),
        DataMessage::on_metadata(meta.clone()),
    ] {
        let decoded = DataMessage::decode(&message.encode(), false, AmfLimits::default()).unwrap();
        assert_eq!(decoded.metadata(), Some(&meta));
    }
    let other = DataMessage {
        name: "onTextData".into(),
        values: vec![Amf0Value::Null],
    };
    assert_eq!(other.metadata(), None);
}

#[test]
fn status_objects_round_trip_with_extra_properties() {
    let status = Status::new(StatusLevel::Status, status_code::CONNECT_SUCCESS, "ok")
        .with("objectEncoding", 0.0)
        .with(
            "data",
            Amf0Value::EcmaArray(vec![("version".into(), "3,5,7,7009".into())]),
        );
    assert_eq!(Status::from_amf(&status.to_amf()), Some(status));
    assert_eq!(Status::from_amf(&Amf0Value::Null), None);
}
