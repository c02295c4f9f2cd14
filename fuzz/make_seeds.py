#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/<target>/ (stdlib only).

    python3 fuzz/make_seeds.py            # then: cargo fuzz run TARGET fuzz/corpus/TARGET fuzz/seeds/TARGET

Seeds come from the recorded real-peer sessions in tests/fixtures/ (handshakes, chunk
streams, the AMF bodies of their command and data messages, parsed with
tests/tools/rtmp_dump.py's ChunkParser) plus hand-made AMF0 / AMF3 values covering every
type marker. Each seed is laid out as its target expects (see fuzz/src/<target>.rs and
fuzz/src/common.rs): a flags byte, for stream targets a split header, then the payload.

The committed corpus (fuzz/corpus/) is what fuzzing grew from these seeds, minimized with
`cargo fuzz cmin`; the seeds themselves are not committed (they are re-created by this
script and are large).
"""

import glob
import hashlib
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import rtmp_dump  # noqa: E402

HANDSHAKE = 1 + 2 * 1536
OUT = os.path.join(ROOT, "fuzz", "seeds")


def split(*sizes):
    """The split header of common.rs: count, then size bytes (0 = rest, 1..127 bytes,
    128..255 = (b - 127) * 128 bytes)."""
    assert len(sizes) <= 7
    return bytes([len(sizes)]) + bytes(sizes)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    with open(os.path.join(d, "%s-%s" % (name, digest)), "wb") as f:
        f.write(data)


def fixtures():
    for c2s in sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*.c2s.bin"))):
        prefix = c2s[: -len(".c2s.bin")]
        name = os.path.basename(prefix)
        yield name, open(c2s, "rb").read(), open(prefix + ".s2c.bin", "rb").read()


# ----------------------------------------------------------------------------- AMF0
def a0_num(v):
    return b"\x00" + struct.pack(">d", v)


def a0_bool(v):
    return b"\x01" + bytes([1 if v else 0])


def a0_key(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def a0_str(s):
    return b"\x02" + a0_key(s)


def a0_obj(props, marker=b"\x03"):
    return marker + b"".join(a0_key(k) + v for k, v in props) + b"\x00\x00\x09"


def a0_ecma(props, count=None):
    n = len(props) if count is None else count
    return b"\x08" + struct.pack(">I", n) + b"".join(a0_key(k) + v for k, v in props) + b"\x00\x00\x09"


def a0_strict(items):
    return b"\x0a" + struct.pack(">I", len(items)) + b"".join(items)


def a0_long(s, marker=b"\x0c"):
    b = s.encode()
    return marker + struct.pack(">I", len(b)) + b


NULL0, UNDEF0, UNSUPPORTED0 = b"\x05", b"\x06", b"\x0d"


# ----------------------------------------------------------------------------- AMF3
def u29(n):
    n &= 0x1FFFFFFF
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([(n >> 7) | 0x80, n & 0x7F])
    if n < 0x200000:
        return bytes([(n >> 14) | 0x80, ((n >> 7) & 0x7F) | 0x80, n & 0x7F])
    return bytes([(n >> 22) | 0x80, ((n >> 15) & 0x7F) | 0x80, ((n >> 8) & 0x7F) | 0x80, n & 0xFF])


def a3_text(s):
    b = s.encode()
    return u29(len(b) << 1 | 1) + b


def a3_str(s):
    return b"\x06" + a3_text(s)


def a3_int(i):
    return b"\x04" + u29(i)


A3_UNDEF, A3_NULL, A3_FALSE, A3_TRUE = b"\x00", b"\x01", b"\x02", b"\x03"


def amf3_seeds():
    s = {}
    s["scalars"] = A3_UNDEF + A3_NULL + A3_FALSE + A3_TRUE + a3_int(0) + a3_int(127) + a3_int(128) \
        + a3_int(0x3FFF) + a3_int(0x4000) + a3_int(0x1FFFFF) + a3_int(0x200000) + a3_int(0x0FFFFFFF) \
        + a3_int(-1) + b"\x05" + struct.pack(">d", 3.5) + b"\x05" + struct.pack(">d", float("nan"))
    s["strings"] = a3_str("") + a3_str("hello") + a3_str("hello") + b"\x06" + u29(0 << 1) + a3_str("caf\u00e9")
    s["xml"] = b"\x07" + a3_text("<a/>") + b"\x0b" + a3_text("<b>x</b>") + b"\x07" + u29(0)
    s["date"] = b"\x08\x01" + struct.pack(">d", 1.7e12) + b"\x08" + u29(0)
    # Array: 2 dense, one assoc entry.
    s["array"] = b"\x09" + u29(2 << 1 | 1) + a3_text("k") + a3_int(1) + b"\x01" + a3_int(2) + a3_str("v")
    s["array_ref"] = s["array"] + b"\x09" + u29(0)
    # Anonymous dynamic object: U29O-traits = dynamic, 0 sealed: 0b1011.
    dyn = b"\x0a" + u29(0b1011) + a3_text("") + a3_text("app") + a3_str("live") \
        + a3_text("n") + a3_int(5) + b"\x01"
    s["object_dynamic"] = dyn
    # Typed object, 2 sealed members, not dynamic: (2 << 4) | 0b0011.
    typed = b"\x0a" + u29((2 << 4) | 0b0011) + a3_text("com.example.Point") + a3_text("x") + a3_text("y") \
        + a3_int(3) + b"\x05" + struct.pack(">d", 4.25)
    # Same traits by reference: traits index 0 -> (0 << 2) | 0b01.
    s["object_traits_ref"] = b"\x09" + u29(2 << 1 | 1) + b"\x01" + typed + b"\x0a" + u29(0b01) + a3_int(7) + a3_int(8)
    s["object_ref"] = b"\x09" + u29(3 << 1 | 1) + b"\x01" + dyn + b"\x0a" + u29(1 << 1) + b"\x0a" + u29(1 << 1)
    s["externalizable"] = b"\x0a" + u29(0b0111) + a3_text("flex.messaging.io.ArrayCollection") \
        + b"\x09" + u29(1 << 1 | 1) + b"\x01" + a3_str("item")
    s["externalizable_unknown"] = b"\x0a" + u29(0b0111) + a3_text("com.example.Secret") + b"\x00\x01"
    s["bytearray"] = b"\x0c" + u29(4 << 1 | 1) + b"\x00\x01\x02\xff" + b"\x0c" + u29(0)
    s["vectors"] = b"\x0d" + u29(2 << 1 | 1) + b"\x00" + struct.pack(">ii", -1, 2) \
        + b"\x0e" + u29(1 << 1 | 1) + b"\x01" + struct.pack(">I", 0xFFFFFFFF) \
        + b"\x0f" + u29(2 << 1 | 1) + b"\x00" + struct.pack(">dd", 1.5, -0.0) \
        + b"\x10" + u29(2 << 1 | 1) + b"\x00" + a3_text("*") + a3_str("a") + A3_NULL
    s["dictionary"] = b"\x11" + u29(2 << 1 | 1) + b"\x00" + a3_str("k") + a3_int(1) + a3_int(5) + A3_TRUE
    s["cycle"] = b"\x09" + u29(1 << 1 | 1) + b"\x01" + b"\x09" + u29(0)
    deep = b""
    for _ in range(40):
        deep += b"\x09" + u29(1 << 1 | 1) + b"\x01"
    s["deep"] = deep + A3_NULL
    # Many references to one string: the expansion budget.
    s["string_refs"] = b"\x09" + u29(64 << 1 | 1) + b"\x01" + a3_str("x" * 200) + (b"\x06" + u29(0)) * 63
    s["bad_marker"] = b"\x12"
    s["truncated"] = b"\x06" + u29(100 << 1 | 1) + b"abc"
    return s


def amf0_seeds():
    s = {}
    s["scalars"] = a0_num(1.0) + a0_num(float("inf")) + a0_bool(True) + a0_str("hi") + NULL0 + UNDEF0 \
        + UNSUPPORTED0 + b"\x0b" + struct.pack(">dh", 1.7e12, 0)
    s["long_xml"] = a0_long("long string") + a0_long("<xml/>", b"\x0f")
    s["object"] = a0_obj([("a", a0_num(1)), ("", a0_str("empty key")), ("b", NULL0)])
    s["ecma"] = a0_ecma([("duration", a0_num(2)), ("encoder", a0_str("Lavf"))], count=99)
    s["strict"] = a0_strict([a0_num(1), a0_str("two"), a0_obj([])])
    s["typed"] = a0_obj([("x", a0_num(1))], b"\x10" + a0_key("com.example.T"))
    s["reference"] = a0_obj([("self", b"\x07\x00\x00")]) + b"\x07\x00\x00" + b"\x07\x00\x05"
    s["avmplus"] = a0_str("connect") + a0_num(1) + b"\x11" + amf3_seeds()["object_dynamic"] + b"\x11" + a3_str("x")
    s["reserved"] = b"\x04" + b"\x0e"
    s["object_end_alone"] = b"\x09"
    deep = b""
    for _ in range(40):
        deep += b"\x03" + a0_key("d")
    s["deep"] = deep + NULL0
    s["truncated"] = b"\x02\x00\x10abc"
    return s


def commands():
    """Hand-made command and data bodies for every NetConnection / NetStream command."""
    c = {}
    connect_obj = a0_obj([
        ("app", a0_str("live")), ("type", a0_str("nonprivate")),
        ("flashVer", a0_str("FMLE/3.0 (compatible; fuzz)")), ("tcUrl", a0_str("rtmp://h/live")),
        ("objectEncoding", a0_num(3)), ("capsEx", a0_num(15)),
        ("fourCcList", a0_strict([a0_str("hvc1"), a0_str("av01")])),
    ])
    c["connect"] = a0_str("connect") + a0_num(1) + connect_obj + a0_str("extra")
    c["result"] = a0_str("_result") + a0_num(1) + NULL0 + a0_obj([("level", a0_str("status")), ("code", a0_str("NetConnection.Connect.Success"))])
    c["error"] = a0_str("_error") + a0_num(2) + NULL0 + a0_obj([("level", a0_str("error")), ("code", a0_str("X")), ("description", a0_str("no"))])
    c["onstatus"] = a0_str("onStatus") + a0_num(0) + NULL0 + a0_obj([("level", a0_str("warning")), ("code", a0_str("NetStream.Play.Start")), ("details", a0_str("s"))])
    c["createstream"] = a0_str("createStream") + a0_num(4) + NULL0
    for name in ("releaseStream", "FCPublish", "FCUnpublish", "getStreamLength"):
        c[name] = a0_str(name) + a0_num(3) + NULL0 + a0_str("test")
    c["publish"] = a0_str("publish") + a0_num(5) + NULL0 + a0_str("test?key=1") + a0_str("appendWithGap")
    c["play"] = a0_str("play") + a0_num(6) + NULL0 + a0_str("test") + a0_num(-1000) + a0_num(2000) + a0_bool(False)
    c["play2"] = a0_str("play2") + a0_num(0) + NULL0 + a0_obj([("streamName", a0_str("b")), ("start", a0_num(5))])
    c["pause"] = a0_str("pauseRaw") + a0_num(0) + NULL0 + a0_bool(False) + a0_num(1234)
    c["seek"] = a0_str("seek") + a0_num(0) + NULL0 + a0_num(500)
    c["deletestream"] = a0_str("deleteStream") + a0_num(7) + NULL0 + a0_num(1)
    c["closestream"] = a0_str("closeStream") + a0_num(0) + NULL0
    c["receive"] = a0_str("receiveAudio") + a0_num(0) + NULL0 + a0_bool(False)
    c["onbwdone"] = a0_str("onBWDone")
    c["checkbw"] = a0_str("_checkbw") + a0_num(9) + NULL0
    c["other"] = a0_str("FCSubscribe") + a0_num(4) + NULL0 + a0_str("test")
    c["amf3_format"] = b"\x00" + a0_str("connect") + a0_num(1) + b"\x11" + amf3_seeds()["object_dynamic"]
    c["data_metadata"] = a0_str("@setDataFrame") + a0_str("onMetaData") + a0_ecma([("width", a0_num(160)), ("stereo", a0_bool(False))])
    c["data_text"] = a0_str("onTextData") + a0_obj([("text", a0_str("hello"))])
    return c


# ----------------------------------------------------------------------------- chunks
def chunk_header(fmt, csid, ts=0, length=0, type_id=0, msid=0):
    if csid < 64:
        basic = bytes([fmt << 6 | csid])
    elif csid < 320:
        basic = bytes([fmt << 6, csid - 64])
    else:
        basic = bytes([fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])
    ext = ts >= 0xFFFFFF
    field = 0xFFFFFF if ext else ts
    h = basic
    if fmt <= 2:
        h += field.to_bytes(3, "big")
    if fmt <= 1:
        h += length.to_bytes(3, "big") + bytes([type_id])
    if fmt == 0:
        h += struct.pack("<I", msid)
    if ext:
        h += struct.pack(">I", ts)
    return h


def chunk_message(csid, ts, type_id, msid, body, chunk_size):
    """One message with a format 0 header and format 3 continuations (extended timestamp
    repeated on them, as the specification says)."""
    out = chunk_header(0, csid, ts, len(body), type_id, msid)
    first = True
    pos = 0
    while first or pos < len(body):
        if not first:
            out += bytes([0xC0 | csid]) if csid < 64 else chunk_header(3, csid)[:2 if csid < 320 else 3]
            if ts >= 0xFFFFFF:
                out += struct.pack(">I", ts)
        out += body[pos:pos + chunk_size]
        pos += chunk_size
        first = False
    return out


def hand_made_chunks():
    c = {}
    set_chunk = chunk_message(2, 0, 1, 0, struct.pack(">I", 60), 128)
    c["csid_forms"] = set_chunk + chunk_message(3, 5, 20, 0, commands()["createstream"], 60) \
        + chunk_message(70, 6, 9, 1, b"\x17" * 130, 60) + chunk_message(400, 0xFFFFFF + 7, 8, 1, b"\xaf" * 70, 60) \
        + chunk_header(1, 3, 10, 3, 8) + b"abc" + chunk_header(2, 3, 10) + b"def" + chunk_header(3, 3) + b"ghi"
    c["abort"] = chunk_header(0, 6, 0, 300, 9, 1) + b"x" * 128 + chunk_message(2, 0, 2, 0, struct.pack(">I", 6), 128) \
        + chunk_message(6, 1, 9, 1, b"y" * 10, 128)
    controls = b""
    for type_id, body in ((3, struct.pack(">I", 1000)), (5, struct.pack(">I", 2500000)),
                          (6, struct.pack(">IB", 2500000, 2)), (6, struct.pack(">I", 5)),
                          (4, struct.pack(">HI", 0, 1)), (4, struct.pack(">HII", 3, 1, 3000)),
                          (4, struct.pack(">HI", 6, 77)), (4, struct.pack(">HI", 7, 77)),
                          (4, struct.pack(">H", 31) + b"\x00\x00"), (4, b"\x00")):
        controls += chunk_message(2, 0, type_id, 0, body, 128)
    c["controls"] = controls
    tags = b""
    for t, ts, body in ((9, 0x01000010, b"video-1"), (8, 0x01000020, b"audio"), (9, 0x01000043, b"video-2")):
        tags += bytes([t]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24]) \
            + b"\x00\x00\x00" + body + struct.pack(">I", 11 + len(body))
    c["aggregate"] = chunk_message(6, 1000, 22, 1, tags, 128)
    c["data_amf3"] = chunk_message(5, 0, 15, 1, b"\x00" + commands()["data_metadata"], 128) \
        + chunk_message(3, 0, 17, 0, commands()["amf3_format"], 128)
    c["bad_chunk_size"] = chunk_message(2, 0, 1, 0, struct.pack(">I", 0), 128)
    c["fmt3_first"] = bytes([0xC0 | 5]) + b"zz"
    return c


# ----------------------------------------------------------------------------- targets
def flv_tags(data):
    """(type, timestamp, body) of an FLV file's tags."""
    pos = struct.unpack(">I", data[5:9])[0] + 4
    while pos + 11 <= len(data):
        kind = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        yield kind, ts, data[pos + 11:pos + 11 + size]
        pos += 11 + size + 4


def media_record(selector, body):
    return bytes([selector]) + struct.pack(">H", min(len(body), 0xFFFF)) + body[:0xFFFF]


def media_seeds():
    """fuzz target media: the elementary FLV fixtures' tags (depacketized), their raw
    elementary streams cut by ffprobe's packet sizes (packaged), and the files whole."""
    elementary = os.path.join(ROOT, "tests", "fixtures", "elementary")
    seeds = {}
    for path in sorted(glob.glob(os.path.join(elementary, "*.flv"))):
        data = open(path, "rb").read()
        name = os.path.basename(path)[:-4]
        records = b"".join(media_record(0x0E | (kind == 8), body) for kind, _, body in flv_tags(data)
                           if kind in (8, 9))
        seeds[name + "-tags"] = bytes([0]) + records[:16384]
        seeds[name + "-file"] = bytes([1]) + data[:16384]
    packager = {"avc.h264": 0, "hevc.h265": 1, "av1.obu": 2, "aac.adts": 11}
    for raw, selector in packager.items():
        data = open(os.path.join(elementary, raw), "rb").read()
        sizes = [int(line.split(",")[2]) for line in open(os.path.join(elementary, raw + ".packets.csv"))
                 if line.strip()]
        records, pos = b"", 0
        for size in sizes[:12]:
            records += media_record(selector << 1 if selector < 8 else selector, data[pos:pos + size])
            pos += size
        seeds[raw.replace(".", "-") + "-packaged"] = bytes([0]) + records
    return seeds


def main():
    fx = list(fixtures())

    # media: [flags][records]
    for name, data in media_seeds().items():
        write("media", name, data)

    # handshake: [flags][split][payload]
    for name, c2s, s2c in fx:
        write("handshake", name + "-c2s", bytes([0x00]) + split() + c2s[:HANDSHAKE + 16])
        write("handshake", name + "-c2s-pieces", bytes([0x01]) + split(1, 0x8b, 0x81) + c2s[:HANDSHAKE + 16])
        write("handshake", name + "-s2c", bytes([0x00]) + split(0x8c) + s2c[:HANDSHAKE + 16])
        write("handshake", name + "-s2c-simple", bytes([0x03]) + split() + s2c[:HANDSHAKE])
    pattern = bytes(range(80))
    write("handshake", "loopback-digest", bytes([0x80]) + split(0x85, 0x10, 0) + pattern)
    write("handshake", "loopback-simple", bytes([0x81]) + split() + pattern)
    write("handshake", "loopback-scheme1", bytes([0x82]) + split(1) + pattern)
    write("handshake", "loopback-zero-versions", bytes([0x84]) + split(0x8c) + bytes(80))
    write("handshake", "rtmpe", bytes([0x00]) + split() + b"\x06" + bytes(40))
    write("handshake", "http", bytes([0x00]) + split() + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    # chunk_decoder: [flags][split][chunk stream]
    default_limits = 0x3F  # 16 MiB messages, 64 MiB reassembly, 1000 streams; AMF depth 64, 16 elements
    for name, c2s, s2c in fx:
        for direction, data in (("c2s", c2s), ("s2c", s2c)):
            stream = data[HANDSHAKE:HANDSHAKE + 8192]
            if len(stream) < 16:
                continue
            write("chunk_decoder", "%s-%s" % (name, direction), bytes([default_limits]) + split() + stream)
            write("chunk_decoder", "%s-%s-pieces" % (name, direction),
                  bytes([0xFF]) + split(1, 0x81, 13, 0x90) + stream[:4096])
            write("chunk_decoder", "%s-%s-small" % (name, direction), bytes([0x15]) + split(0x82) + stream[:2048])
    for name, stream in hand_made_chunks().items():
        write("chunk_decoder", name, bytes([default_limits]) + split() + stream)
        write("chunk_decoder", name + "-bytewise", bytes([0xC0 | 0x3F]) + split(1) + stream)

    # amf0 / amf3: [flags][bytes]; 0x1F = depth 64, 65536 elements, 0x40 = AMF3 message body
    bodies = {}
    for name, c2s, s2c in fx:
        for direction, data in (("c2s", c2s), ("s2c", s2c)):
            for i, m in enumerate(rtmp_dump.ChunkParser(data, direction).messages(HANDSHAKE)):
                if m["type"] in (15, 17, 18, 20):
                    bodies.setdefault(m["body"], "%s-%s-%d" % (name, direction, i))
    for body, name in bodies.items():
        write("amf0", name, bytes([0x1F]) + body)
    for name, body in commands().items():
        write("amf0", "cmd-" + name, bytes([0x5F if name == "amf3_format" else 0x1F]) + body)
    for name, body in amf0_seeds().items():
        write("amf0", name, bytes([0x1F]) + body)
        write("amf0", name + "-small", bytes([0x02]) + body)
    for name, body in amf3_seeds().items():
        write("amf3", name, bytes([0x1F]) + body)
        write("amf3", name + "-in-amf0", bytes([0x5F]) + body)
        write("amf3", name + "-small", bytes([0x0A]) + body)

    # server_session: [flags][split][bytes after the handshake (or all of them, flag bit 0)]
    for name, c2s, s2c in fx:
        stream = c2s[HANDSHAKE:HANDSHAKE + 12288]
        write("server_session", name + "-accept", bytes([0x00]) + split() + stream)
        write("server_session", name + "-reject-pieces", bytes([0x12]) + split(0x81, 7) + stream[:4096])
        write("server_session", name + "-alternate-active", bytes([0xA4]) + split(0x90) + stream)
        write("server_session", name + "-undecided-small", bytes([0x5E]) + split(0x84) + stream[:4096])
        write("server_session", name + "-raw", bytes([0x01]) + split(0x8c, 0) + c2s[:HANDSHAKE + 4096])
    play = dict((n, c) for n, c, _ in fx)["rtmpdump_play_nginx"][HANDSHAKE:]
    hand = hand_made_chunks()
    write("server_session", "controls-after-play", bytes([0x80]) + split() + play + hand["controls"] + hand["aggregate"])
    write("server_session", "raw-http", bytes([0x01]) + split() + b"POST /open/1 HTTP/1.1\r\n\r\n")


if __name__ == "__main__":
    main()
