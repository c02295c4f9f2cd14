#!/usr/bin/env bash
# Run a throwaway nginx-rtmp server in the foreground on 127.0.0.1:PORT.
#
#   tests/tools/run_nginx_rtmp.sh PORT WORKDIR [WORKERS]
#
# Writes WORKDIR/nginx.conf from nginx-rtmp.conf.template (application "live", live on,
# record off, chunk_size 4096), then execs nginx with `daemon off`, so the PID of this
# script is the nginx master: stop it with `kill -TERM $PID` (or -QUIT to drain).
# Logs go to WORKDIR/error.log; nothing outside WORKDIR is written. Publish/play URL:
# rtmp://127.0.0.1:PORT/live/<name>.
#
# Typical use from a test or benchmark (start in the background, wait for the port):
#   tests/tools/run_nginx_rtmp.sh 19350 "$tmp" & ngx=$!
#   for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19350) 2>/dev/null && break; sleep 0.1; done
#   ...; kill -TERM $ngx; wait $ngx
# WORKERS > 1 gives one listening socket per worker; a player only sees a publisher on the
# same worker unless rtmp_auto_push is enabled, so keep 1 for relay tests.
# Set NGINX_RTMP_DRY_RUN=1 to only write the config and print the nginx command line.
# Set NGINX_RTMPS_PORT, NGINX_RTMPS_CERT and NGINX_RTMPS_KEY (PEM files) to also serve
# rtmps://127.0.0.1:NGINX_RTMPS_PORT: nginx's stream module terminates TLS (OpenSSL) and
# passes the bytes to the RTMP port, the way RTMPS ingest is commonly deployed.
# Needs the Debian packages nginx + libnginx-mod-rtmp (+ libnginx-mod-stream for rtmps),
# all installed by scripts/install-test-deps.sh.
set -euo pipefail

if [ $# -lt 2 ]; then
    awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0" >&2
    exit 2
fi
PORT="$1"
WORKDIR="$2"
WORKERS="${3:-1}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

RTMP_MODULE=""
for so in /usr/lib/nginx/modules/ngx_rtmp_module.so /usr/share/nginx/modules/ngx_rtmp_module.so; do
    if [ -f "$so" ]; then RTMP_MODULE="$so"; break; fi
done
if [ -z "$RTMP_MODULE" ]; then
    # Fall back to whatever Debian's modules-enabled snippet points at.
    snippet="$(grep -hs 'ngx_rtmp_module.so' /etc/nginx/modules-enabled/*.conf | head -n1 || true)"
    rel="$(sed -E 's/.*load_module +([^;]+);.*/\1/' <<<"$snippet")"
    case "$rel" in
        /*) RTMP_MODULE="$rel" ;;
        ?*) RTMP_MODULE="/usr/share/nginx/$rel" ;;
    esac
fi
if [ -z "$RTMP_MODULE" ] || [ ! -f "$RTMP_MODULE" ]; then
    echo "run_nginx_rtmp: ngx_rtmp_module.so not found (apt-get install libnginx-mod-rtmp)" >&2
    exit 1
fi

mkdir -p "$WORKDIR"
WORKDIR="$(cd "$WORKDIR" && pwd)"
sed -e "/^#/!s|@RTMP_MODULE@|$RTMP_MODULE|g" -e "/^#/!s|@WORKDIR@|$WORKDIR|g" \
    -e "/^#/!s|@PORT@|$PORT|g" -e "/^#/!s|@WORKERS@|$WORKERS|g" \
    "$HERE/nginx-rtmp.conf.template" >"$WORKDIR/nginx.conf"

if [ -n "${NGINX_RTMPS_PORT:-}" ]; then
    STREAM_MODULE=""
    for so in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
        if [ -f "$so" ]; then STREAM_MODULE="$so"; break; fi
    done
    if [ -z "$STREAM_MODULE" ]; then
        echo "run_nginx_rtmp: ngx_stream_module.so not found (apt-get install libnginx-mod-stream)" >&2
        exit 1
    fi
    # load_module must come before the events block.
    sed -i "0,/^load_module /s|^load_module .*|&\nload_module $STREAM_MODULE;|" "$WORKDIR/nginx.conf"
    cat >>"$WORKDIR/nginx.conf" <<EOF

stream {
    server {
        listen 127.0.0.1:$NGINX_RTMPS_PORT ssl;
        ssl_certificate $NGINX_RTMPS_CERT;
        ssl_certificate_key $NGINX_RTMPS_KEY;
        proxy_pass 127.0.0.1:$PORT;
    }
}
EOF
fi

# -p: prefix (relative paths), -e: early error log (avoids /var/log/nginx), -c: our config.
cmd=(nginx -p "$WORKDIR/" -e "$WORKDIR/error.log" -c "$WORKDIR/nginx.conf")
if [ "${NGINX_RTMP_DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
exec "${cmd[@]}"
