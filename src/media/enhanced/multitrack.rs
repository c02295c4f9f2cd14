//! The E-RTMP v2 multitrack layout audio and video bodies share: the multitrack byte, the
//! shared FourCC, and the tracks.

use bytes::{BufMut, Bytes};

use super::{put_u24, AvMultitrackType, Cursor, FourCc, MediaError, Result};

/// The largest track size a multitrack size field (UI24) can describe.
const MAX_TRACK_LEN: usize = 0x00FF_FFFF;

/// One track of an E-RTMP v2 multitrack message (audio or video).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub track_id: u8,
    pub fourcc: FourCc,
    /// As in [`ExVideoHeader::composition_time`](super::ExVideoHeader::composition_time); always
    /// 0 for audio.
    pub composition_time: i32,
    pub data: Bytes,
}

/// Reads the multitrack byte, the shared FourCC and the tracks up to the end of `body`.
/// `cts(packet_type, fourcc)` says whether a track body starts with a composition time.
/// A track id that appears twice is invalid.
pub(super) fn read_tracks(
    cur: &mut Cursor<'_>,
    body: &Bytes,
    cts: impl Fn(u8, FourCc) -> bool,
) -> Result<(u8, AvMultitrackType, Vec<Track>)> {
    let byte = cur.u8()?;
    let kind =
        AvMultitrackType::from_u8(byte >> 4).ok_or(MediaError::Invalid("AvMultitrackType"))?;
    let packet_type = byte & 0x0F;
    let shared = match kind {
        AvMultitrackType::ManyTracksManyCodecs => None,
        _ => Some(cur.fourcc()?),
    };
    let mut tracks = Vec::new();
    let mut seen = [false; 256];
    while cur.pos < body.len() || tracks.is_empty() {
        let fourcc = match shared {
            Some(f) => f,
            None => cur.fourcc()?,
        };
        let track_id = cur.u8()?;
        // Distinct ids bound a message to 256 tracks, whatever its size.
        if std::mem::replace(&mut seen[track_id as usize], true) {
            return Err(MediaError::Invalid(
                "multitrack message with a track id twice",
            ));
        }
        let len = match kind {
            AvMultitrackType::OneTrack => body.len() - cur.pos,
            _ => cur.u24()? as usize,
        };
        let start = cur.pos;
        let data = cur.take(len)?;
        let mut track = Track {
            track_id,
            fourcc,
            composition_time: 0,
            data: body.slice(start..start + len),
        };
        if cts(packet_type, fourcc) {
            track.composition_time = Cursor::new(data, "multitrack composition time").si24()?;
            track.data = track.data.slice(3..);
        }
        tracks.push(track);
        if kind == AvMultitrackType::OneTrack {
            break;
        }
    }
    Ok((packet_type, kind, tracks))
}

/// Writes the multitrack byte, the shared FourCC and the tracks. Fails if the layout does
/// not fit the type (OneTrack with other than one track, ManyTracks with differing
/// FourCCs, no tracks, a track id twice, a track over 16 MiB).
pub(super) fn write_tracks(
    out: &mut impl BufMut,
    packet_type: u8,
    kind: AvMultitrackType,
    tracks: &[Track],
    cts: bool,
) -> Result<()> {
    let first = tracks
        .first()
        .ok_or(MediaError::Invalid("multitrack without tracks"))?;
    if kind == AvMultitrackType::OneTrack && tracks.len() != 1 {
        return Err(MediaError::Invalid(
            "OneTrack multitrack with other than one track",
        ));
    }
    if kind == AvMultitrackType::ManyTracks && tracks.iter().any(|t| t.fourcc != first.fourcc) {
        return Err(MediaError::Invalid("ManyTracks with differing FourCCs"));
    }
    let mut seen = [false; 256];
    for track in tracks {
        if std::mem::replace(&mut seen[track.track_id as usize], true) {
            return Err(MediaError::Invalid(
                "multitrack message with a track id twice",
            ));
        }
    }
    out.put_u8((kind as u8) << 4 | packet_type);
    if kind != AvMultitrackType::ManyTracksManyCodecs {
        out.put_slice(&first.fourcc.0);
    }
    for track in tracks {
        let cts = cts && track.fourcc.has_composition_time();
        if kind == AvMultitrackType::ManyTracksManyCodecs {
            out.put_slice(&track.fourcc.0);
        }
        out.put_u8(track.track_id);
        if kind != AvMultitrackType::OneTrack {
            let len = track.data.len() + if cts { 3 } else { 0 };
            if len > MAX_TRACK_LEN {
                return Err(MediaError::Invalid("multitrack track over 16 MiB"));
            }
            put_u24(out, len as u32);
        }
        if cts {
            put_u24(out, track.composition_time as u32 & 0x00FF_FFFF);
        }
        out.put_slice(&track.data);
    }
    Ok(())
}
