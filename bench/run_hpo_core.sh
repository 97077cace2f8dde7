#!/usr/bin/env bash
# Runs the hpo-core benchmarks end to end, ours next to Optuna's, and prints markdown tables:
#   1. TPE ask latency with 100 / 1,000 / 10,000 completed trials (10-parameter mixed space)
#      (Optuna twice: torch/BLAS default threads and OMP_NUM_THREADS=1; hpo is single-threaded)
#   2. GP-BO ask latency with 100 / 500 completed trials (Hartmann-6, 6-D continuous)
#   3. ask+tell throughput of 10,000 trials (random sampler): SQLite and in-memory storage, and
#      the SQLite floor (two bare one-row transactions per trial, bench/storage_throughput.cc)
#   4. optimisation quality: best value in 100 trials, 10 seeds, six problems
#
# Usage: bench/run_hpo_core.sh [all|latency|quality]     (default: all; latency = 1-3)
# Environment:
#   HPO_BENCH_BUILD          build folder (default build-bench)
#   HPO_BENCH_OUT            results folder (default build-bench/bench-results/<timestamp>)
#   OPTUNA_SQLITE_TRIALS     trials for Optuna on SQLite (default 2000: about 0.25 s per trial
#                            on this machine, so 10,000 would take ~40 min; the table says when
#                            a figure is extrapolated)
#   OPTUNA_GP_QUALITY        comma-separated problems for Optuna's GPSampler in the quality table
#                            (default branin,hartmann6: ~13 s per 100-trial run here on one
#                            thread; empty to skip)
#   SEEDS                    seeds per quality cell (default 10)
# Builds only build-bench (Release, no LibTorch, no tests). Results: one JSON line per
# measurement in $HPO_BENCH_OUT/*.jsonl, tables in $HPO_BENCH_OUT/tables.md.
set -euo pipefail

WHAT="${1:-all}"
case "$WHAT" in all|latency|quality) ;; *) echo "usage: $0 [all|latency|quality]" >&2; exit 2;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${HPO_BENCH_BUILD:-$ROOT/build-bench}"
OUT="${HPO_BENCH_OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}"
OPTUNA_SQLITE_TRIALS="${OPTUNA_SQLITE_TRIALS:-2000}"
OPTUNA_GP_QUALITY="${OPTUNA_GP_QUALITY-branin,hartmann6}"
SEEDS="${SEEDS:-10}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"  # absolute: the script changes folders

PY="$("$ROOT/bench/setup-peers.sh" | tail -n 1)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DHPO_BUILD_TRAINER=OFF -DHPO_BUILD_TESTS=OFF \
  -DHPO_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j2 --target bench_ask_latency bench_storage_throughput bench_quality \
  >/dev/null
B="$BUILD/bench"
cd "$ROOT/bench"
export PYTHONWARNINGS=ignore  # Optuna's ExperimentalWarning / FutureWarning noise

# optuna_threads default|N CMD...: runs CMD with torch's default threads or OMP_NUM_THREADS=N.
optuna_threads() {
  local t="$1"
  shift
  if [[ "$t" == default ]]; then (unset OMP_NUM_THREADS; "$@"); else OMP_NUM_THREADS="$t" "$@"; fi
}

step() { echo "run_hpo_core: $* ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$ROOT" rev-parse --short HEAD)"\
       "$(git -C "$ROOT" diff --quiet HEAD -- hpo && echo '(hpo/ clean)' || echo '(hpo/ has uncommitted changes)')"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "peers: $("$PY" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ("optuna", "scipy", "numpy", "torch", "sqlalchemy")))')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt" >&2

# The two implementations of every objective must agree.
"$B/bench_quality" --check >"$OUT/check_hpo.jsonl"
"$PY" optuna_quality.py --check >"$OUT/check_optuna.jsonl"
"$PY" - "$OUT/check_hpo.jsonl" "$OUT/check_optuna.jsonl" <<'PYEOF'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
bad = [(x, y) for x, y in zip(a, b)
       if (x["problem"], x["k"]) != (y["problem"], y["k"]) or
       abs(x["f"] - y["f"]) > 1e-8 * max(1.0, abs(y["f"]))]
if bad or len(a) != len(b):
    sys.exit(f"run_hpo_core: C++ and Python objectives differ: {bad[:3]}")
PYEOF

if [[ "$WHAT" != quality ]]; then
  L_HPO="$OUT/latency_hpo.jsonl"
  L_OPT="$OUT/latency_optuna.jsonl"
  : >"$L_HPO"
  : >"$L_OPT"
  step "1. TPE ask latency"
  "$B/bench_ask_latency" --sampler tpe --problem mixed10 --trials 100,1000,10000 --reps 300 \
    --warmup 3 --max-seconds 20 >>"$L_HPO"
  for threads in default 1; do
    optuna_threads "$threads" "$PY" optuna_latency.py ask --sampler tpe --problem mixed10 \
      --trials 100,1000,10000 --reps 30 --warmup 3 --max-seconds 20 >>"$L_OPT"
  done
  step "2. GP-BO ask latency"
  "$B/bench_ask_latency" --sampler gp --problem hartmann6 --trials 100,500 --reps 50 \
    --warmup 2 --max-seconds 20 >>"$L_HPO"
  for threads in default 1; do
    optuna_threads "$threads" "$PY" optuna_latency.py ask --sampler gp --problem hartmann6 \
      --trials 100,500 --reps 10 --warmup 2 --max-seconds 30 >>"$L_OPT"
  done
  step "3. ask+tell throughput, 10,000 trials"
  for mode in declarative define-by-run; do
    "$B/bench_storage_throughput" --storage memory --trials 10000 --mode "$mode" >>"$L_HPO"
    "$B/bench_storage_throughput" --storage sqlite --path "$OUT/hpo_$mode.db" --trials 10000 \
      --mode "$mode" >>"$L_HPO"
  done
  # The least two one-row SQLite transactions per trial cost (the floor of the 3x target).
  for floor in sqlite-floor sqlite-floor-exclusive; do
    "$B/bench_storage_throughput" --storage "$floor" --path "$OUT/hpo_$floor.db" --trials 10000 \
      >>"$L_HPO"
  done
  "$PY" optuna_latency.py storage --storage memory --trials 10000 >>"$L_OPT"
  "$PY" optuna_latency.py storage --storage sqlite --sqlite-wal --path "$OUT/optuna_wal.db" \
    --trials "$OPTUNA_SQLITE_TRIALS" --max-seconds 600 >>"$L_OPT"
  "$PY" optuna_latency.py storage --storage sqlite --path "$OUT/optuna.db" \
    --trials "$OPTUNA_SQLITE_TRIALS" --max-seconds 600 >>"$L_OPT"
fi

if [[ "$WHAT" != latency ]]; then
  step "4. quality"
  "$B/bench_quality" --samplers tpe,gp --seeds "$SEEDS" --trials 100 >"$OUT/quality_hpo.jsonl"
  "$PY" optuna_quality.py --samplers tpe,tpe_univariate --seeds "$SEEDS" --trials 100 \
    >"$OUT/quality_optuna.jsonl"
  if [[ -n "$OPTUNA_GP_QUALITY" ]]; then
    OMP_NUM_THREADS=1 "$PY" optuna_quality.py --samplers gp --problems "$OPTUNA_GP_QUALITY" \
      --seeds "$SEEDS" --trials 100 >"$OUT/quality_optuna_gp.jsonl"
  fi
fi
step "done"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt" >&2

{
  cat "$OUT/env.txt"
  echo
  if [[ "$WHAT" != quality ]]; then "$PY" compare_latency.py "$OUT"/latency_*.jsonl; fi
  if [[ "$WHAT" != latency ]]; then "$PY" compare_quality.py "$OUT"/quality_*.jsonl; fi
} | tee "$OUT/tables.md"
echo "run_hpo_core: results in $OUT" >&2
