#!/usr/bin/env bash
# Instructions per simulated event, counted by callgrind inside Simulator.run. Nearly deterministic (the
# same binary gives the same count within 0.1 % on any machine and under any load, unlike events/s on a
# shared VM), so it is the figure to compare two builds by (issue 19).
# Runs `bftsim bench --n 4 --crypto fast --no-complexity --seconds 1` per protocol; the bench runs the
# scenario twice (checkers on, then off), so the count covers both runs and is divided by 2 × events.
#   scripts/instructions-per-event.sh [BFTSIM] [protocol ...]     (default: .build/release/bftsim, pbft hotstuff)
# Needs valgrind (apt-get install -y valgrind). Valgrind 3.19 cannot read the DWARF 5 debug info Swift
# emits, so the binary is copied without it (symbols kept) first. Also prints allocations (malloc calls)
# per event, counted the same way.
#   scripts/instructions-per-event.sh --fuzz [BFTSIM] [protocol ...]
# counts instead the instructions per Twins-sized fuzz run (`fuzz --bench --bench-runs 200`, fast crypto,
# one job: the first 200 scenarios, so both builds do the same work), whole run including set-up.
set -euo pipefail
fuzz=0
if [ "${1:-}" = "--fuzz" ]; then fuzz=1; shift; fi
bin=${1:-.build/release/bftsim}
shift || true
protocols=("$@")
[ ${#protocols[@]} -gt 0 ] || protocols=(pbft hotstuff)
command -v valgrind >/dev/null || { echo "instructions-per-event: valgrind is not installed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip -g -o "$work/bftsim" "$bin"
if [ $fuzz = 1 ]; then
  for p in "${protocols[@]}"; do
    valgrind --tool=callgrind --toggle-collect='$s7Fuzzing9FuzzBenchO7measure_6crypto4jobs7seconds4runsAC3RowV14ScenarioFormat12ProtocolKindO_7BFTCore15SignatureSchemeOSiSdSiSgtFZ' \
      --callgrind-out-file="$work/cg.$p" "$work/bftsim" fuzz --bench --bench-runs 200 --jobs 1 --bench-protocol "$p" \
      --bench-crypto fast > "$work/bench.$p" 2> "$work/err.$p"
    events=$(grep -o '"mean_events": [0-9]*' "$work/bench.$p" | tr -dc 0-9)
    ir=$(grep -E '^totals' "$work/cg.$p" | awk '{print $2}')
    echo "$p: 200 runs, mean $events events, $((ir / 200)) instructions per run"
  done
  exit 0
fi
for p in "${protocols[@]}"; do
  valgrind --tool=callgrind --toggle-collect='$s10Simulation9SimulatorC3runAA0A6ResultVyF' \
    --callgrind-out-file="$work/cg.$p" "$work/bftsim" bench --n 4 --crypto fast --protocol "$p" \
    --no-complexity --seconds 1 > "$work/bench.$p" 2> "$work/err.$p"
  events=$(grep '"events"' "$work/bench.$p" | tr -dc 0-9)
  ir=$(grep -E '^totals' "$work/cg.$p" | awk '{print $2}')
  # Calls to malloc inside Simulator.run, summed over its callers (callgrind's call counts are exact).
  mallocs=$(callgrind_annotate --tree=caller --threshold=100 "$work/cg.$p" 2>/dev/null | python3 -c '
import re, sys
acc = 0
for line in sys.stdin:
    if "< " in line:
        m = re.search(r"\(([0-9,]+)x\)", line)
        if m: acc += int(m.group(1).replace(",", ""))
        continue
    if re.search(r"\*  .*:malloc \[", line): print(acc)
    acc = 0
')
  echo "$p: $events events, $ir instructions in Simulator.run, $((ir / (2 * events))) per event," \
    "$(python3 -c "print(f'{${mallocs:-0} / (2 * $events):.2f}')") allocations per event"
done
