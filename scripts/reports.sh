#!/usr/bin/env bash
# Regenerates the sample reports in Reports/ from shipped scenarios (deterministic: same files
# every time). Run from anywhere; uses the debug build of bftsim.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product bftsim >/dev/null
bin=.build/debug/bftsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sample() { # sample NAME SCENARIO
  "$bin" run "$2" --out "$tmp/$1" --quiet >/dev/null || true   # a negative control exits non-zero only if unexpected
  "$bin" report "$tmp/$1" --out "Reports/$1.html" >/dev/null
  echo "Reports/$1.html  <-  $2"
}
sample pbft-primary-crash Scenarios/pbft/primary-crash.yaml
sample pbft-too-many-crashes Scenarios/pbft/too-many-crashes.yaml
sample hotstuff-crashed-leader Scenarios/hotstuff/crashed-leader.yaml
sample hotstuff-two-chain-leader-partition-heal Scenarios/hotstuff/leader-partition-heal.yaml
"$bin" report "$tmp/pbft-primary-crash" --format md --out Reports/pbft-primary-crash.md >/dev/null
"$bin" report "$tmp/pbft-primary-crash" --format json --out Reports/pbft-primary-crash.json >/dev/null
echo "Reports/pbft-primary-crash.md, Reports/pbft-primary-crash.json"
