#!/usr/bin/env bash
# Soak: publish/play churn against the relay server for a while, sampling its memory.
#
#   scripts/soak.sh [--minutes 30] [--port 19480] [--coalesce-ms MS]
#
# Every cycle (~20 s) the load tool connects 60 players and a publisher that loops the
# benchmark FLV for 15 s, then everyone leaves; meanwhile short ffmpeg players join and
# leave, and a second stream's publisher comes and goes. The server's VmRSS is sampled
# every 10 s into target/bench/soak/rss.csv, and once per cycle at its idle point (every
# connection of the cycle gone, so each sample is taken in the same state) into idle.csv.
# At the end the script prints both summaries and fails if the server died or if memory
# grew: after a warm-up fifth of the cycles, the last third's median idle RSS may exceed
# the first third's by at most 5% + 1 MiB; the least-squares slope of idle RSS over the
# steady cycles is printed too, in KiB per hour.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MINUTES=30
PORT=19480
COALESCE_MS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) MINUTES="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --coalesce-ms) COALESCE_MS="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT=target/bench/soak
mkdir -p "$OUT"
MEDIA=target/bench/relay_6m.flv
[ -f "$MEDIA" ] || bash scripts/bench_relay.sh --help >/dev/null  # documents how it is made
[ -f "$MEDIA" ] || { echo "missing $MEDIA: run scripts/bench_relay.sh once" >&2; exit 1; }
cargo build --release --example server --example rtmp_load -q
URL="rtmp://127.0.0.1:$PORT/live"

target/release/examples/server --listen "127.0.0.1:$PORT" --workers 2 \
    --coalesce-ms "$COALESCE_MS" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; pkill -P $$ 2>/dev/null || true' EXIT
sleep 0.5
echo "elapsed_s,rss_kb,connections_log_lines" >"$OUT/rss.csv"
echo "cycle,elapsed_s,rss_kb" >"$OUT/idle.csv"
END=$((SECONDS + MINUTES * 60))
(
    while [ $SECONDS -lt $END ]; do
        rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status 2>/dev/null || echo 0)
        echo "$SECONDS,$rss,$(wc -l <"$OUT/server.log")" >>"$OUT/rss.csv"
        sleep 10
    done
) &
SAMPLER=$!
cycle=0
while [ $SECONDS -lt $END ]; do
    cycle=$((cycle + 1))
    target/release/examples/rtmp_load --url "$URL/soak" --players 60 --publish "$MEDIA" \
        --duration 15 --ramp-ms 20 --json >"$OUT/load-$((cycle % 3)).json" 2>/dev/null &
    load=$!
    ffmpeg -v error -re -t 8 -i "$MEDIA" -c copy -f flv "$URL/side" >/dev/null 2>&1 &
    side=$!
    for _ in 1 2 3; do
        sleep 2
        timeout 4 ffmpeg -v error -i "$URL/soak" -t 2 -c copy -f null - >/dev/null 2>&1 &
    done
    wait $load $side 2>/dev/null || true
    kill -0 $SERVER 2>/dev/null || { echo "the server died in cycle $cycle" >&2; exit 1; }
    sleep 2
    echo "$cycle,$SECONDS,$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)" >>"$OUT/idle.csv"
done
wait $SAMPLER
kill -0 $SERVER || { echo "the server died" >&2; exit 1; }
python3 - "$OUT/rss.csv" "$OUT/idle.csv" <<'PY'
import csv, statistics, sys
rss = [int(r["rss_kb"]) for r in csv.DictReader(open(sys.argv[1])) if int(r["rss_kb"]) > 0]
print(f"all samples: {len(rss)}; RSS KiB min {min(rss)} max {max(rss)}")
idle = [(float(r["elapsed_s"]), int(r["rss_kb"])) for r in csv.DictReader(open(sys.argv[2]))]
# The first fifth is warm-up (allocator arenas and caches reaching their working size).
steady = idle[len(idle) // 5:]
if len(steady) < 6:
    sys.exit(f"only {len(idle)} cycles: run longer to judge memory")
third = len(steady) // 3
# Medians: a sample now and then catches the last player of a cycle still leaving.
first = statistics.median(v for _, v in steady[:third])
last = statistics.median(v for _, v in steady[-third:])
n = len(steady)
mt = sum(t for t, _ in steady) / n
mv = sum(v for _, v in steady) / n
slope = sum((t - mt) * (v - mv) for t, v in steady) / sum((t - mt) ** 2 for t, _ in steady)
print(f"idle RSS over {len(idle)} cycles: KiB min {min(v for _, v in idle)} max "
      f"{max(v for _, v in idle)}; steady first third median {first:.0f}, last third median "
      f"{last:.0f} ({(last / first - 1) * 100:+.1f}%); least-squares slope "
      f"{slope * 3600:+.0f} KiB/hour")
if last > first * 1.05 + 1024:
    sys.exit("memory grew")
PY
echo "cycles: $cycle; server log lines: $(wc -l <"$OUT/server.log")"
