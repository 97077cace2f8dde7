#!/usr/bin/env bash
# Where `train` spends its time on a benchmark study: perf samples of the whole process (data
# loading included), grouped by bench/trainer/perf_breakdown.py into a markdown table.
#
# Usage: bench/trainer/profile.sh [STUDY]   (default bench/trainer/throughput_mlp.yaml)
# Environment: TRAIN (default build-tbench/obj/train, as built by run.sh), OUT (results folder)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STUDY="${1:-$ROOT/bench/trainer/throughput_mlp.yaml}"
TRAIN="${TRAIN:-$ROOT/build-tbench/obj/train}"
OUT="${OUT:-$ROOT/build-tbench/profile-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
echo "profile: $STUDY, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
perf record -F 499 -g -o "$OUT/perf.data" "$TRAIN" --study "$STUDY" \
  --storage "$OUT/study.db" --output "$OUT" --quiet >/dev/null 2>"$OUT/perf.err"
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
  python3 "$ROOT/bench/trainer/perf_breakdown.py" | tee "$OUT/breakdown.md"
