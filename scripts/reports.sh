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
# Fuzz campaign reports: a test-only HotStuff mutant fuzzed with the guided strategy, its coverage
# compared with the random strategy's; and honest PBFT (no failures). --omit-timing keeps them identical.
campaign() { # campaign NAME ARGS...
  "$bin" fuzz "${@:2}" --out "$tmp/$1" --quiet --jobs 2 --omit-timing >/dev/null || true  # exits 1 when it finds the mutant
}
campaign hs-random --protocol hotstuff --mutant vote-without-lock-check --strategy random --runs 1024
campaign hs-guided --protocol hotstuff --mutant vote-without-lock-check --strategy guided --runs 1024
"$bin" report "$tmp/hs-guided" --compare "$tmp/hs-random" --out Reports/campaign-hotstuff-mutant.html >/dev/null
campaign pbft-honest --protocol pbft --strategy guided --runs 256
"$bin" report "$tmp/pbft-honest" --compare "$tmp/pbft-honest" --out Reports/campaign-pbft-honest.html >/dev/null
"$bin" report "$tmp/hs-guided" --format md --out Reports/campaign-hotstuff-mutant.md >/dev/null
echo "Reports/campaign-hotstuff-mutant.html, .md, Reports/campaign-pbft-honest.html  <-  bftsim fuzz"
