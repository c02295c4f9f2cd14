#!/usr/bin/env bash
# Relay benchmark: one publisher looping a ~6 Mbit/s FLV, N players, against one RTMP server.
#
#   scripts/bench_relay.sh [--server nginx|rtmp_core] [--players "100 300 1000"]
#                          [--seconds 20] [--ramp-ms 2] [--port 19360] [--media FILE.flv]
#                          [--coalesce-ms MS] [--floor]
#
# The server under test gets CPU 0 (one worker), the load tool (examples/rtmp_load.rs, one
# thread) CPU 1, both via taskset. For each player count it measures:
#   - server CPU seconds: utime + stime of the server process (for nginx, its worker) from
#     /proc/PID/stat before and after the run, clock ticks / getconf CLK_TCK;
#   - server memory: VmRSS two seconds before the end of the run and VmHWM (peak) from
#     /proc/PID/status; "KB/player" is (VmHWM - VmRSS before the run) / players, which
#     also counts what the stream itself costs (a GOP cache); "marg KB" is the marginal
#     cost of a player, (VmHWM - VmHWM of a one-player baseline run) / (players - 1);
#   - what the load tool reports (--json): bytes delivered to players, per-player frame loss,
#     delivery latency (publisher send -> player receive, both in the load tool).
# and prints one table row per point. Raw JSON and server logs go to target/bench/relay/.
#
# --server nginx      nginx + libnginx-mod-rtmp via tests/tools/run_nginx_rtmp.sh's config,
#                     with worker_connections raised so 1000+ players fit.
# --server rtmp_core  target/release/examples/server --listen 127.0.0.1:PORT --workers 1
#                     (skipped, with a message, if that example is not built yet);
#                     --coalesce-ms MS passes the server's write coalescing window.
#
# --floor            after each point, examples/send_floor.rs writes the same frames to as
#                     many loopback sockets with nothing else to do (same CPUs, same
#                     --coalesce-ms): the kernel's price for the write pattern, printed
#                     as "floor" and the server's share of it as "of floor".
#
# Media: target/bench/relay_6m.flv (generated with ffmpeg when missing): 20 s of 1280x720
# 30 fps H.264 at 6 Mbit/s CBR-ish (testsrc2 plus noise so x264 has to spend the bits),
# a key frame every 2 s, and 128 kbit/s AAC.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
log() { printf '==> %s\n' "$*" >&2; }

SERVER=nginx
PLAYERS="100 300 1000"
SECONDS_PER_POINT=20
RAMP_MS=2
COALESCE_MS=0
FLOOR=0
PORT=19460
MEDIA="$ROOT/target/bench/relay_6m.flv"
while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER="$2"; shift 2 ;;
        --players) PLAYERS="$2"; shift 2 ;;
        --seconds) SECONDS_PER_POINT="$2"; shift 2 ;;
        --ramp-ms) RAMP_MS="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --media) MEDIA="$2"; shift 2 ;;
        --coalesce-ms) COALESCE_MS="$2"; shift 2 ;;
        --floor) FLOOR=1; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

case "$SERVER" in
    nginx)
        if ! command -v nginx >/dev/null; then
            echo "nginx not installed (scripts/install-test-deps.sh)" >&2
            exit 1
        fi
        SERVER_DESC="nginx $(nginx -v 2>&1 | sed 's/.*\///') + nginx-rtmp, 1 worker"
        ;;
    rtmp_core)
        if [ ! -x "$ROOT/target/release/examples/server" ]; then
            log "target/release/examples/server is missing: the rtmp_core server example is" \
                "not built (cargo build --release --example server once it exists); skipping"
            exit 0
        fi
        SERVER_DESC="rtmp_core examples/server, 1 worker, write coalescing ${COALESCE_MS} ms"
        ;;
    *) echo "unknown server $SERVER (nginx or rtmp_core)" >&2; exit 2 ;;
esac

OUT="$ROOT/target/bench/relay"
mkdir -p "$OUT"
TICKS="$(getconf CLK_TCK)"

# Players + the publisher + the listener, with room to spare, for us and the server.
max_players=0
for n in $PLAYERS; do [ "$n" -gt "$max_players" ] && max_players=$n; done
want_fds=$((max_players + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
    log "ulimit -n is $(ulimit -n), below the $want_fds needed for $max_players players"
fi

if ! command -v taskset >/dev/null; then
    echo "taskset (util-linux) is needed" >&2
    exit 1
fi
if [ "$(nproc)" -lt 2 ]; then
    log "fewer than 2 CPUs: server and load tool will share one"
fi

if [ ! -s "$MEDIA" ]; then
    log "generating $MEDIA (20 s, 1280x720, 6 Mbit/s H.264 + 128 kbit/s AAC)"
    mkdir -p "$(dirname "$MEDIA")"
    ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t 20 -vf "noise=alls=12:allf=t" -pix_fmt yuv420p \
        -c:v libx264 -preset veryfast -b:v 6M -maxrate 6M -bufsize 6M -g 60 -keyint_min 60 \
        -c:a aac -b:a 128k -ac 2 -f flv "$MEDIA.tmp"
    mv "$MEDIA.tmp" "$MEDIA"
fi

log "building the load tool"
cargo build --release --example rtmp_load --example send_floor >&2
LOAD="$ROOT/target/release/examples/rtmp_load"

# Busy ticks of the whole machine (all CPUs): what else ran shows up as "other CPU s".
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

SERVER_PID=""   # the process we started (and stop)
MEASURE_PID=""  # the process that does the relaying (nginx: the worker)
start_server() {
    local work="$1"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is already in use: pick another with --port" >&2
        return 1
    fi
    case "$SERVER" in
        nginx)
            mkdir -p "$work"
            NGINX_RTMP_DRY_RUN=1 bash tests/tools/run_nginx_rtmp.sh "$PORT" "$work" 1 >/dev/null
            sed -i -e "s/worker_connections [0-9]*;/worker_connections $((max_players + 64));/" \
                -e "s/^worker_processes .*/&\nworker_rlimit_nofile $want_fds;/" "$work/nginx.conf"
            taskset -c 0 nginx -p "$work/" -e "$work/error.log" -c "$work/nginx.conf" &
            SERVER_PID=$!
            wait_port || { echo "nginx did not start (see $work/error.log)" >&2; return 1; }
            for _ in $(seq 50); do
                MEASURE_PID="$(pgrep -P "$SERVER_PID" | head -n1 || true)"
                [ -n "$MEASURE_PID" ] && break
                sleep 0.1
            done
            [ -n "$MEASURE_PID" ] || { echo "no nginx worker process" >&2; return 1; }
            ;;
        rtmp_core)
            taskset -c 0 "$ROOT/target/release/examples/server" --listen "127.0.0.1:$PORT" \
                --workers 1 --coalesce-ms "$COALESCE_MS" >"$work.log" 2>&1 &
            SERVER_PID=$!
            wait_port || { echo "rtmp_core server did not start (see $work.log)" >&2; return 1; }
            MEASURE_PID="$SERVER_PID"
            ;;
    esac
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
    # The next point needs the port free again.
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
        sleep 0.1
    done
}
trap stop_server EXIT


ROWS=()
# A one-player run first: the baseline that per-player memory is measured against.
for n in 1 $PLAYERS; do
    log "$SERVER: $n players, $SECONDS_PER_POINT s"
    work="$OUT/$SERVER-$n"
    rm -rf "$work"
    if ! start_server "$work"; then
        log "$SERVER did not start for $n players; skipping this point"
        stop_server
        continue
    fi
    sleep 0.5
    rss0="$(status_kb "$MEASURE_PID" VmRSS)"
    cpu0="$(cpu_ticks "$MEASURE_PID")"
    all0="$(machine_ticks)"
    (sleep "$((SECONDS_PER_POINT - 2))"; status_kb "$MEASURE_PID" VmRSS >"$work.rss") &
    sampler=$!
    taskset -c 1 "$LOAD" --url "rtmp://127.0.0.1:$PORT/live/bench" --players "$n" \
        --publish "$MEDIA" --duration "$SECONDS_PER_POINT" --ramp-ms "$RAMP_MS" --json \
        >"$work.json" 2>"$work.load.log" || log "load tool failed (see $work.load.log)"
    cpu1="$(cpu_ticks "$MEASURE_PID")"
    all1="$(machine_ticks)"
    hwm="$(status_kb "$MEASURE_PID" VmHWM)"
    wait "$sampler" || true
    rss="$(cat "$work.rss" 2>/dev/null || echo 0)"
    stop_server
    floor=-
    if [ "$FLOOR" = 1 ] && [ "$n" -gt 1 ]; then
        log "kernel floor: $n players, $SECONDS_PER_POINT s"
        floor="$("$ROOT/target/release/examples/send_floor" --media "$MEDIA" --players "$n" \
            --seconds "$SECONDS_PER_POINT" --coalesce-ms "$COALESCE_MS" 2>"$work.floor.log" |
            sed -n 's/.*: \([0-9.]*\) GB per CPU second.*/\1/p')"
        [ -n "$floor" ] || { log "send_floor failed (see $work.floor.log)"; floor=-; }
    fi
    ROWS+=("$n $(( cpu1 - cpu0 )) $(( all1 - all0 )) $rss0 $rss $hwm $floor $work.json")
done

python3 - "$TICKS" "$SERVER_DESC" "$MEDIA" "${ROWS[@]}" <<'EOF'
import json, sys
ticks, desc, media = float(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = [row.split() for row in sys.argv[4:]]
base_hwm = next((int(r[5]) for r in rows if r[0] == "1"), None)
print(f"server: {desc}; media: {media}")
head = ("players", "deliv GB", "CPU s", "GB/CPU s", "p50 ms", "p99 ms", "max ms",
        "loss", "lossy", "fail", "RSS MB", "HWM MB", "KB/player", "marg KB", "tool CPU",
        "other CPU", "floor", "of floor")
print(" | ".join(f"{h:>9}" for h in head))
for n, cpu, busy, rss0, rss, hwm, floor, path in rows:
    n, cpu_s = int(n), int(cpu) / ticks
    if n == 1:
        continue
    try:
        r = json.load(open(path))
    except (OSError, ValueError):
        print(f"{n:>9} | (no result, see {path})")
        continue
    gb = r["bytes_received"] / 1e9
    lat, loss = r["latency_ms"], r["loss"]
    ratio = loss["lost_frames"] / loss["expected_frames"] if loss["expected_frames"] else 0.0
    fmt = lambda v, f="{:.2f}": "-" if v is None else f.format(v)
    cells = (n, f"{gb:.2f}", f"{cpu_s:.2f}", f"{gb / cpu_s:.2f}" if cpu_s else "-",
             fmt(lat["p50"]), fmt(lat["p99"]), fmt(lat["max"]), f"{ratio * 100:.2f}%",
             loss["players_with_loss"], r["connect_failures"] + r["disconnects"],
             f"{int(rss) / 1024:.1f}", f"{int(hwm) / 1024:.1f}",
             f"{(int(hwm) - int(rss0)) / n:.1f}",
             fmt(None if base_hwm is None else (int(hwm) - base_hwm) / (n - 1), "{:.1f}"),
             fmt(r["load_tool_cpu_s"]),
             fmt(int(busy) / ticks - cpu_s - (r["load_tool_cpu_s"] or 0)), floor,
             f"{gb / cpu_s / float(floor) * 100:.0f}%" if floor != "-" and cpu_s else "-")
    print(" | ".join(f"{c:>9}" for c in cells))
print("deliv GB: bytes the players read; CPU s: server utime+stime; loss: frames sent after a"
      " player's first frame that it never received, all players; lossy: players that lost any;"
      " fail: connect failures + disconnects; KB/player: (VmHWM - VmRSS before) / players;"
      " marg KB: (VmHWM - VmHWM with one player) / (players - 1); floor: send_floor's GB per"
      " CPU s for the same writes (--floor), and of floor the server's GB/CPU s as a share of it;"
      " tool CPU: load tool CPU s; other CPU: machine busy CPU s minus server and load tool"
      " (high = the figures are disturbed by other work)")
EOF
