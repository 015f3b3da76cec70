#!/usr/bin/env bash
# Live-mode benchmark (not a test): n=4 on loopback, both protocols, several batch sizes and client
# counts. Prints one Markdown table row per configuration (throughput, p50/p99, mean store sync, the
# `bftsim check` verdict) and writes the load generator's JSON reports and the cluster dirs to $OUT.
# Usage: [AUTH=mac|ed25519] [PROTOCOLS="pbft hotstuff"] scripts/live-bench.sh [DURATION_SECONDS]
# Needs: swift build -c release --product bftsim. Run it on a quiet machine: HotStuff's critical path
# holds two store syncs per view, so other processes' disk writes show up directly in its throughput.
set -euo pipefail
B=${BFTSIM:-.build/release/bftsim}
DUR=${1:-10}
OUT=${OUT:-/tmp/bftsim-live-bench-$$}
AUTH=${AUTH:-mac}
mkdir -p "$OUT"
port=$((20000 + RANDOM % 10000))  # below the ephemeral range (32768-60999), which outgoing connections use
echo "# $(date -u +%FT%TZ) auth=$AUTH duration=${DUR}s load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| protocol | batch | clients × outstanding | throughput (req/s) | p50 | p99 | mean sync | check |"
echo "|---|---|---|---|---|---|---|---|"
run() { # protocol batch clients outstanding
  local p=$1 b=$2 c=$3 k=$4 d="$OUT/$1-b$2-c$3x$4"
  port=$((port + 10))
  "$B" keygen --replicas 4 --clients $((c * k)) --out "$d" --protocol "$p" --base-port $port --batch-size "$b" --client-auth "$AUTH" >/dev/null
  "$B" cluster up "$d" >/dev/null
  sleep 1
  "$B" client --config "$d/cluster.json" --clients "$c" --outstanding "$k" --duration "$DUR" --out "$d/load.json" >/dev/null
  "$B" cluster down "$d" >/dev/null
  local verdict; verdict=$("$B" check "$d" | sed -n 2p | awk '{print $4, $5}')
  python3 - "$d" "$p" "$b" "$c" "$k" "$verdict" <<'PY'
import json, sys, glob
d, p, b, c, k, verdict = sys.argv[1:]
r = json.load(open(d + "/load.json"))
lat = r["latencyNs"]
syncs = [json.load(open(f)) for f in sorted(glob.glob(d + "/data/r*/stats.json"))]
sync = sum(s.get("syncMeanMicros", 0) for s in syncs) / max(1, len(syncs))
print(f"| {p} | {b} | {c} × {k} | {r['throughputPerSecond']:,.0f} | {lat.get('p50', 0)/1e6:.1f} ms | {lat.get('p99', 0)/1e6:.1f} ms | {sync/1000:.2f} ms | {verdict} |")
PY
}
for p in ${PROTOCOLS:-pbft hotstuff}; do
  run $p 100 4 175
  run $p 400 16 175
  run $p 100 4 16
  run $p 10 4 4
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
