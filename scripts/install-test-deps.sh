#!/usr/bin/env bash
# Install the real RTMP peers that rtmp_core's interop tests, fixture recording and
# benchmarks talk to, on a fresh Debian 12 machine (run as root; idempotent; quiet
# unless something fails).
#
#   Debian packages : ffmpeg (+ffprobe), rtmpdump, nginx + libnginx-mod-rtmp (and
#                     libnginx-mod-stream: TLS in front of it for rtmps), openssl (test
#                     certificates), gst-launch-1.0 with rtmp2src/rtmp2sink/x264enc, tshark,
#                     valgrind, pkg-config and cmake (the C API tests build against an
#                     installed tree)
#   Python venv     : target/test-venv with imageio-ffmpeg (a recent static ffmpeg that
#                     speaks Enhanced RTMP), pytest + pytest-timeout, and mypy (type
#                     checks of the Python module); pip builds bindings/python with maturin
#
# After installing it checks that every peer is usable and prints one summary line.
# Environment: TEST_VENV (default <repo>/target/test-venv), PYTHON (default python3).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TEST_VENV:-$REPO_ROOT/target/test-venv}"
PYTHON="${PYTHON:-python3}"
LOG="$(mktemp -t install-test-deps.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

die() {
    echo "install-test-deps: ERROR: $*" >&2
    exit 1
}

# Run a command with its output captured; on failure show the output and stop.
quiet() {
    if ! "$@" >"$LOG" 2>&1; then
        echo "install-test-deps: command failed: $*" >&2
        tail -n 60 "$LOG" >&2
        exit 1
    fi
}

APT_PACKAGES=(
    ffmpeg rtmpdump nginx libnginx-mod-rtmp libnginx-mod-stream openssl
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
    tshark valgrind pkgconf cmake
)

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

apt_install() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "need root to apt-get install: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer it up front.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        debconf-set-selections
    # Wait (up to 10 min) for any other apt/dpkg run holding the lock.
    local aptopts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
        -o Dpkg::Options::=--force-confold)
    quiet apt-get "${aptopts[@]}" update -q
    quiet apt-get "${aptopts[@]}" install -y -q --no-install-recommends "${missing[@]}"
}

apt_install "${APT_PACKAGES[@]}"

# ---------------------------------------------------------------- Python venv
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >"$LOG" 2>&1; then
        rm -rf "$VENV"
        apt_install python3-venv
        quiet "$PYTHON" -m venv "$VENV"
    fi
fi
if ! "$VENV/bin/python" -c 'import imageio_ffmpeg, pytest, pytest_timeout, mypy' >/dev/null 2>&1; then
    quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        imageio-ffmpeg pytest pytest-timeout mypy
fi

# ---------------------------------------------------------------- verification
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found after install ($2)"
}
need_cmd ffmpeg ffmpeg
need_cmd ffprobe ffmpeg
need_cmd rtmpdump rtmpdump
need_cmd nginx nginx
need_cmd gst-launch-1.0 gstreamer1.0-tools
need_cmd gst-inspect-1.0 gstreamer1.0-tools
need_cmd tshark tshark
need_cmd valgrind valgrind
need_cmd openssl openssl
need_cmd pkg-config pkgconf
need_cmd cmake cmake

# (capture first: grep -q closing the pipe early would trip pipefail)
ff_protocols="$(ffmpeg -hide_banner -protocols 2>/dev/null || true)"
ff_encoders="$(ffmpeg -hide_banner -encoders 2>/dev/null || true)"
grep -qx ' *rtmp' <<<"$ff_protocols" || die "Debian ffmpeg has no rtmp protocol"
grep -q libx264 <<<"$ff_encoders" || die "Debian ffmpeg has no libx264 encoder"

# nginx: the rtmp module must load and an rtmp{} block must parse.
NGX_RTMP_SO=""
for so in /usr/lib/nginx/modules/ngx_rtmp_module.so /usr/share/nginx/modules/ngx_rtmp_module.so; do
    [ -f "$so" ] && NGX_RTMP_SO="$so" && break
done
[ -n "$NGX_RTMP_SO" ] || die "ngx_rtmp_module.so not found (package libnginx-mod-rtmp)"
NGX_STREAM_SO=""
for so in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
    [ -f "$so" ] && NGX_STREAM_SO="$so" && break
done
[ -n "$NGX_STREAM_SO" ] || die "ngx_stream_module.so not found (package libnginx-mod-stream)"
NGX_TMP="$(mktemp -d -t ngx-check.XXXXXX)"
cat >"$NGX_TMP/nginx.conf" <<EOF
load_module $NGX_RTMP_SO;
load_module $NGX_STREAM_SO;
error_log $NGX_TMP/error.log;
pid $NGX_TMP/nginx.pid;
events {}
rtmp { server { listen 127.0.0.1:19350; application live { live on; } } }
stream { server { listen 127.0.0.1:19351; proxy_pass 127.0.0.1:19350; } }
EOF
if ! nginx -t -p "$NGX_TMP" -c "$NGX_TMP/nginx.conf" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    rm -rf "$NGX_TMP"
    die "nginx cannot load the rtmp and stream modules ($NGX_RTMP_SO, $NGX_STREAM_SO)"
fi
rm -rf "$NGX_TMP"

for el in rtmp2src rtmp2sink x264enc flvmux h264parse aacparse voaacenc; do
    gst-inspect-1.0 "$el" >/dev/null 2>&1 || die "GStreamer element '$el' missing"
done

IIO_FFMPEG="$("$VENV/bin/python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())' 2>/dev/null)" ||
    die "imageio-ffmpeg is not importable in $VENV"
"$IIO_FFMPEG" -hide_banner -version >/dev/null 2>&1 ||
    die "imageio-ffmpeg binary $IIO_FFMPEG does not run"

# ---------------------------------------------------------------- summary
v_ffmpeg="$(ffmpeg -version | awk 'NR==1{print $3}')"
v_iio="$("$IIO_FFMPEG" -version | awk 'NR==1{print $3}')"
v_rtmpdump="$(rtmpdump -h 2>&1 | awk '/^RTMPDump/{print $2}' || true)"
v_nginx="$(nginx -v 2>&1 | sed 's/.*nginx\///')"
v_rtmpmod="$(dpkg-query -W -f='${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?')"
v_gst="$(gst-launch-1.0 --version | awk 'NR==1{print $NF}')"
v_tshark="$(tshark --version 2>/dev/null | awk 'NR==1{print $3}' || true)"
v_valgrind="$(valgrind --version | sed 's/valgrind-//')"
echo "test deps OK: ffmpeg $v_ffmpeg, imageio-ffmpeg $v_iio, rtmpdump $v_rtmpdump," \
    "nginx $v_nginx + rtmp $v_rtmpmod, gstreamer $v_gst, tshark $v_tshark, valgrind $v_valgrind"
