#!/usr/bin/env bash
# Issue 18: adaptive vs every static arm of an adaptive scenario, overall and per phase.
# Usage: scripts/adaptive-compare.sh SCENARIO PHASE_ENDS... (e.g. 1s 2s 3s); BFTSIM=path to bftsim.
# PROTOCOL=hotstuff (or hotstuff-two-chain) runs the static arms under that protocol instead (no adaptive
# row; the controller is PBFT's): the per-phase bound a controller that could also switch protocol faces.
# Per-phase completions come from runs stopped at each phase end (the simulation is deterministic,
# so a shorter run is a prefix of the longer one).
set -euo pipefail
scn=$1; shift
bin=${BFTSIM:-.build/debug/bftsim}
tmp=$(mktemp -d)
arms=$(python3 - "$scn" <<'PY'
import sys,re
t=open(sys.argv[1]).read()
m=lambda k: re.search(r'^    '+k+r': \[(.*)\]', t, re.M)
b=[x.strip() for x in m('batch_size_max').group(1).split(',')] if m('batch_size_max') else [None]
d=[x.strip() for x in m('batch_delay_max').group(1).split(',')] if m('batch_delay_max') else [None]
v=[x.strip() for x in m('view_change_timeout').group(1).split(',')] if m('view_change_timeout') else [None]
for x in b:
  for y in d:
    for z in v: print(f"{x},{y},{z}")
PY
)
variant() { # $1 = arm "b,d,v" or adaptive; $2 = time limit
  python3 - "$scn" "$1" "$2" <<'PY'
import sys,re
import os
t=open(sys.argv[1]).read(); arm=sys.argv[2]; lim=sys.argv[3]
if os.environ.get('PROTOCOL'): t=re.sub(r'^protocol: .*$', 'protocol: '+os.environ['PROTOCOL'], t, flags=re.M)
t=re.sub(r'time_limit: [^,}]+', 'time_limit: '+lim, t)
if arm!='adaptive':
  b,d,v=arm.split(',')
  t=re.sub(r'  adaptive:\n(    .*\n)+', '', t)
  if b!='None': t=re.sub(r'^  batch_size_max: .*$', '  batch_size_max: '+b, t, flags=re.M)
  if d!='None': t=re.sub(r'^  batch_delay_max: .*$', '  batch_delay_max: '+d, t, flags=re.M)
  if v!='None':
    t=re.sub(r'^  view_change_timeout: .*$', '  view_change_timeout: '+v, t, flags=re.M) if re.search(r'^  view_change_timeout:', t, re.M) else t.replace('  adaptive', '  adaptive').replace('parameters:\n', 'parameters:\n  view_change_timeout: '+v+'\n',1)
print(t)
PY
}
printf "%-22s" config; for e in "$@"; do printf "%10s" "≤$e"; done; printf "%10s\n" "total/s"
rows="adaptive $arms"; [ -z "${PROTOCOL:-}" ] || rows="$arms"
for arm in $rows; do
  printf "%-22s" "$arm"; prev=0; last=0; lastT=0
  for e in "$@"; do
    variant "$arm" "$e" > "$(dirname "$scn")/.cmp.yaml"
    c=$("$bin" run "$(dirname "$scn")/.cmp.yaml" --out "$tmp/o" 2>/dev/null | sed -n 's/^requests  \([0-9]*\)\/.*/\1/p')
    printf "%10s" $((c-prev)); prev=$c
  done
  t=$(python3 -c "import sys; print(sys.argv[1])" "$prev"); printf "%10s\n" "$t"
done
rm -f "$(dirname "$scn")/.cmp.yaml"; rm -rf "$tmp"
