#!/usr/bin/env bash
# Trainer (CPU) benchmarks, ours (`train`) next to Optuna + PyTorch in Python, and prints
# markdown tables (also written to $OUT/tables.md):
#   1. throughput: the same study, the same configurations, no pruning (throughput_mlp.yaml,
#      throughput_small.yaml), study wall time and completed trials per hour
#   2. time to val_accuracy >= 0.88 on Fashion-MNIST: our ASHA (promotion) + TPE against
#      Optuna's TPE + SuccessiveHalvingPruner (tta.yaml), one pair per seed, median
#   3. memory: peak RSS with 8 concurrent trials against 1 (memory.yaml)
#
# Usage: bench/trainer/run.sh [throughput,tta,memory]     (default: all three)
# Environment:
#   TRAIN      a train binary to use as is (default: build one from HEAD in build-tbench/obj)
#   OUT        results folder (default build-tbench/bench-results/<timestamp>)
#   REPS       throughput repetitions per side, alternating (default 3)
#   SEEDS      time-to-accuracy seeds (default 1,2,3,4,5,6,7)
# Optuna comes from bench/setup-peers.sh (into /opt/hpo/torch-venv, which holds torch 2.11).
set -euo pipefail

PARTS="${1:-throughput,tta,memory}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-tbench"
OUT="${OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

PY="$("$ROOT/bench/setup-peers.sh" | tail -n 1)"
# The trainer is built from a clean snapshot of HEAD (git archive), not from the working tree,
# which others edit concurrently: the figures belong to the commit named in env.txt. Only files
# that changed are rewritten, so a rebuild after a new commit is incremental.
BUILT_FROM="as given (TRAIN=${TRAIN:-})"
if [[ -z "${TRAIN:-}" ]]; then
  COMMIT="$(git -C "$ROOT" rev-parse HEAD)"
  SNAP="$(mktemp -d)"
  git -C "$ROOT" archive "$COMMIT" | tar -x -C "$SNAP"
  "$PY" - "$SNAP" "$BUILD/src" <<'PYEOF'
import filecmp, os, shutil, sys
new, dst = sys.argv[1:3]
keep = set()
for d, _, files in os.walk(new):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), new)
        keep.add(rel)
        a, b = os.path.join(new, rel), os.path.join(dst, rel)
        if not (os.path.exists(b) and filecmp.cmp(a, b, shallow=False)):
            os.makedirs(os.path.dirname(b), exist_ok=True)
            shutil.copyfile(a, b)
            shutil.copymode(a, b)
for d, _, files in os.walk(dst):
    for f in files:
        if os.path.relpath(os.path.join(d, f), dst) not in keep:
            os.remove(os.path.join(d, f))
PYEOF
  rm -rf "$SNAP"
  cmake -S "$BUILD/src" -B "$BUILD/obj" -G Ninja -DHPO_BUILD_TESTS=OFF -DHPO_BUILD_BENCH=OFF \
    >"$BUILD/obj-configure.log" 2>&1 || { tail -n 30 "$BUILD/obj-configure.log" >&2; exit 1; }
  echo "run.sh: building train at ${COMMIT:0:7} in $BUILD/obj (first time: ~15 min on 2 cores)" >&2
  cmake --build "$BUILD/obj" -j2 --target train >"$BUILD/obj-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/obj-build.log" >&2; exit 1; }
  TRAIN="$BUILD/obj/train"
  BUILT_FROM="commit ${COMMIT:0:7} (clean snapshot)"
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); train built from: $BUILT_FROM"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), shared with other jobs"
  echo "peers: $("$PY" -c 'import importlib.metadata as m, sys; print(", ".join(f"{p} {m.version(p)}" for p in ("optuna", "torch", "numpy")) + ", python " + sys.version.split()[0])')"
} | tee "$OUT/env.txt"

cd "$ROOT"
"$PY" "$ROOT/bench/trainer/bench.py" --train "$TRAIN" --python "$PY" --out "$OUT" \
  --parts "$PARTS" --reps "${REPS:-3}" --seeds "${SEEDS:-1,2,3,4,5,6,7}" | tee "$OUT/tables.txt"
