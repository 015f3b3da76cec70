#!/usr/bin/env bash
# Chaos run of a live PBFT cluster (issue 13), printing figures:
#   1. kill -9 of a random replica every 5 s under load: safety violations, acknowledged requests lost
#      (`bftsim check`'s client-result check), catch-up time of every restart;
#   2. hostile-peer floods against replica 0 (forged-sender frames, expensive bad signatures, half-frame
#      connection holds, client-handshake hijack), each from one single-threaded process (one core),
#      with the cluster's throughput during each as a share of the baseline (target >= 80 %);
#   3. a full data disk on replica 3 (a tmpfs; root only): it stops with exit status 74, the others go
#      on, and once space is freed it restarts and catches up;
#   4. a soak under load: RSS growth of every replica (target < 10 %).
#
# Usage: scripts/chaos.sh [quick|full]      (quick ~2 min, full ~15 min)
# Durations (seconds) can be set one by one: KILL_SECONDS, BASELINE_SECONDS, FLOOD_SECONDS, DISK_SECONDS,
# SOAK_SECONDS; BFTSIM=path of the binary (default .build/release/bftsim, built if missing);
# LOAD="--clients 4 --outstanding 16"; PROTOCOL=pbft; PHASES="kill flood disk soak" (a subset runs only
# those). Needs python3 (to read stats.json).
set -u
cd "$(dirname "$0")/.."
MODE=${1:-full}
if [ "$MODE" = quick ]; then
  : "${KILL_SECONDS:=30}" "${BASELINE_SECONDS:=6}" "${FLOOD_SECONDS:=6}" "${DISK_SECONDS:=20}" "${SOAK_SECONDS:=30}"
else
  : "${KILL_SECONDS:=120}" "${BASELINE_SECONDS:=20}" "${FLOOD_SECONDS:=20}" "${DISK_SECONDS:=40}" "${SOAK_SECONDS:=600}"
fi
PROTOCOL=${PROTOCOL:-pbft}
PHASES=${PHASES:-kill flood disk soak}
phase() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
LOAD=${LOAD:---clients 4 --outstanding 16}
B=${BFTSIM:-.build/release/bftsim}
if [ ! -x "$B" ]; then swift build -c release --product bftsim || exit 4; fi
ROOT=$(mktemp -d /tmp/bftsim-chaos.XXXXXX)
FAILED=0
SUMMARY=()
note() { echo "== $*"; }
result() { SUMMARY+=("$*"); echo "   $*"; }
miss() { FAILED=1; result "MISSED: $*"; }
stat() { python3 -c "import json,sys; print(json.load(open('$1/data/r$2/stats.json')).get('$3', 0))" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
port() { echo $((20000 + (RANDOM % 400) * 20)); }

# A fresh 4-replica cluster in $ROOT/$1.
cluster() {
  local d=$ROOT/$1
  "$B" keygen --replicas 4 --clients 256 --out "$d" --protocol "$PROTOCOL" --base-port "$(port)" > /dev/null || exit 4
  echo "$d"
}

# Seconds until replica $2 is within 8 sequences of the most advanced other replica (timeout 20 s).
catchup() {
  local d=$1 id=$2 t0; t0=$(now)
  while :; do
    local mine best=0
    mine=$(stat "$d" "$id" lastCommittedSequence)
    for j in 0 1 2 3; do
      [ "$j" = "$id" ] && continue
      local s; s=$(stat "$d" "$j" lastCommittedSequence); [ "$s" -gt "$best" ] && best=$s
    done
    if [ "$mine" -gt 0 ] && [ $((mine + 8)) -ge "$best" ] && [ "$(stat "$d" "$id" recovered)" = True ]; then
      python3 -c "print(f'{$(now) - $t0:.2f}')"; return
    fi
    if python3 -c "import sys; sys.exit(0 if $(now) - $t0 > 20 else 1)"; then echo "timeout"; return; fi
    sleep 0.1
  done
}

# Runs bftsim check on $1, prints its output indented, and sets COMPLETED and VIOLATIONS (FAIL lines).
check() {
  local out; out=$("$B" check "$1")
  echo "$out" | sed 's/^/   | /'
  COMPLETED=$(echo "$out" | sed -n 's/^requests  \([0-9]*\)\/.*/\1/p')
  VIOLATIONS=$(echo "$out" | grep -c '^  FAIL')
}

# ---------------------------------------------------------------------------------------------------
if phase kill; then
note "1. kill -9 a random replica every 5 s for ${KILL_SECONDS} s under load"
D=$(cluster kill)
"$B" cluster up "$D" > /dev/null || exit 4
"$B" client --config "$D/cluster.json" $LOAD --duration $((KILL_SECONDS + 5)) --out "$D/load.json" > "$D/client.out" 2>&1 &
CLIENT=$!
sleep 2
END=$(( $(date +%s) + KILL_SECONDS ))
CATCHUPS=()
while [ "$(date +%s)" -lt "$END" ]; do
  T0=$(date +%s.%N)
  ID=$((RANDOM % 4))
  "$B" cluster kill "$D" --id "$ID"
  "$B" cluster restart "$D" --id "$ID" > /dev/null
  C=$(catchup "$D" "$ID")
  CATCHUPS+=("r$ID:$C")
  echo "   kill -9 r$ID, restarted, caught up in ${C} s"
  REST=$(python3 -c "print(max(0, 5 - ($(now) - $T0)))")
  sleep "$REST"
done
wait $CLIENT
"$B" cluster down "$D"
check "$D"
result "kill -9 x${#CATCHUPS[@]}: ${VIOLATIONS} failed checks (safety + client-result = acknowledged but never executed), ${COMPLETED} requests completed; catch-up s: ${CATCHUPS[*]}"
[ "$VIOLATIONS" = 0 ] || miss "kill -9: bftsim check reported violations"
echo "${CATCHUPS[*]}" | grep -q timeout && miss "kill -9: a restart did not catch up within 20 s"

fi
# ---------------------------------------------------------------------------------------------------
if phase flood; then
note "2. hostile-peer floods against r0 (${FLOOD_SECONDS} s each; throughput measured at r1)"
D=$(cluster flood)
"$B" cluster up "$D" > /dev/null || exit 4
TOTAL=$((BASELINE_SECONDS + 5 * (FLOOD_SECONDS + 4) + 10))
"$B" client --config "$D/cluster.json" $LOAD --duration "$TOTAL" --out "$D/load.json" > "$D/client.out" 2>&1 &
CLIENT=$!
sleep 3
window() {  # executed requests per second at r1 over $1 seconds
  local a b; a=$(stat "$D" 1 executed); sleep "$1"; b=$(stat "$D" 1 executed)
  python3 -c "print(round(($b - $a) / $1))"
}
BASE=$(window "$BASELINE_SECONDS")
result "baseline: $BASE req/s"
PID0=$(cat "$D/pids/r0.pid")
for KIND in forged expensive half-frame hijack; do
  RSS0=$(awk '/VmRSS/ {print $2}' "/proc/$PID0/status")
  "$B" cluster flood "$D" --id 0 --kind "$KIND" --seconds "$FLOOD_SECONDS" > "$D/flood-$KIND.json" &
  FLOOD=$!
  sleep 1
  TPUT=$(window $((FLOOD_SECONDS - 2)))
  RSS1=$(awk '/VmRSS/ {print $2}' "/proc/$PID0/status")
  wait $FLOOD
  SHARE=$(python3 -c "print(round(100 * $TPUT / max(1, $BASE)))")
  result "flood $KIND: $TPUT req/s = ${SHARE}% of baseline; r0 RSS ${RSS0} -> ${RSS1} kB; flood $(cat "$D/flood-$KIND.json")"
  [ "$SHARE" -ge 80 ] || miss "flood $KIND: throughput below 80 % of baseline"
  sleep 3
done
result "r0 after the floods: bans $(stat "$D" 0 bans), disconnectedForGarbage $(stat "$D" 0 disconnectedForGarbage), refusedBanned $(stat "$D" 0 refusedBanned), acceptPauses $(stat "$D" 0 acceptPauses), overBudgetFrames $(stat "$D" 0 overBudgetFrames), clientAuthFailures $(stat "$D" 0 clientAuthFailures), rateLimited $(stat "$D" 0 rateLimited)"
grep -q '"hijackedReplies":0' "$D/flood-hijack.json" || miss "hijack: the flood received replies"
# The operator's view of the same floods (issue 20): the status table, and r0's log stays a few lines
# a second however many frames it rejects.
"$B" cluster status "$D" | sed 's/^/   | /'
LOGLINES=$(wc -l < "$D/logs/r0.log")
result "r0 log after the floods: $LOGLINES lines, $(grep -c 'frames rejected' "$D/logs/r0.log") rejection summaries"
[ "$LOGLINES" -le $((10 * (TOTAL + 10))) ] || miss "floods: r0 logged $LOGLINES lines (not aggregated)"
wait $CLIENT
"$B" cluster down "$D"
check "$D"
result "floods: ${VIOLATIONS} failed checks, ${COMPLETED} requests completed; observations.bin r0 $(du -k "$D/data/r0/observations.bin" | cut -f1) kB vs r1 $(du -k "$D/data/r1/observations.bin" | cut -f1) kB"
[ "$VIOLATIONS" = 0 ] || miss "floods: bftsim check reported violations"

fi
# ---------------------------------------------------------------------------------------------------
if phase disk; then
note "3. full data disk on r3"
D=$(cluster disk)
mkdir -p "$D/data/r3"
if mount -t tmpfs -o size=4400k tmpfs "$D/data/r3" 2> /dev/null; then
  "$B" cluster up "$D" > /dev/null || exit 4
  "$B" client --config "$D/cluster.json" $LOAD --duration "$DISK_SECONDS" --out "$D/load.json" > "$D/client.out" 2>&1 &
  CLIENT=$!
  PID3=$(cat "$D/pids/r3.pid")
  T0=$(now)
  while kill -0 "$PID3" 2> /dev/null && python3 -c "import sys; sys.exit(0 if $(now) - $T0 < $DISK_SECONDS else 1)"; do sleep 0.2; done
  if kill -0 "$PID3" 2> /dev/null; then
    miss "full disk: r3 did not stop"
  else
    result "r3 stopped after $(python3 -c "print(f'{$(now) - $T0:.1f}')") s: $(grep 'storage failure' "$D/logs/r3.log" | tail -1)"
    A=$(stat "$D" 0 executed); sleep 2; Bx=$(stat "$D" 0 executed)
    result "the others go on: r0 executed $((Bx - A)) requests in the 2 s after r3 stopped"
    [ $((Bx - A)) -gt 0 ] || miss "full disk: the other replicas stopped too"
    mount -o remount,size=256m "$D/data/r3"
    rm -f "$D/pids/r3.pid"
    "$B" cluster restart "$D" --id 3 > /dev/null
    C=$(catchup "$D" 3)
    result "space freed, r3 restarted and caught up in $C s"
    [ "$C" = timeout ] && miss "full disk: r3 did not catch up after restart"
  fi
  wait $CLIENT
  "$B" cluster down "$D"
  check "$D"
  result "full disk: ${VIOLATIONS} failed checks, ${COMPLETED} requests completed"
  [ "$VIOLATIONS" = 0 ] || miss "full disk: bftsim check reported violations"
  umount -l "$D/data/r3"
else
  result "full disk: skipped (mount -t tmpfs needs root)"
fi

fi
# ---------------------------------------------------------------------------------------------------
if phase soak; then
note "4. soak: ${SOAK_SECONDS} s under load"
D=$(cluster soak)
"$B" cluster up "$D" > /dev/null || exit 4
"$B" client --config "$D/cluster.json" $LOAD --duration "$SOAK_SECONDS" --out "$D/load.json" > "$D/client.out" 2>&1 &
CLIENT=$!
WARM=$((SOAK_SECONDS / 5))
sleep "$WARM"
rss_all() { for i in 0 1 2 3; do awk '/VmRSS/ {printf "%s ", $2}' "/proc/$(cat "$D/pids/r$i.pid")/status"; done; }
R0=$(rss_all)
sleep $((SOAK_SECONDS - WARM - 1))
R1=$(rss_all)
wait $CLIENT
GROWTH=$(python3 -c "a='$R0'.split(); b='$R1'.split(); print(max(round(100*(int(y)-int(x))/int(x),1) for x,y in zip(a,b)))")
result "soak: RSS kB after warm-up ($WARM s) [$R0] -> end [$R1]; largest growth ${GROWTH}% ($(sed -n 's/^requests  *//p' "$D/client.out"))"
python3 -c "import sys; sys.exit(0 if $GROWTH < 10 else 1)" || miss "soak: RSS grew 10 % or more"
"$B" cluster down "$D"
check "$D"
[ "$VIOLATIONS" = 0 ] || miss "soak: bftsim check reported violations"

fi
echo
echo "== summary ($MODE; $ROOT)"
for s in "${SUMMARY[@]}"; do echo "   $s"; done
exit $FAILED
