#!/usr/bin/env bash
# Re-record the byte-exact RTMP fixtures in tests/fixtures/ from real peers.
#
#   tests/tools/record_fixtures.sh [OUTDIR] [SESSION...]
#
# OUTDIR defaults to tests/fixtures; SESSION names default to all of them (see the case
# statement at the bottom). For each session it starts a throwaway nginx-rtmp on a free
# loopback port, puts tests/tools/record_proxy.py in front of it, runs the client under
# test through the proxy and writes OUTDIR/NAME.c2s.bin, NAME.s2c.bin (raw bytes of the one
# proxied connection) and NAME.txt (commands, versions, decoded message list from
# tests/tools/rtmp_dump.py). Player sessions get their media from a second ffmpeg that
# publishes in real time (-re) straight to nginx, not through the proxy.
#
# Assumes scripts/install-test-deps.sh has run (Debian ffmpeg, rtmpdump, nginx +
# libnginx-mod-rtmp, gst-launch-1.0, and imageio-ffmpeg in target/test-venv).
# All traffic stays on 127.0.0.1; every process started here is stopped on exit.
# Recording is timing dependent: bytes differ run to run (handshake randoms, encoder
# timing, where a player joins); the shape of the sessions does not.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO_ROOT/tests/tools"
OUT="${1:-$REPO_ROOT/tests/fixtures}"
shift || true
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
VENV="${TEST_VENV:-$REPO_ROOT/target/test-venv}"
PY=python3

TMP="$(mktemp -d -t rtmp-fixtures.XXXXXX)"
PIDS=()

MAIN_PID=$BASHPID
cleanup() {
    local p
    [ "$BASHPID" = "$MAIN_PID" ] || return 0 # not in a failing $(...) subshell
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# Forget a reaped pid so cleanup never signals a recycled one.
forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

die() {
    echo "record_fixtures: ERROR: $*" >&2
    exit 1
}

free_port() { # [PREFERRED]: PREFERRED if it is free, else any free port
    $PY -c '
import socket, sys
for p in sys.argv[1:] + ["0"]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", int(p)))
    except OSError:
        continue
    print(s.getsockname()[1]); break' "$@"
}

wait_port() { # PORT
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "nothing listening on 127.0.0.1:$1"
}

# wait_pid PID SECONDS: wait for a background job, TERM it if it overstays.
wait_pid() {
    local pid="$1" t="$2" i
    for i in $(seq $((t * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "record_fixtures: pid $pid still running after ${t}s, sending SIGTERM" >&2
        kill -TERM "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

IIO_FFMPEG="$("$VENV/bin/python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')" ||
    die "imageio-ffmpeg missing in $VENV (run scripts/install-test-deps.sh)"

# Same small media for every session: 160x120 15 fps H.264 + 44.1 kHz mono AAC.
SRC=(-f lavfi -i testsrc2=size=160x120:rate=15 -f lavfi -i sine=frequency=440:sample_rate=44100)
ENC=(-c:v libx264 -preset ultrafast -tune zerolatency -g 15 -b:v 150k -c:a aac -b:a 32k)

versions() {
    echo "- Debian ffmpeg: $(ffmpeg -version | head -n1)"
    echo "- imageio-ffmpeg ffmpeg: $("$IIO_FFMPEG" -version | head -n1) (imageio-ffmpeg $("$VENV/bin/python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.__version__)'))"
    echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'), libnginx-mod-rtmp $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp)"
    echo "- rtmpdump: $(rtmpdump -h 2>&1 | grep -m1 '^RTMPDump' || true) (Debian $(dpkg-query -W -f='${Version}' rtmpdump))"
    echo "- GStreamer: $(gst-launch-1.0 --version | head -n1 | sed 's/.*version //'), plugins-bad $(dpkg-query -W -f='${Version}' gstreamer1.0-plugins-bad), plugins-ugly $(dpkg-query -W -f='${Version}' gstreamer1.0-plugins-ugly)"
}

NGX_PID=""
NGX_PORT=""
start_nginx() {
    NGX_PORT="$(free_port)"
    "$TOOLS/run_nginx_rtmp.sh" "$NGX_PORT" "$TMP/nginx-$NGX_PORT" >"$TMP/nginx-$NGX_PORT.out" 2>&1 &
    NGX_PID=$!
    PIDS+=("$NGX_PID")
    wait_port "$NGX_PORT"
}
stop_nginx() {
    kill -TERM "$NGX_PID" 2>/dev/null || true
    wait "$NGX_PID" 2>/dev/null || true
    forget_pid "$NGX_PID"
}

PROXY_PID=""
CMD_TEXT=""
PUB_SRC=()
PUB_ENC=()
PROXY_PORT=""
# The client under test sees the proxy's port (it is in tcUrl), so prefer a fixed one:
# RECORD_PROXY_PORT, default 1935, or any free port if that is taken.
start_proxy() { # NAME
    local log="$TMP/$1.proxy.out" i
    $PY "$TOOLS/record_proxy.py" --port "$(free_port "${RECORD_PROXY_PORT:-1935}")" --target "127.0.0.1:$NGX_PORT" \
        --prefix "$OUT/$1" --count 1 --timeout 120 -v >"$log" 2>&1 &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    for i in $(seq 100); do
        PROXY_PORT="$(sed -n 's/^listening 127.0.0.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)"
        [ -n "$PROXY_PORT" ] && return 0
        sleep 0.1
    done
    die "record_proxy did not start: $(cat "$log")"
}

# run_logged NAME LABEL CMD...: run in the foreground, log to $TMP, fail loudly.
run_logged() {
    local name="$1" label="$2"
    shift 2
    if ! "$@" >"$TMP/$name.$label.log" 2>&1; then
        tail -n 30 "$TMP/$name.$label.log" >&2
        die "$name: $label failed: $*"
    fi
}

# write_txt NAME TITLE COMMANDS_TEXT NOTES_TEXT
write_txt() {
    local name="$1" f="$OUT/$1.txt"
    {
        echo "# $name — $2"
        echo
        echo "Recorded $(date -u +%Y-%m-%d) by tests/tools/record_fixtures.sh through tests/tools/record_proxy.py"
        echo "(\$PROXY = the proxy's port, \$NGINX = nginx's port; both 127.0.0.1). nginx config:"
        echo "tests/tools/nginx-rtmp.conf.template (app 'live', live on, chunk_size 4096)."
        echo "$name.c2s.bin = bytes client -> nginx, $name.s2c.bin = bytes nginx -> client,"
        echo "each starting with the handshake (C0+C1+C2 / S0+S1+S2, 3073 bytes) of one TCP connection."
        echo
        echo "## Commands"
        echo
        echo "$3" | sed 's/^/    /'
        echo
        echo "## Versions"
        echo
        versions
        if [ -n "$4" ]; then
            echo
            echo "## Notes"
            echo
            echo "$4"
        fi
        echo
        echo "## Decoded (tests/tools/rtmp_dump.py $name; media messages collapsed)"
        echo
        $PY "$TOOLS/rtmp_dump.py" "$OUT/$name" | sed "s|$OUT/||; s/^/    /"
    } >"$f"
}

flv_summary() { # FILE -> "N video, M audio packets"
    local v a
    v="$(ffprobe -v error -select_streams v -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1" 2>/dev/null || echo 0)"
    a="$(ffprobe -v error -select_streams a -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1" 2>/dev/null || echo 0)"
    echo "${v:-0} video, ${a:-0} audio packets"
}

# ------------------------------------------------------------------ publish sessions
# record_publish NAME FFMPEG_BINARY [extra output options...]
# Input/encoding options come from PUB_SRC/PUB_ENC (default SRC/ENC).
record_publish() {
    local name="$1" bin="$2"
    shift 2
    start_nginx
    start_proxy "$name"
    local src=("${SRC[@]}") enc=("${ENC[@]}")
    [ ${#PUB_SRC[@]} -eq 0 ] || src=("${PUB_SRC[@]}")
    [ ${#PUB_ENC[@]} -eq 0 ] || enc=("${PUB_ENC[@]}")
    PUB_SRC=()
    PUB_ENC=()
    local cmd=("$bin" -hide_banner -nostdin -loglevel warning "${src[@]}" -t 2 "${enc[@]}" "$@"
        -f flv "rtmp://127.0.0.1:$PROXY_PORT/live/test")
    run_logged "$name" publisher "${cmd[@]}"
    wait_pid "$PROXY_PID" 10
    stop_nginx
    local shown="${cmd[*]}"
    shown="${shown//$PROXY_PORT/\$PROXY}"
    CMD_TEXT="${shown/$IIO_FFMPEG/\$(target/test-venv/bin/python -c \'import imageio_ffmpeg;print(imageio_ffmpeg.get_ffmpeg_exe())\')}"
}

rec_ffmpeg_publish_nginx() {
    local name=ffmpeg_publish_nginx
    record_publish "$name" ffmpeg
    write_txt "$name" "Debian ffmpeg (ffmpeg's native RTMP client) publishing H.264+AAC to nginx-rtmp" "$CMD_TEXT" \
        "2 s of 160x120 15 fps H.264 (GOP 15) + 44.1 kHz mono AAC, pushed as fast as ffmpeg encodes (no -re)."
}

# Codecs the modern ffmpeg is told to announce in connect's fourCcList (Enhanced RTMP).
# Without -rtmp_enhanced_codecs it announces nothing and its connect looks like ffmpeg 5's.
ERTMP_CODECS="av01,avc1,hvc1,vp09,mp4a,Opus,fLaC,ac-3,ec-3,.mp3"

rec_ffmpeg9_publish_nginx() {
    local name=ffmpeg9_publish_nginx
    record_publish "$name" "$IIO_FFMPEG" -rtmp_enhanced_codecs "$ERTMP_CODECS"
    write_txt "$name" "modern static ffmpeg (imageio-ffmpeg) publishing H.264+AAC to nginx-rtmp" "$CMD_TEXT" \
        "Same media as ffmpeg_publish_nginx. With -rtmp_enhanced_codecs the modern ffmpeg adds an
Enhanced RTMP fourCcList (strict array of FourCC strings) to connect; nginx-rtmp ignores it.
H.264 and AAC are still sent with the legacy FLV tag headers."
}

rec_ffmpeg9_publish_hevc_opus_nginx() {
    local name=ffmpeg9_publish_hevc_opus_nginx
    PUB_SRC=(-f lavfi -i testsrc2=size=160x120:rate=15 -f lavfi -i sine=frequency=440:sample_rate=48000)
    PUB_ENC=(-c:v libx265 -preset ultrafast -x265-params log-level=error:keyint=15 -b:v 150k -c:a libopus -b:a 32k)
    record_publish "$name" "$IIO_FFMPEG" -rtmp_enhanced_codecs "$ERTMP_CODECS"
    write_txt "$name" "modern ffmpeg publishing HEVC + Opus (Enhanced RTMP tag headers) to nginx-rtmp" "$CMD_TEXT" \
        "2 s of 160x120 15 fps HEVC (keyint 15) + 48 kHz mono Opus. The modern FLV muxer writes
ExVideoTagHeader (FourCC hvc1) and ExAudioTagHeader (FourCC Opus). nginx-rtmp 1.2.2 knows
neither but accepts and would relay them; this fixture is about the publisher's bytes."
}

rec_ffmpeg_publish_nginx_extts() {
    local name=ffmpeg_publish_nginx_extts
    record_publish "$name" ffmpeg -output_ts_offset 20000
    write_txt "$name" "Debian ffmpeg publishing with timestamps crossing 0xFFFFFF (extended timestamps)" "$CMD_TEXT" \
        "Same media as ffmpeg_publish_nginx, but the muxer offsets media timestamps by 20000 s
(20000000 ms > 0xFFFFFF). ffmpeg still sends metadata and sequence headers at 0, so the first
media message after them has a timestamp delta that needs the 4-byte extended timestamp field;
the first keyframe spans two 4096-byte chunks, so the fmt 3 continuation shows whether the
field is repeated there."
}

# ------------------------------------------------------------------ play sessions
# start_direct_publisher NAME SECONDS [extra output options...]: real-time ffmpeg -> nginx.
PUB_PID=""
start_direct_publisher() {
    local name="$1" secs="$2"
    shift 2
    ffmpeg -hide_banner -nostdin -loglevel warning -re "${SRC[@]}" -t "$secs" "${ENC[@]}" "$@" \
        -f flv "rtmp://127.0.0.1:$NGX_PORT/live/test" >"$TMP/$name.direct-publisher.log" 2>&1 &
    PUB_PID=$!
    PIDS+=("$PUB_PID")
}
direct_publisher_text() { # SECONDS [extra]
    local secs="$1"
    shift
    echo "ffmpeg -hide_banner -nostdin -loglevel warning -re ${SRC[*]} -t $secs ${ENC[*]} $* -f flv rtmp://127.0.0.1:\$NGINX/live/test   # direct, started 0.5 s after the player"
}

# record_play NAME PLAYER_KIND PUBLISH_SECONDS [publisher extra options...]
record_play() {
    local name="$1" kind="$2" secs="$3"
    shift 3
    start_nginx
    start_proxy "$name"
    local url="rtmp://127.0.0.1:$PROXY_PORT/live/test" cmd player_pid
    case "$kind" in
        ffmpeg) cmd=(ffmpeg -hide_banner -nostdin -loglevel warning -y -i "$url" -t 2 -c copy -f flv "$TMP/$name.flv") ;;
        rtmpdump) cmd=(rtmpdump -q -r "$url" -v -B 2 -m 3 -o "$TMP/$name.flv") ;;
        *) die "unknown player $kind" ;;
    esac
    # Player first (nginx-rtmp keeps it waiting on the idle stream), then the publisher,
    # so the player gets the stream from its first message.
    "${cmd[@]}" >"$TMP/$name.player.log" 2>&1 &
    player_pid=$!
    PIDS+=("$player_pid")
    sleep 0.5
    start_direct_publisher "$name" "$secs" "$@"
    wait_pid "$player_pid" 30
    wait_pid "$PROXY_PID" 10
    wait_pid "$PUB_PID" 15
    stop_nginx
    [ -s "$TMP/$name.flv" ] || { cat "$TMP/$name.player.log" >&2; die "$name: player wrote no media"; }
    local shown="${cmd[*]}"
    shown="${shown//$PROXY_PORT/\$PROXY}"
    shown="${shown//$TMP\//}"
    CMD_TEXT="$shown   # through the proxy, started first
$(direct_publisher_text "$secs" "$@")
# player output: $(flv_summary "$TMP/$name.flv")"
}

rec_ffmpeg_play_nginx() {
    local name=ffmpeg_play_nginx
    record_play "$name" ffmpeg 5
    write_txt "$name" "Debian ffmpeg playing a live stream from nginx-rtmp" "$CMD_TEXT" \
        "The player connects before the stream exists; nginx answers play at once and sends the media
when the real-time publisher arrives (~0.5 s later). The player stops after 2 s of output (-t 2)
and closes while the publisher is still live."
}

rec_ffmpeg_play_nginx_extts() {
    local name=ffmpeg_play_nginx_extts
    record_play "$name" ffmpeg 5 -output_ts_offset 20000
    write_txt "$name" "Debian ffmpeg playing from nginx-rtmp a stream whose timestamps cross 0xFFFFFF" "$CMD_TEXT" \
        "As ffmpeg_play_nginx, but the publisher offsets its media timestamps by 20000 s, so nginx
relays timestamps from 20000000 ms on and writes extended timestamps to the player (how, on
fmt 3 continuation chunks, is nginx-rtmp's convention)."
}

rec_rtmpdump_play_nginx() {
    local name=rtmpdump_play_nginx
    record_play "$name" rtmpdump 3
    write_txt "$name" "rtmpdump (librtmp) playing a live stream from nginx-rtmp" "$CMD_TEXT" \
        "The player connects before the stream exists. -B 2 only becomes the play duration argument
(2000 ms), which nginx-rtmp ignores for live streams, so rtmpdump receives the whole 3 s stream,
then StreamEOF + NetStream.Play.Stop when the publisher ends, and exits on its 3 s read timeout
(-m 3), closing with deleteStream."
}

# ------------------------------------------------------------------ GStreamer
rec_gstreamer_publish_nginx() {
    local name=gstreamer_publish_nginx
    start_nginx
    start_proxy "$name"
    local pipeline="videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=15/1 ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=150 key-int-max=15 ! h264parse ! flvmux streamable=true name=m ! rtmp2sink location=rtmp://127.0.0.1:$PROXY_PORT/live/test audiotestsrc num-buffers=86 samplesperbuffer=1024 freq=440 ! audio/x-raw,rate=44100,channels=1 ! audioconvert ! voaacenc bitrate=32000 ! aacparse ! m."
    # shellcheck disable=SC2086 # the pipeline is meant to be split into words
    run_logged "$name" publisher timeout 60 gst-launch-1.0 -q -e $pipeline
    wait_pid "$PROXY_PID" 10
    stop_nginx
    write_txt "$name" "GStreamer rtmp2sink publishing H.264+AAC (flvmux) to nginx-rtmp" \
        "gst-launch-1.0 -q -e ${pipeline//$PROXY_PORT/\$PROXY}" \
        "30 video frames (2 s at 15 fps) of 160x120 H.264 + 86x1024 samples of 44.1 kHz mono AAC,
not in real time (test sources run as fast as they can)."
}

ALL=(ffmpeg_publish_nginx ffmpeg_play_nginx rtmpdump_play_nginx ffmpeg9_publish_nginx
    gstreamer_publish_nginx ffmpeg_publish_nginx_extts ffmpeg_play_nginx_extts
    ffmpeg9_publish_hevc_opus_nginx)
SESSIONS=("$@")
[ ${#SESSIONS[@]} -gt 0 ] || SESSIONS=("${ALL[@]}")
for s in "${SESSIONS[@]}"; do
    declare -F "rec_$s" >/dev/null || die "unknown session '$s' (known: ${ALL[*]})"
    "rec_$s"
    printf '%-28s c2s %7d B  s2c %7d B\n' "$s" "$(stat -c %s "$OUT/$s.c2s.bin")" "$(stat -c %s "$OUT/$s.s2c.bin")"
done
