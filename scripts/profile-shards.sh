#!/usr/bin/env bash
# Where the time of sharded writes goes (issue 10, "Performance"; a measurement, not a test): 3 local nodes,
# split into SHARDS data shards at the workload's keys (leaders spread by the balancer), puts from the shared
# load generator (../shared/bench/loadgen), then prints ops/s, CPU per node and per put, and from each
# node's /metrics the fsyncs, peer messages (and per peer batch), apply calls and client (KV.Pipeline) messages
# per put. PROF=1 also writes a V8 CPU profile per node into OUT (node --cpu-prof; open it in Chrome DevTools).
# Usage: bash scripts/profile-shards.sh SHARDS [OUT]   env: CONC=256 DUR=8 PROF=0 TESSERA_BASE_PORT=7601
set -uo pipefail
proj=$(cd "$(dirname "$0")/.." && pwd)
bench=$(cd "$proj/../shared/bench" && pwd)
shards=${1:?usage: profile-shards.sh SHARDS [OUT]}
out=${2:-$(mktemp -d /tmp/profile-shards.XXXXXX)}
mkdir -p "$out"
lg=${BENCH_CACHE:-/tmp/tessera-bench-loadgen}
mkdir -p "$lg" && cp -r "$bench/loadgen/." "$lg/" 2>/dev/null
[ -d "$lg/node_modules" ] || (cd "$lg" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "loadgen install failed" >&2; exit 2; }
B=${TESSERA_BASE_PORT:-7601}
d=$(mktemp -d /tmp/profile-shards-data.XXXXXX)
peers="1=127.0.0.1:$B,2=127.0.0.1:$((B + 1)),3=127.0.0.1:$((B + 2))"
eps="127.0.0.1:$B,127.0.0.1:$((B + 1)),127.0.0.1:$((B + 2))"
prof=(${NODE_FLAGS:-}); [ "${PROF:-0}" = 1 ] && prof+=(--cpu-prof "--cpu-prof-dir=$out")
cli() { node "$proj/dist/cmd/tessera.js" "$@" --endpoints "$eps"; }
stop() { for p in $(cat "$d/pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
  for p in $(cat "$d/pids" 2>/dev/null); do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; kill -9 "$p" 2>/dev/null; done
  rm -rf "$d"; }
trap stop EXIT
for i in 1 2 3; do
  node "${prof[@]}" "$proj/dist/cmd/tessera.js" start --id $i --listen 127.0.0.1:$((B + i - 1)) --peers "$peers" \
    --data-dir "$d/n$i" --split-max-keys 0 --http 127.0.0.1:$((B + 100 + i)) > "$out/node-$i.log" 2>&1 &
  echo $! >> "$d/pids"
done
for _ in $(seq 1 60); do cli put bench/ready x >/dev/null 2>&1 && break; sleep 0.5; done
if [ "$shards" -gt 1 ]; then
  for i in $(seq 1 $((shards - 1))); do cli shard split "bench/k$(printf '%08d' $((i * 20000 / shards)))" >/dev/null || exit 1; done
  sleep 12 # the balancer spreads the leaders
fi
cli node list >&2
node ${LOADGEN_FLAGS:-} "$lg/loadgen.js" --target tessera --project "$proj" --endpoints "$eps" --op put --concurrency "${CONC:-256}" \
  --duration "${DUR:-8}" --warmup 2 --key-space 20000 --value-size 256 --preload \
  --watch-pids "$(tr '\n' ',' < "$d/pids" | sed 's/,$//')" --label "put $shards shards" --out "$out/result.jsonl" >/dev/null 2>"$out/loadgen.err"
for i in 1 2 3; do curl -s "127.0.0.1:$((B + 100 + i))/metrics" > "$out/metrics-$i.txt"; done
node -e '
const fs = require("fs"); const out = process.argv[1];
const r = JSON.parse(fs.readFileSync(out + "/result.jsonl", "utf8").trim().split("\n").pop());
const ops = r.ok + 20000 + 2 * r.ops_per_s; // measured + preload + warmup (the metrics count them all)
const nodeCpu = Object.values(r.cpu.pids_pct_of_one_core).reduce((a, b) => a + b, 0);
console.log(`${r.label}: ${r.ops_per_s} ops/s, p50 ${r.latency_ms.p50} ms; CPU % of a core per node ${JSON.stringify(r.cpu.pids_pct_of_one_core)}, client ${r.cpu.self_pct_of_one_core}, machine ${r.cpu.machine_busy_pct_of_all_cores}% busy`);
console.log(`node CPU per put: ${(nodeCpu * 10 / r.ops_per_s).toFixed(3)} ms of a core (all nodes together)`);
const sum = (text, re) => text.split("\n").filter((l) => re.test(l)).reduce((a, l) => a + Number(l.split(" ").pop()), 0);
for (const i of [1, 2, 3]) {
  const m = fs.readFileSync(`${out}/metrics-${i}.txt`, "utf8");
  const f = sum(m, /^tessera_fsync_duration_seconds_count/), msgs = sum(m, /^tessera_peer_messages_sent_total/), apply = sum(m, /^tessera_apply_latency_seconds_count/);
  const batches = sum(m, /^tessera_peer_batches_sent_total/), pipeIn = sum(m, /^tessera_pipeline_messages_total\{direction="in"/);
  const pipeOut = sum(m, /^tessera_pipeline_messages_total\{direction="out"/), pipeOps = sum(m, /^tessera_pipeline_ops_total/);
  const per = (a, b) => (b > 0 ? (a / b).toFixed(1) : "-");
  console.log(`node ${i}: per put ${(f / ops).toFixed(4)} fsyncs, ${(msgs / ops).toFixed(3)} peer messages sent (${per(msgs, batches)} per batch), ${(apply / ops).toFixed(4)} apply calls; client messages ${(pipeIn / ops).toFixed(4)} in (${per(pipeOps, pipeIn)} ops each), ${(pipeOut / ops).toFixed(4)} out`);
}' "$out"
echo "output: $out" >&2
