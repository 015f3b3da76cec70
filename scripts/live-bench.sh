#!/usr/bin/env bash
# Live-mode benchmark (not a test): n=4 on loopback, both protocols, several batch sizes and client
# counts. Prints one line per configuration and writes the load generator's JSON reports to $OUT.
# Usage: [AUTH=mac] scripts/live-bench.sh [DURATION_SECONDS]   (needs: swift build -c release --product bftsim)
set -euo pipefail
B=${BFTSIM:-.build/release/bftsim}
DUR=${1:-10}
OUT=${OUT:-/tmp/bftsim-live-bench-$$}
mkdir -p "$OUT"
port=$((30000 + RANDOM % 20000))
run() { # protocol batch clients outstanding
  local p=$1 b=$2 c=$3 k=$4 d="$OUT/$1-b$2-c$3x$4"
  port=$((port + 10))
  "$B" keygen --replicas 4 --clients $((c * k)) --out "$d" --protocol "$p" --base-port $port --batch-size "$b" --client-auth "${AUTH:-ed25519}" >/dev/null
  "$B" cluster up "$d" >/dev/null
  sleep 1
  "$B" client --config "$d/cluster.json" --clients "$c" --outstanding "$k" --duration "$DUR" --out "$d/load.json" | sed -n 2,3p | tr '\n' ' '
  "$B" cluster down "$d"
  local verdict; verdict=$("$B" check "$d" | sed -n 2p | awk '{print $3, $4, $5}')
  echo " | $p batch=$b clients=${c}x$k | $verdict"
}
for p in pbft hotstuff; do
  run $p 100 4 175
  run $p 400 16 175
  run $p 100 4 16
  run $p 10 4 4
done
