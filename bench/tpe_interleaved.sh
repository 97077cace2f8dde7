#!/usr/bin/env bash
# TPE ask latency at 1,000 completed trials, ours and Optuna's interleaved round by round, so that
# each ratio compares runs made seconds apart (this shared machine drifts between speed levels
# for minutes at a time). Per round: hpo with its defaults, hpo with Optuna's settings (gamma
# 0.1, prior_weight 1, 24 candidates), Optuna with torch/BLAS default threads and with one thread.
# Prints one line per round and the median of each ratio over the rounds.
#
# Usage: bench/tpe_interleaved.sh [rounds]      (default 7; builds build-bench like run_hpo_core)
set -euo pipefail
ROUNDS="${1:-7}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${HPO_BENCH_BUILD:-$ROOT/build-bench}"
PY="$("$ROOT/bench/setup-peers.sh" | tail -n 1)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DHPO_BUILD_TRAINER=OFF -DHPO_BUILD_TESTS=OFF \
  -DHPO_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j2 --target bench_ask_latency >/dev/null
export PYTHONWARNINGS=ignore
median_ms() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["median_ms"])'; }
ours() { "$BUILD/bench/bench_ask_latency" --sampler tpe --problem mixed10 --trials 1000 --reps 300 \
  --warmup 3 "$@" 2>/dev/null | median_ms; }
optuna() { (cd "$ROOT/bench" && "$PY" optuna_latency.py ask --sampler tpe --problem mixed10 \
  --trials 1000 --reps 30 --warmup 3 2>/dev/null | median_ms); }
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$ROOT" rev-parse --short HEAD); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round ours_ms ours_optuna_settings_ms optuna_default_threads_ms optuna_1_thread_ms ratio_defaults ratio_equal_settings"
for r in $(seq 1 "$ROUNDS"); do
  a=$(ours)
  b=$(ours --tpe-gamma 0.1 --tpe-prior-weight 1 --tpe-candidates 24)
  c=$( (unset OMP_NUM_THREADS; optuna) )
  d=$(OMP_NUM_THREADS=1 optuna)
  "$PY" -c "import sys; a,b,c,d=map(float,sys.argv[2:]); o=min(c,d); print(sys.argv[1], a, b, c, d, f'{o/a:.1f}', f'{o/b:.1f}')" "$r" "$a" "$b" "$c" "$d"
done | tee /dev/stderr | "$PY" -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
print("median over", len(rows), "rounds: ratio (fastest Optuna / hpo) with hpo defaults",
      statistics.median(float(r[5]) for r in rows), "; with Optuna settings",
      statistics.median(float(r[6]) for r in rows))'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
