#!/usr/bin/env bash
# Sharded throughput beside etcd, in one run (issue 10, "Performance"; a benchmark, not a test): etcd 3.4,
# then Tessera with one data shard, then Tessera with 8 shards whose leaders the balancer spread over the
# 3 nodes (pre-split at the workload's key space: bench/k00002500 .. bench/k00017500; automatic splits
# off), each on 3 local nodes with the shared load generator (../shared/bench) and the same cases.
# Usage: bash scripts/bench-shards.sh [OUT.jsonl]   env: DUR=8 WARMUP=2 KEYS=20000 CASES="put:256 get:256"
set -uo pipefail
proj=$(cd "$(dirname "$0")/.." && pwd)
bench=$(cd "$proj/../shared/bench" && pwd)
out=${1:-$(mktemp /tmp/bench-shards.XXXXXX.jsonl)}
DUR=${DUR:-8} WARMUP=${WARMUP:-2} KEYS=${KEYS:-20000} CASES=${CASES:-"put:256 get:256"}
lg=${BENCH_CACHE:-/tmp/tessera-bench-loadgen}
mkdir -p "$lg" && cp -r "$bench/loadgen/." "$lg/" 2>/dev/null
[ -d "$lg/node_modules" ] || (cd "$lg" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "loadgen install failed" >&2; exit 2; }
cli() { node "$proj/dist/cmd/tessera.js" "${@:2}" --endpoints "$1"; }
run_cases() { # target label-suffix endpoints pids
  local first=1
  for c in $CASES; do
    local op=${c%%:*} conc=${c##*:} extra=()
    [ $first = 1 ] && extra+=(--preload) && first=0
    node "$lg/loadgen.js" --target "$1" --project "$proj" --endpoints "$3" --op "$op" --concurrency "$conc" \
      --duration "$DUR" --warmup "$WARMUP" --key-space "$KEYS" --value-size 256 --watch-pids "$4" \
      --label "$op c=$conc $2" --out "$out" "${extra[@]}" >/dev/null 2>>"$out.err" \
      || echo "{\"target\":\"$1\",\"label\":\"$op c=$conc $2\",\"failed\":true}" >> "$out"
  done
}
edir=$(mktemp -d /tmp/etcd-sh.XXXXXX); t1=$(mktemp -d /tmp/tessera-sh1.XXXXXX); t8=$(mktemp -d /tmp/tessera-sh8.XXXXXX)
cleanup() { "$bench/etcd-cluster.sh" stop "$edir" >/dev/null 2>&1; "$bench/tessera-cluster.sh" stop "$t1" >/dev/null 2>&1; "$bench/tessera-cluster.sh" stop "$t8" >/dev/null 2>&1; rm -rf "$edir" "$t1" "$t8"; }
trap cleanup EXIT
pids_of() { tr '\n' ',' < "$1/pids" | sed 's/,$//'; }
eps_of() { echo "$1" | sed -n 's/^ENDPOINTS=\([^ ]*\).*/\1/p'; }
line=$("$bench/etcd-cluster.sh" start "$edir" 2>/dev/null | tail -1) || { echo "etcd did not start" >&2; exit 2; }
run_cases etcd "" "$(eps_of "$line")" "$(pids_of "$edir")"
"$bench/etcd-cluster.sh" stop "$edir" >/dev/null 2>&1
line=$("$bench/tessera-cluster.sh" start "$proj" "$t1" --split-max-keys 0 | tail -1) || { echo "tessera did not start" >&2; exit 1; }
run_cases tessera "1 shard" "$(eps_of "$line")" "$(pids_of "$t1")"
"$bench/tessera-cluster.sh" stop "$t1" >/dev/null 2>&1
line=$("$bench/tessera-cluster.sh" start "$proj" "$t8" --split-max-keys 0 | tail -1) || { echo "tessera did not start" >&2; exit 1; }
eps=$(eps_of "$line")
for i in 1 2 3 4 5 6 7; do cli "$eps" shard split "bench/k$(printf '%08d' $((i * KEYS / 8)))" >/dev/null || exit 1; done
sleep 12 # the balancer moves at most two leaderships per node every 2 s
cli "$eps" node list >&2
run_cases tessera "8 shards" "$eps" "$(pids_of "$t8")"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const get = (t, label) => rows.find((r) => r.target === t && r.label === label) || {};
console.log("| case | etcd ops/s | 1 shard ops/s (x etcd) | 8 shards ops/s (x etcd) | 8 / 1 shard | CPU per node, 8 shards |");
console.log("|---|---|---|---|---|---|");
for (const c of process.argv[2].split(" ")) {
  const [op, conc] = c.split(":"); const base = `${op} c=${conc}`;
  const e = get("etcd", base + " "), one = get("tessera", base + " 1 shard"), eight = get("tessera", base + " 8 shards");
  const x = (r) => (r.ops_per_s && e.ops_per_s ? ` (${(r.ops_per_s / e.ops_per_s).toFixed(2)}x)` : "");
  const cpu = eight.cpu ? JSON.stringify(eight.cpu) : (eight.process_cpu ? JSON.stringify(eight.process_cpu) : "-");
  console.log(`| ${base} | ${e.ops_per_s ?? "failed"} | ${one.ops_per_s ?? "failed"}${x(one)} | ${eight.ops_per_s ?? "failed"}${x(eight)} | ${one.ops_per_s && eight.ops_per_s ? (eight.ops_per_s / one.ops_per_s).toFixed(2) : "-"} | ${cpu} |`);
}' "$out" "$CASES"
