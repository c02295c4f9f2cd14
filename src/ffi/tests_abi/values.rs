//! Packagers, metadata, the log callback and argument checks: no network.

use super::*;

static LOGGED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_log(
    userdata: *mut c_void,
    level: RtmpLogLevel,
    target: *const c_char,
    message: *const c_char,
) {
    assert_eq!(userdata as usize, 0x1234);
    assert!(level != RtmpLogLevel::Off);
    // SAFETY: both strings are borrowed for the call.
    let (target, _) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    if target.to_bytes().starts_with(b"rtmp_core::ffi::tests") {
        LOGGED.fetch_add(1, Ordering::AcqRel);
    }
}

#[test]
fn log_records_reach_the_c_callback_until_it_is_removed() {
    // SAFETY: count_log is thread-safe and ignores userdata beyond comparing it.
    unsafe {
        assert_eq!(
            rtmp_set_log_callback(
                RtmpLogLevel::Info as i32,
                Some(count_log),
                0x1234 as *mut c_void
            ),
            RtmpResult::Ok
        );
        // Replacing keeps exactly one C sink.
        assert_eq!(
            rtmp_set_log_callback(
                RtmpLogLevel::Info as i32,
                Some(count_log),
                0x1234 as *mut c_void
            ),
            RtmpResult::Ok
        );
    }
    log::debug!("below the level");
    log::warn!("counted once");
    assert_eq!(LOGGED.load(Ordering::Acquire), 1);
    // SAFETY: removing needs no callback.
    unsafe { rtmp_set_log_callback(RtmpLogLevel::Info as i32, None, null_mut()) };
    log::warn!("after removal");
    assert_eq!(LOGGED.load(Ordering::Acquire), 1);
}

#[test]
fn packagers_emit_headers_then_frames_and_refuse_what_they_cannot_package() {
    let mut packager = null_mut();
    let mut packets: *const RtmpPacket = null();
    let mut count = 0;
    // SAFETY: live handles and writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::Av1 as i32,
                RtmpTagFormat::Legacy as i32,
                &mut packager
            ),
            RtmpResult::InvalidArgument
        );
        assert!(packager.is_null());
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::H264 as i32,
                RtmpTagFormat::Legacy as i32,
                &mut packager
            ),
            RtmpResult::Ok
        );
        let au = annexb(&[SPS, PPS, IDR]);
        assert_eq!(
            rtmp_packager_push(
                packager,
                au.as_ptr(),
                au.len(),
                0,
                -40,
                &mut packets,
                &mut count
            ),
            RtmpResult::InvalidArgument
        );
        assert!(last_error().contains("dts -40"), "{}", last_error());
        assert_eq!(
            rtmp_packager_push(
                packager,
                au.as_ptr(),
                au.len(),
                80,
                40,
                &mut packets,
                &mut count
            ),
            RtmpResult::Ok
        );
        let out = std::slice::from_raw_parts(packets, count);
        assert_eq!(out.len(), 2);
        assert!(out[0].sequence_header && out[1].keyframe);
        assert_eq!((out[1].timestamp, out[1].composition_time), (40, 40));
        let body = std::slice::from_raw_parts(out[1].data, out[1].len);
        assert_eq!(&body[..5], [0x17, 0x01, 0, 0, 40]);
        // Configuration only: nothing to send.
        let sets = annexb(&[SPS, PPS]);
        rtmp_packager_push(
            packager,
            sets.as_ptr(),
            sets.len(),
            80,
            80,
            &mut packets,
            &mut count,
        );
        assert_eq!(count, 0);
        rtmp_packager_free(packager);

        let mut aac = null_mut();
        assert_eq!(
            rtmp_packager_new(
                RtmpCodec::AacAdts as i32,
                RtmpTagFormat::Legacy as i32,
                &mut aac
            ),
            RtmpResult::Ok
        );
        let mut two = adts(&[0x21, 0x10]);
        two.extend(adts(&[0x21, 0x11]));
        assert_eq!(
            rtmp_packager_push(
                aac,
                two.as_ptr(),
                two.len(),
                1000,
                1000,
                &mut packets,
                &mut count
            ),
            RtmpResult::Ok
        );
        let out = std::slice::from_raw_parts(packets, count);
        let times: Vec<_> = out
            .iter()
            .map(|p| (p.sequence_header, p.timestamp))
            .collect();
        assert_eq!(times, [(true, 1000), (false, 1000), (false, 1023)]);
        let header = std::slice::from_raw_parts(out[0].data, out[0].len);
        assert_eq!(header, [0xAF, 0x00, 0x12, 0x10]);
        rtmp_packager_free(aac);

        let mut raw = null_mut();
        rtmp_packager_new(
            RtmpCodec::AacRaw as i32,
            RtmpTagFormat::Enhanced as i32,
            &mut raw,
        );
        assert_eq!(
            rtmp_packager_push(raw, [0x21].as_ptr(), 1, 0, 0, &mut packets, &mut count),
            RtmpResult::InvalidArgument,
            "raw AAC needs a config first"
        );
        assert_eq!(
            rtmp_packager_set_config(raw, [0x12, 0x10].as_ptr(), 2),
            RtmpResult::Ok
        );
        assert_eq!(
            rtmp_packager_push(raw, [0x21].as_ptr(), 1, 0, 0, &mut packets, &mut count),
            RtmpResult::Ok
        );
        assert_eq!(count, 2);
        rtmp_packager_free(raw);

        let mut opus = null_mut();
        assert_eq!(
            rtmp_packager_new_opus(2, 312, 48000, &mut opus),
            RtmpResult::Ok
        );
        rtmp_packager_push(
            opus,
            [0xFC, 0xFF, 0xFE].as_ptr(),
            3,
            20,
            20,
            &mut packets,
            &mut count,
        );
        let out = std::slice::from_raw_parts(packets, count);
        assert_eq!(
            std::slice::from_raw_parts(out[1].data, out[1].len),
            b"\x91Opus\xfc\xff\xfe"
        );
        rtmp_packager_free(opus);
    }
}

#[test]
fn metadata_round_trips_through_an_flv_script_body() {
    use crate::protocol::amf0::Amf0Value;
    use crate::protocol::command::DataMessage;
    let body = DataMessage::on_metadata(Amf0Value::EcmaArray(vec![
        ("duration".into(), Amf0Value::Number(6.0)),
        ("encoder".into(), Amf0Value::String("Lavf59".into())),
    ]))
    .encode();
    let mut metadata = null_mut();
    let mut duration = 0.0;
    let mut buf = [0 as c_char; 4];
    let mut needed = 0;
    let (duration_key, encoder_key) = (
        CString::new("duration").unwrap(),
        CString::new("encoder").unwrap(),
    );
    // SAFETY: live handles and writable out-parameters throughout.
    unsafe {
        assert_eq!(
            rtmp_metadata_from_flv_body(b"\x02\x00\x01x".as_ptr(), 4, &mut metadata),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_metadata_from_flv_body(body.as_ptr(), body.len(), &mut metadata),
            RtmpResult::Ok
        );
        assert_eq!(rtmp_metadata_count(metadata), 2);
        rtmp_metadata_get_number(metadata, duration_key.as_ptr(), &mut duration);
        assert_eq!(
            rtmp_metadata_get_string(
                metadata,
                encoder_key.as_ptr(),
                buf.as_mut_ptr(),
                4,
                &mut needed
            ),
            RtmpResult::BufferTooSmall
        );
        assert_eq!(needed, 7);
        let mut big = [0 as c_char; 8];
        assert_eq!(
            rtmp_metadata_get_string(
                metadata,
                encoder_key.as_ptr(),
                big.as_mut_ptr(),
                7,
                null_mut()
            ),
            RtmpResult::Ok
        );
        assert_eq!(text(big.as_ptr()), "Lavf59");
        assert_eq!(
            rtmp_metadata_key(metadata, 1, big.as_mut_ptr(), 8, null_mut()),
            RtmpResult::Ok
        );
        assert_eq!(text(big.as_ptr()), "encoder");
        assert_eq!(
            rtmp_metadata_get_number(metadata, encoder_key.as_ptr(), &mut duration),
            RtmpResult::InvalidArgument
        );
        rtmp_metadata_free(metadata);
    }
    assert_eq!(duration, 6.0);
}

#[test]
fn enum_arguments_outside_their_values_are_refused_not_trusted() {
    let options = rtmp_client_options_new();
    let mut packager = null_mut();
    let mut frame = null_mut();
    // SAFETY: live handles and writable out-parameters; the odd values are the point.
    unsafe {
        assert_eq!(
            rtmp_client_options_publish_type(options, 7),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_client_options_handshake(options, -1),
            RtmpResult::InvalidArgument
        );
        rtmp_client_options_free(options);
        assert_eq!(
            rtmp_packager_new(99, RtmpTagFormat::Legacy as i32, &mut packager),
            RtmpResult::InvalidArgument
        );
        assert_eq!(
            rtmp_packager_new(RtmpCodec::H264 as i32, 2, &mut packager),
            RtmpResult::InvalidArgument
        );
        assert!(packager.is_null());
        assert_eq!(
            rtmp_frame_new(42, 0, [0xAF, 1].as_ptr(), 2, &mut frame),
            RtmpResult::InvalidArgument
        );
        assert!(frame.is_null());
        assert_eq!(
            rtmp_set_log_callback(6, None, null_mut()),
            RtmpResult::InvalidArgument
        );
    }
}

/// Pushes `data` through a C packager; returns (timestamp, composition time, body) of each
/// packet.
fn push(packager: *mut RtmpPackager, data: &[u8], pts: i64, dts: i64) -> Vec<(u32, i32, Vec<u8>)> {
    let mut packets: *const RtmpPacket = null();
    let mut count = 0;
    // SAFETY: a live packager, readable data, writable out-parameters; the packets are
    // read before the next push.
    unsafe {
        assert_eq!(
            rtmp_packager_push(
                packager,
                data.as_ptr(),
                data.len(),
                pts,
                dts,
                &mut packets,
                &mut count
            ),
            RtmpResult::Ok,
            "{}",
            last_error()
        );
        std::slice::from_raw_parts(packets, count)
            .iter()
            .map(|p| {
                let body = std::slice::from_raw_parts(p.data, p.len).to_vec();
                (p.timestamp, p.composition_time, body)
            })
            .collect()
    }
}

#[test]
fn c_packagers_write_exactly_what_ffmpeg_writes_for_b_frame_h264_and_adts_aac() {
    use crate::media::enhanced::tests::{annexb_access_units, fixture, flv_tags};
    use crate::media::flv::TagKind;
    use crate::media::legacy::LegacyVideoHeader;

    // x264 High profile with B-frames: pts != dts, composition offsets in every frame.
    let annexb = fixture("avc.h264");
    let units = annexb_access_units(&annexb, |n| n[0] & 0x1F == 9);
    let tags = flv_tags("avc.flv", TagKind::Video);
    let (header, frames) = tags.split_first().unwrap();
    let frames: Vec<_> = frames.iter().filter(|t| t.body[1] == 1).collect();
    assert_eq!(units.len(), frames.len());
    let mut packager = null_mut();
    // SAFETY: a writable out-parameter.
    unsafe {
        rtmp_packager_new(
            RtmpCodec::H264 as i32,
            RtmpTagFormat::Legacy as i32,
            &mut packager,
        )
    };
    let mut b_frames = 0;
    for (i, (unit, tag)) in units.iter().zip(&frames).enumerate() {
        let (h, _) = LegacyVideoHeader::parse(&tag.body).unwrap();
        let dts = tag.timestamp as i64;
        let mut out = push(packager, unit, dts + h.composition_time as i64, dts);
        if i == 0 {
            assert_eq!(out.remove(0), (tag.timestamp, 0, header.body.to_vec()));
        }
        assert_eq!(
            out,
            [(tag.timestamp, h.composition_time, tag.body.to_vec())],
            "frame {i}"
        );
        b_frames += (h.composition_time != 0) as usize;
    }
    assert!(b_frames > 10, "the fixture has composition offsets");
    // SAFETY: freed once.
    unsafe { rtmp_packager_free(packager) };

    // AAC in ADTS, the whole file in one push: ffmpeg's bodies and timestamps.
    let adts = fixture("aac.adts");
    let tags = flv_tags("aac.flv", TagKind::Audio);
    // ffmpeg writes an empty sequence header first, then the real one.
    let (header, frames) = (&tags[1], &tags[2..]);
    let mut packager = null_mut();
    // SAFETY: a writable out-parameter.
    unsafe {
        rtmp_packager_new(
            RtmpCodec::AacAdts as i32,
            RtmpTagFormat::Legacy as i32,
            &mut packager,
        )
    };
    let start = frames[0].timestamp as i64;
    let mut out = push(packager, &adts, start, start);
    assert_eq!(out.remove(0), (header.timestamp, 0, header.body.to_vec()));
    let theirs: Vec<_> = frames
        .iter()
        .map(|t| (t.timestamp, 0, t.body.to_vec()))
        .collect();
    assert_eq!(out, theirs);
    // SAFETY: freed once.
    unsafe { rtmp_packager_free(packager) };
}

#[test]
fn c_packagers_write_ffmpegs_hevc_frames_and_av1_records_in_enhanced_rtmp() {
    use crate::media::enhanced::tests::{annexb_access_units, fixture, flv_tags};
    use crate::media::enhanced::ExVideoHeader;
    use crate::media::flv::TagKind;

    let new = |codec: RtmpCodec| {
        let mut packager = null_mut();
        // SAFETY: a writable out-parameter.
        let result = unsafe {
            rtmp_packager_new(codec as i32, RtmpTagFormat::Enhanced as i32, &mut packager)
        };
        assert_eq!(result, RtmpResult::Ok);
        packager
    };
    // HEVC with B-frames: every frame body as ffmpeg's; the record differs only in
    // hvcC's array_completeness flags (see media::hevc), so only its header is compared.
    let annexb = fixture("hevc.h265");
    let units = annexb_access_units(&annexb, |n| (n[0] >> 1) & 0x3F == 35);
    let tags = flv_tags("hevc.flv", TagKind::Video);
    let frames: Vec<_> = tags
        .iter()
        .filter(|t| matches!(t.body[0] & 0x0F, 1 | 3))
        .collect();
    assert_eq!(units.len(), frames.len());
    let packager = new(RtmpCodec::Hevc);
    for (i, (unit, tag)) in units.iter().zip(&frames).enumerate() {
        let (h, _) = ExVideoHeader::parse(&tag.body).unwrap();
        let dts = tag.timestamp as i64;
        let mut out = push(packager, unit, dts + h.composition_time as i64, dts);
        if i == 0 {
            let header = out.remove(0);
            assert_eq!(header.2[..5], tags[0].body[..5]);
        }
        assert_eq!(
            out,
            [(tag.timestamp, h.composition_time, tag.body.to_vec())],
            "{i}"
        );
    }
    // SAFETY: freed once.
    unsafe { rtmp_packager_free(packager) };

    // AV1: the av1C record exactly as ffmpeg's, then one frame per temporal unit at its pts.
    let stream = fixture("av1.obu");
    let tags = flv_tags("av1.flv", TagKind::Video);
    let packager = new(RtmpCodec::Av1);
    let starts: Vec<usize> = crate::media::av1::obus(&stream)
        .map(Result::unwrap)
        .filter(|o| o.obu_type == 2)
        .map(|o| o.raw.as_ptr() as usize - stream.as_ptr() as usize)
        .collect();
    let first = &stream[..starts[1]];
    let out = push(packager, first, 0, 0);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].2, tags[1].body.to_vec(), "av1C");
    let first_frame = tags.iter().find(|t| t.body[0] & 0x0F == 1).unwrap();
    assert_eq!(out[1].2[..5], first_frame.body[..5]);
    let second = &stream[starts[1]..starts[2]];
    let out = push(packager, second, 40, 40);
    assert_eq!((out.len(), out[0].0, out[0].1), (1, 40, 0));
    // SAFETY: freed once.
    unsafe { rtmp_packager_free(packager) };
}
