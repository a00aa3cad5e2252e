#!/usr/bin/env bash
# Where the CPU of sharded writes goes, on-CPU only (issue 10, "Performance"; a measurement, not a test).
# V8's --cpu-prof samples wall time: a main thread preempted in the middle of a function still charges it,
# and with 3 nodes and a client on 2 cores that inflates every function alike. Linux perf with the
# cpu-clock event samples only threads that run, all threads of a node (LevelDB, GC, compiler, libuv)
# and the kernel included. This runs scripts/profile-shards.sh SHARDS with --perf-basic-prof (names of
# JIT code), records the three nodes for SECS seconds once the load runs, and prints the node CPU by
# kind of code and the hottest symbols.
# Needs perf (Debian: apt-get install linux-perf) and the right to use it (root, or perf_event_paranoid <= 1).
# Usage: bash scripts/perf-shards.sh SHARDS [OUT]   env: SECS=7 (recorded) WAIT=4 (s after the load starts) TOP=25, and profile-shards.sh's (CONC, DUR)
set -uo pipefail
proj=$(cd "$(dirname "$0")/.." && pwd)
shards=${1:?usage: perf-shards.sh SHARDS [OUT]}
out=${2:-$(mktemp -d /tmp/perf-shards.XXXXXX)}
mkdir -p "$out"
command -v perf >/dev/null || { echo "perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
NODE_FLAGS="${NODE_FLAGS:-} --perf-basic-prof" bash "$proj/scripts/profile-shards.sh" "$shards" "$out" > "$out/profile.txt" 2>/dev/null &
run=$!
started=0
for _ in $(seq 1 240); do
  if pgrep -f "loadgen.js.*--label put $shards shards" >/dev/null; then started=1; break; fi
  kill -0 "$run" 2>/dev/null || break
  sleep 0.5
done
[ "$started" = 1 ] || { echo "the load did not start (see $out)" >&2; wait "$run"; exit 1; }
sleep "${WAIT:-4}" # past the preload and the warmup
pids=$(pgrep -f "tessera.js start .*--data-dir /tmp/profile-shards-data" | paste -sd, -)
[ -n "$pids" ] || { echo "no node processes found" >&2; wait "$run"; exit 1; }
perf record -q -e cpu-clock -F 499 -g -p "$pids" -o "$out/perf.data" -- sleep "${SECS:-7}" >/dev/null 2>&1
wait "$run"
cat "$out/profile.txt"
[ -s "$out/perf.data" ] || { echo "perf record wrote nothing (not root? see /proc/sys/kernel/perf_event_paranoid)" >&2; exit 1; }
perf report -i "$out/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' > "$out/symbols.txt"
echo "node CPU by kind of code (perf cpu-clock, $(grep -c . "$out/symbols.txt") symbols; $out/symbols.txt):"
awk '{ p = $1; sub("%", "", p); s = $0
  if (s ~ /JS:\*/) k = "JavaScript, optimized (TurboFan)"
  else if (s ~ /JS:[~^+]/) k = "JavaScript, not optimized"
  else if (s ~ /Builtins_/) k = "V8 builtins (ICs, calls, Map, promises)"
  else if (s ~ /v8::internal::(Scavenger|ConcurrentMarking|Marking|Sweeper|MarkCompact|Heap::|SemiSpace|FreeList)/) k = "V8 garbage collection"
  else if (s ~ /v8::internal::(compiler|maglev)/) k = "V8 optimizing compiler"
  else if (s ~ /\[k\]/) k = "kernel (syscalls, faults, wake-ups)"
  else if (s ~ /leveldb|snappy|batch_do|batch_put/) k = "LevelDB"
  else k = "other native (libc, V8 runtime, Node, N-API)"
  a[k] += p } END { for (k in a) printf "  %6.2f%%  %s\n", a[k], k }' "$out/symbols.txt" | sort -rn
echo "hottest symbols:"
head -n "${TOP:-25}" "$out/symbols.txt"
# --perf-basic-prof's maps of JIT code (perf report reads /tmp/perf-PID.map) move to OUT with the recording.
for p in ${pids//,/ }; do mv -f "/tmp/perf-$p.map" "$out/" 2>/dev/null; done
echo "output: $out (more: cp $out/perf-*.map /tmp/ && perf report -i $out/perf.data)" >&2
