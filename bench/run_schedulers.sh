#!/usr/bin/env bash
# Runs the scheduler simulator (bench/asha_sim.cc: the real hpo::Study driven by simulated workers
# in simulated time on synthetic learning curves) end to end and prints markdown tables:
#   0. the curve family: rank correlations of early and final values; C++ and Python curves agree
#   1. per-rung promotion fractions n_{k+1}/n_k (1,000 trials, 8 workers, 3 seeds)
#   2. worker idleness, with and without a job available (same runs)
#   3. simulated time and epochs to a configuration within 1% of the best (8 workers, 5,400
#      epochs, SEEDS seeds): asha, asha_stopping, hyperband(_stopping), fifo; random and TPE
#   4. decision cost (Ask + Report + Tell per wall-clock second) at 1,000 and 100,000 trials
#   5. one worker, TPE, 2,700 epochs: ours next to Optuna's SuccessiveHalvingPruner and
#      HyperbandPruner on the same curves (bench/asha_sim_optuna.py), SEEDS seeds
#
# Usage: bench/run_schedulers.sh [all|sim|optuna]   (default all; sim = 0-4, optuna = 0 and 5)
# Environment:
#   HPO_SIM_OUT     results folder (default build-sim/sim-results/<timestamp>)
#   SEEDS           seeds for tables 3 and 5 (default 10)
#   SCALE_TRIALS    trials per run in table 4 (default 100000)
# Builds only build-sim (Release, no LibTorch, no tests). About 8 minutes on the 2-core
# development machine under load, most of it Optuna's. Tables in $HPO_SIM_OUT/tables.md.
set -euo pipefail

WHAT="${1:-all}"
case "$WHAT" in all|sim|optuna) ;; *) echo "usage: $0 [all|sim|optuna]" >&2; exit 2;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${HPO_BENCH_BUILD:-$ROOT/build-sim}"
OUT="${HPO_SIM_OUT:-$BUILD/sim-results/$(date +%Y%m%d-%H%M%S)}"
SEEDS="${SEEDS:-10}"
SCALE_TRIALS="${SCALE_TRIALS:-100000}"
mkdir -p "$OUT"

step() { echo "run_schedulers: $* ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

PY="$("$ROOT/bench/setup-peers.sh" | tail -n 1)"
step "building bench_asha_sim"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DHPO_BUILD_TRAINER=OFF -DHPO_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target bench_asha_sim >/dev/null
SIM="$BUILD/bench/bench_asha_sim"
export PYTHONWARNINGS=ignore  # Optuna's ExperimentalWarning noise

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$ROOT" rev-parse --short HEAD)"\
       "$([[ -z "$(git -C "$ROOT" status --porcelain -- hpo 'bench/asha_sim*' bench/run_schedulers.sh)" ]] && echo '(hpo/ and the simulator as committed)' || echo '(uncommitted changes in hpo/ or the simulator)')"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "peers: $("$PY" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ("optuna", "numpy")))')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt" >&2

# The two implementations of the curves must agree to the last bits.
"$SIM" --check >"$OUT/check_hpo.jsonl"
"$PY" "$ROOT/bench/asha_sim_optuna.py" --check >"$OUT/check_optuna.jsonl"
"$PY" - "$OUT/check_hpo.jsonl" "$OUT/check_optuna.jsonl" <<'PYEOF'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
bad = [(x, y) for x, y in zip(a, b)
       if (x["k"], x["epoch"]) != (y["k"], y["epoch"]) or
       any(abs(x[f] - y[f]) > 1e-12 * abs(y[f]) for f in ("true", "observed"))]
if bad or len(a) != len(b) or not a:
    sys.exit(f"run_schedulers: C++ and Python curves differ: {bad[:3]}")
print(f"run_schedulers: C++ and Python curves agree at {len(a)} points", file=sys.stderr)
PYEOF
FSTAR="$("$SIM" --fstar)"

step "0. the curve family"
"$SIM" --part describe >"$OUT/0_curves.md"
if [[ "$WHAT" != optuna ]]; then
  step "1-2. promotion fractions and idleness"
  "$SIM" --part promotion --seeds 3 --trials 1000 --workers 8 >"$OUT/1_promotion.md"
  step "3. time to target"
  "$SIM" --part quality --seeds "$SEEDS" --budget 5400 --workers 8 >"$OUT/3_quality.md"
  step "4. decision cost at scale"
  "$SIM" --part scale --trials "$SCALE_TRIALS" --reps 3 --workers 8 >"$OUT/4_scale.md"
fi
if [[ "$WHAT" != sim ]]; then
  step "5. one worker: hpo"
  "$SIM" --part one-worker --seeds "$SEEDS" --budget 2700 >"$OUT/5_hpo.jsonl"
  step "5. one worker: Optuna"
  "$PY" "$ROOT/bench/asha_sim_optuna.py" --methods sh,hyperband,none,sh+random --seeds "$SEEDS" \
    --budget 2700 --fstar "$FSTAR" >"$OUT/5_optuna.jsonl"
  "$PY" "$ROOT/bench/asha_sim_optuna.py" --table "$OUT/5_hpo.jsonl" "$OUT/5_optuna.jsonl" \
    --fstar "$FSTAR" >"$OUT/5_one_worker.md"
fi
step "done"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt" >&2

{
  cat "$OUT/env.txt"
  echo
  for f in "$OUT"/[0-9]_*.md; do
    cat "$f"
    echo
  done
} | tee "$OUT/tables.md"
echo "run_schedulers: results in $OUT" >&2
