"""Splitting encoder output files into the units ``write_video``/``write_audio`` take."""

from __future__ import annotations

from typing import Iterator, List

_START = b"\x00\x00\x00\x01"

#: ADTS sampling_frequency_index -> Hz.
ADTS_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an H.264/HEVC Annex-B byte stream, start codes removed."""
    starts: List[int] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        # A 4-byte start code leaves its leading zero at the end of the previous unit;
        # NAL units never end in a zero byte.
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        yield data[start:end].rstrip(b"\x00")


def h264_access_units(data: bytes) -> Iterator[bytes]:
    """Groups an H.264 Annex-B stream's NAL units into access units (Annex-B each): a new
    unit begins at an AUD, SEI, SPS or PPS after a slice, or at a slice whose
    first_mb_in_slice is 0 after a slice."""
    unit: List[bytes] = []
    has_slice = False
    for nal in nal_units(data):
        if not nal:
            continue
        kind = nal[0] & 0x1F
        is_slice = kind in (1, 5)
        first_slice = is_slice and len(nal) > 1 and bool(nal[1] & 0x80)
        if has_slice and (kind in (6, 7, 8, 9) or first_slice):
            yield b"".join(_START + n for n in unit)
            unit, has_slice = [], False
        unit.append(nal)
        has_slice = has_slice or is_slice
    if unit:
        yield b"".join(_START + n for n in unit)


def adts_frames(data: bytes) -> Iterator[bytes]:
    """Splits an AAC ADTS stream into frames (header included)."""
    i = 0
    while i + 7 <= len(data):
        if data[i] != 0xFF or data[i + 1] & 0xF0 != 0xF0:
            raise ValueError(f"no ADTS sync word at byte {i}")
        length = ((data[i + 3] & 0x03) << 11) | (data[i + 4] << 3) | (data[i + 5] >> 5)
        if length < 7:
            raise ValueError(f"ADTS frame at byte {i} claims {length} bytes")
        yield data[i : i + length]
        i += length


def adts_sample_rate(frame: bytes) -> int:
    """The sampling rate an ADTS header announces."""
    return ADTS_SAMPLE_RATES[(frame[2] >> 2) & 0x0F]
