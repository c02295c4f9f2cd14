#!/usr/bin/env python3
"""Decode a recorded RTMP session (stdlib only) and print what each side sent.

    rtmp_dump.py PREFIX            # reads PREFIX.c2s.bin and PREFIX.s2c.bin
    rtmp_dump.py PREFIX --all      # list every audio/video message too

Reports the handshake (C0/S0 version, C1/S1 time and version fields, whether a FP9
HMAC-SHA256 digest is present and under which scheme, whether C2/S2 echo the peer's
random or carry a digest), then the chunk stream of each direction: every message with
its chunk stream id, message stream id, type, timestamp and length, a decoded AMF0
command/data summary, and notes on chunk sizes, chunk header formats and extended
timestamps. It is a reading aid for fixtures, written independently of the Rust code,
so it can cross-check it; it is not a complete or hardened parser.
"""

import argparse
import hashlib
import hmac
import struct
import sys
from collections import Counter

FP_KEY = b"Genuine Adobe Flash Player 001"
FMS_KEY = b"Genuine Adobe Flash Media Server 001"
KEY_TAIL = bytes.fromhex(
    "F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE"
)
HANDSHAKE_SIZE = 1536

MSG_TYPES = {
    1: "SetChunkSize",
    2: "Abort",
    3: "Acknowledgement",
    4: "UserControl",
    5: "WindowAckSize",
    6: "SetPeerBandwidth",
    8: "Audio",
    9: "Video",
    15: "DataAMF3",
    16: "SharedObjectAMF3",
    17: "CommandAMF3",
    18: "DataAMF0",
    19: "SharedObjectAMF0",
    20: "CommandAMF0",
    22: "Aggregate",
}
UC_EVENTS = {
    0: "StreamBegin",
    1: "StreamEOF",
    2: "StreamDry",
    3: "SetBufferLength",
    4: "StreamIsRecorded",
    6: "PingRequest",
    7: "PingResponse",
    31: "BufferEmpty",
    32: "BufferReady",
}
VIDEO_CODECS = {2: "H263", 3: "Screen", 4: "VP6", 5: "VP6A", 6: "Screen2", 7: "AVC", 12: "HEVC(ext)"}
AUDIO_FORMATS = {0: "PCM", 1: "ADPCM", 2: "MP3", 3: "PCM-LE", 4: "Nelly16", 5: "Nelly8",
                 6: "Nelly", 7: "G711A", 8: "G711U", 9: "ExHeader", 10: "AAC", 11: "Speex",
                 14: "MP3-8k", 15: "DeviceSpecific"}


# ----------------------------------------------------------------------------- AMF0
class AmfError(Exception):
    pass


def amf0_read(buf, pos, depth=0):
    if depth > 32:
        raise AmfError("nesting too deep")
    if pos >= len(buf):
        raise AmfError("truncated")
    t = buf[pos]
    pos += 1
    if t == 0x00:
        return struct.unpack_from(">d", buf, pos)[0], pos + 8
    if t == 0x01:
        return bool(buf[pos]), pos + 1
    if t == 0x02:
        (n,) = struct.unpack_from(">H", buf, pos)
        return buf[pos + 2:pos + 2 + n].decode("utf-8", "replace"), pos + 2 + n
    if t == 0x0C:
        (n,) = struct.unpack_from(">I", buf, pos)
        return buf[pos + 4:pos + 4 + n].decode("utf-8", "replace"), pos + 4 + n
    if t in (0x03, 0x08, 0x10):
        if t == 0x08:
            pos += 4  # ECMA array count (advisory)
        if t == 0x10:
            (n,) = struct.unpack_from(">H", buf, pos)
            pos += 2 + n
        obj = {}
        while True:
            (n,) = struct.unpack_from(">H", buf, pos)
            key = buf[pos + 2:pos + 2 + n].decode("utf-8", "replace")
            pos += 2 + n
            if n == 0 and buf[pos] == 0x09:
                return obj, pos + 1
            obj[key], pos = amf0_read(buf, pos, depth + 1)
    if t in (0x05, 0x06):
        return None, pos
    if t == 0x07:
        return "<ref %d>" % struct.unpack_from(">H", buf, pos)[0], pos + 2
    if t == 0x0A:
        (n,) = struct.unpack_from(">I", buf, pos)
        pos += 4
        arr = []
        for _ in range(n):
            v, pos = amf0_read(buf, pos, depth + 1)
            arr.append(v)
        return arr, pos
    if t == 0x0B:
        return "<date %r>" % struct.unpack_from(">d", buf, pos)[0], pos + 10
    if t == 0x0F:
        (n,) = struct.unpack_from(">I", buf, pos)
        return "<xml>", pos + 4 + n
    if t == 0x11:
        raise AmfError("AVM+ (AMF3) value")
    raise AmfError("unknown AMF0 marker 0x%02x" % t)


def amf0_all(buf):
    vals, pos = [], 0
    try:
        while pos < len(buf):
            v, pos = amf0_read(buf, pos)
            vals.append(v)
    except (AmfError, struct.error, IndexError) as e:
        vals.append("<%s at %d>" % (e, pos))
    return vals


def short(v, limit=400):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "...}"


def fmt_num(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return fmt_num(v)


# ----------------------------------------------------------------------------- handshake
def digest_offset(block, scheme):
    base = 8 if scheme == 0 else 772
    return sum(block[base:base + 4]) % 728 + base + 4


def find_digest(block, key):
    """Return (scheme, digest) if block carries a valid FP9 digest under key."""
    for scheme in (0, 1):
        off = digest_offset(block, scheme)
        msg = block[:off] + block[off + 32:]
        d = hmac.new(key, msg, hashlib.sha256).digest()
        if d == block[off:off + 32]:
            return scheme, d
    return None, None


def describe_handshake(c, s):
    lines = []
    c0, c1, c2 = c[0], c[1:1537], c[1537:3073]
    s0, s1, s2 = s[0], s[1:1537], s[1537:3073]
    lines.append("C0 version %d, S0 version %d" % (c0, s0))
    t, v = struct.unpack_from(">II", c1)
    cs, cdig = find_digest(c1, FP_KEY)
    lines.append(
        "C1 time %d, version field %s (%s)"
        % (t, c1[4:8].hex(), "zero: simple handshake" if v == 0 else "non-zero")
        + (", valid client digest, scheme %d (offset %d)" % (cs, digest_offset(c1, cs))
           if cs is not None else ", no valid digest")
    )
    t, v = struct.unpack_from(">II", s1)
    ss, sdig = find_digest(s1, FMS_KEY)
    lines.append(
        "S1 time %d, version field %s (%s)"
        % (t, s1[4:8].hex(), "zero" if v == 0 else "non-zero")
        + (", valid server digest, scheme %d (offset %d)" % (ss, digest_offset(s1, ss))
           if ss is not None else ", no valid digest")
    )
    # S2: echo of C1, or digest keyed by C1's digest.
    if s2 == c1:
        lines.append("S2 = exact echo of C1")
    else:
        note = "S2 differs from C1"
        if s2[8:] == c1[8:]:
            note = "S2 echoes C1's random (bytes 8..1536), time fields differ"
        if cdig is not None:
            k = hmac.new(FMS_KEY + KEY_TAIL, cdig, hashlib.sha256).digest()
            if hmac.new(k, s2[:1504], hashlib.sha256).digest() == s2[1504:]:
                note = "S2 carries a valid digest keyed by C1's digest"
        lines.append(note)
    if c2 == s1:
        lines.append("C2 = exact echo of S1")
    else:
        note = "C2 differs from S1"
        if c2[8:] == s1[8:]:
            note = "C2 echoes S1's random (bytes 8..1536), time fields %s" % c2[:8].hex()
        if sdig is not None:
            k = hmac.new(FP_KEY + KEY_TAIL, sdig, hashlib.sha256).digest()
            if hmac.new(k, c2[:1504], hashlib.sha256).digest() == c2[1504:]:
                note = "C2 carries a valid digest keyed by S1's digest"
        lines.append(note)
    return lines


# ----------------------------------------------------------------------------- chunks
class ChunkParser:
    def __init__(self, data, name):
        self.d = data
        self.name = name
        self.chunk_size = 128
        self.prev = {}  # csid -> dict(ts, delta, len, type, msid, ext)
        self.partial = {}  # csid -> bytearray
        self.notes = []
        self.fmt_counts = Counter()
        self.basic_hdr_sizes = Counter()
        self.ext_ts_chunks = Counter()  # fmt -> count of chunks with ext timestamp field
        self.chunk_sizes = []
        self.trailing = 0

    def messages(self, pos):
        d = self.d
        while pos < len(d):
            start = pos
            try:
                b0 = d[pos]
                fmt, csid = b0 >> 6, b0 & 0x3F
                pos += 1
                if csid == 0:
                    csid = 64 + d[pos]
                    pos += 1
                    self.basic_hdr_sizes[2] += 1
                elif csid == 1:
                    csid = 64 + d[pos] + 256 * d[pos + 1]
                    pos += 2
                    self.basic_hdr_sizes[3] += 1
                else:
                    self.basic_hdr_sizes[1] += 1
                self.fmt_counts[fmt] += 1
                p = dict(self.prev.get(csid, {}))
                if fmt == 3 and not p:
                    self.notes.append("fmt 3 chunk on csid %d with no previous header at byte %d" % (csid, start))
                new_msg = csid not in self.partial
                if fmt <= 2:
                    ts = int.from_bytes(d[pos:pos + 3], "big")
                    pos += 3
                    if fmt <= 1:
                        p["len"] = int.from_bytes(d[pos:pos + 3], "big")
                        p["type"] = d[pos + 3]
                        pos += 4
                    if fmt == 0:
                        (p["msid"],) = struct.unpack_from("<I", d, pos)
                        pos += 4
                    p["ext"] = ts == 0xFFFFFF
                    if p["ext"]:
                        if pos + 4 > len(d):
                            raise IndexError
                        (ts,) = struct.unpack_from(">I", d, pos)
                        pos += 4
                        self.ext_ts_chunks[fmt] += 1
                    if fmt == 0:
                        p["ts"] = ts
                        p["delta"] = 0
                    else:
                        p["delta"] = ts
                        p["ts"] = p.get("ts", 0) + ts
                    p["ext_value"] = ts
                else:
                    if p.get("ext"):
                        # Spec: fmt 3 repeats the extended timestamp field. Some peers
                        # omit it on continuation chunks: peek and compare.
                        if d[pos:pos + 4] == struct.pack(">I", p["ext_value"]):
                            pos += 4
                            self.ext_ts_chunks[3] += 1
                        else:
                            self.notes.append("fmt 3 chunk on csid %d without repeated extended timestamp" % csid)
                    if new_msg:
                        p["ts"] = p.get("ts", 0) + p.get("delta", 0)
                self.prev[csid] = p
                buf = self.partial.setdefault(csid, bytearray())
                if new_msg:
                    p["start_ts"] = p["ts"]
                    p["fmt_first"] = fmt
                    self.prev[csid] = p
                n = min(self.chunk_size, p["len"] - len(buf))
                if pos + n > len(d):
                    raise IndexError
                buf += d[pos:pos + n]
                pos += n
                if len(buf) == p["len"]:
                    del self.partial[csid]
                    msg = dict(csid=csid, fmt=p["fmt_first"], ts=p["start_ts"], type=p["type"],
                               msid=p.get("msid", 0), body=bytes(buf), offset=start)
                    if msg["type"] == 1 and len(buf) >= 4:
                        (cs,) = struct.unpack_from(">I", buf)
                        self.chunk_size = cs & 0x7FFFFFFF
                        self.chunk_sizes.append(self.chunk_size)
                    yield msg
            except (IndexError, struct.error, KeyError):
                self.trailing = len(d) - start
                return


def describe_media(m):
    b = m["body"]
    if not b:
        return "empty"
    if m["type"] == 9:
        if b[0] & 0x80:
            ft = (b[0] >> 4) & 7
            pt = b[0] & 0x0F
            return "ExVideo frame_type %d pkt_type %d fourcc %r" % (ft, pt, b[1:5].decode("latin1"))
        ft, codec = b[0] >> 4, b[0] & 0x0F
        s = "video %s frame_type %d" % (VIDEO_CODECS.get(codec, codec), ft)
        if codec == 7 and len(b) >= 5:
            cto = int.from_bytes(b[2:5], "big")
            s += " avc_pkt %d%s cts %d" % (b[1], {0: " (seq hdr)", 1: "", 2: " (EOS)"}.get(b[1], ""), cto)
        return s
    fmt = b[0] >> 4
    if fmt == 9:
        return "ExAudio pkt_type %d fourcc %r" % (b[0] & 0x0F, b[1:5].decode("latin1"))
    s = "audio %s rate_idx %d %dbit %s" % (AUDIO_FORMATS.get(fmt, fmt), (b[0] >> 2) & 3,
                                          8 if not (b[0] & 2) else 16, "stereo" if b[0] & 1 else "mono")
    if fmt == 10 and len(b) >= 2:
        s += " aac_pkt %d%s" % (b[1], " (seq hdr)" if b[1] == 0 else "")
    return s


def video_frame_type(m):
    b = m["body"]
    return ((b[0] >> 4) & 7) if b else 0


def is_seqhdr(m):
    """Codec configuration: AVC/AAC packet type 0, or Enhanced RTMP SequenceStart."""
    b = m["body"]
    if len(b) < 2:
        return False
    if m["type"] == 9:
        if b[0] & 0x80:
            return b[0] & 0x0F == 0
        return b[0] & 0x0F in (7, 12) and b[1] == 0
    if b[0] >> 4 == 9:
        return b[0] & 0x0F == 0
    return b[0] >> 4 == 10 and b[1] == 0


def describe(m):
    t, b = m["type"], m["body"]
    name = MSG_TYPES.get(t, "type%d" % t)
    if t == 1:
        return "%s %d" % (name, struct.unpack_from(">I", b)[0])
    if t in (3, 5):
        return "%s %d" % (name, struct.unpack_from(">I", b)[0])
    if t == 6:
        return "%s %d limit %d" % (name, struct.unpack_from(">I", b)[0], b[4])
    if t == 4:
        ev = struct.unpack_from(">H", b)[0]
        rest = b[2:]
        args = [struct.unpack_from(">I", rest, i)[0] for i in range(0, len(rest) - 3, 4)]
        return "%s %s %s" % (name, UC_EVENTS.get(ev, ev), args)
    if t in (18, 20):
        return "%s %s" % (name, short(clean(amf0_all(b))))
    if t in (15, 17):
        return "%s (AMF3 prefix 0x%02x) %s" % (name, b[0] if b else 0, short(clean(amf0_all(b[1:]))))
    if t in (8, 9):
        return describe_media(m)
    return "%s %d bytes" % (name, len(b))


def dump(prefix, show_all):
    c = open(prefix + ".c2s.bin", "rb").read()
    s = open(prefix + ".s2c.bin", "rb").read()
    out = []
    out.append("== %s: c2s %d bytes, s2c %d bytes" % (prefix, len(c), len(s)))
    out.append("-- handshake")
    out += ["   " + l for l in describe_handshake(c, s)]
    for name, data, off in (("client -> server", c, 1 + 2 * HANDSHAKE_SIZE), ("server -> client", s, 1 + 2 * HANDSHAKE_SIZE)):
        p = ChunkParser(data, name)
        out.append("-- %s (after the %d handshake bytes)" % (name, off))
        media = Counter()
        media_bytes = Counter()
        first_media = {}
        last_ts = {}
        run = []  # collapsed media lines

        def flush_run():
            if run:
                out.append("   ... %d audio/video messages (ts %d..%d)" % (len(run), run[0], run[-1]))
                run.clear()

        for m in p.messages(off):
            t = m["type"]
            if t in (8, 9):
                media[t] += 1
                media_bytes[t] += len(m["body"])
                last_ts[t] = m["ts"]
                line = "   csid %-2d msid %d fmt %d ts %-6d %-5d B  %s" % (
                    m["csid"], m["msid"], m["fmt"], m["ts"], len(m["body"]), describe(m))
                seqhdr = is_seqhdr(m)
                key = t == 9 and video_frame_type(m) == 1 and not seqhdr
                if show_all or t not in first_media or seqhdr or (key and "kf" not in first_media):
                    flush_run()
                    out.append(line)
                    if key:
                        first_media["kf"] = 1
                    first_media.setdefault(t, m)
                else:
                    run.append(m["ts"])
                continue
            flush_run()
            out.append("   csid %-2d msid %d fmt %d ts %-6d %-5d B  %s" % (
                m["csid"], m["msid"], m["fmt"], m["ts"], len(m["body"]), describe(m)))
        flush_run()
        out.append("   totals: %d video msgs (%d B, last ts %s), %d audio msgs (%d B, last ts %s)" % (
            media[9], media_bytes[9], last_ts.get(9), media[8], media_bytes[8], last_ts.get(8)))
        out.append("   chunk sizes set by this side: %s; chunk header fmt counts %s; basic header sizes %s" % (
            p.chunk_sizes or "none (128)", dict(sorted(p.fmt_counts.items())), dict(sorted(p.basic_hdr_sizes.items()))))
        out.append("   extended timestamp fields: %s" % (dict(p.ext_ts_chunks) or "none"))
        if p.partial:
            out.append("   unfinished messages at end: csids %s" % sorted(p.partial))
        if p.trailing:
            out.append("   %d trailing bytes (truncated chunk)" % p.trailing)
        for n in p.notes[:10]:
            out.append("   note: " + n)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix")
    ap.add_argument("--all", action="store_true", help="list every audio/video message")
    a = ap.parse_args()
    print(dump(a.prefix, a.all))


if __name__ == "__main__":
    main()
