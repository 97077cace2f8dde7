#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool), after scripts/gpu-prep.sh here:
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-deps"], timeout_s=540)
# Builds against the machine's torch 2.11 (its Python venv), runs the CUDA tests, then the GPU
# throughput benchmark: samples/s with 1, 4, 8 and 16 trials per GPU on the quickstart MLP and a
# small CNN. Prints everything; copies logs to $OUT when set. Target: under 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
DEPS="$PWD/.gpu-deps/root"
[ -d "$DEPS" ] || { echo "error: .gpu-deps missing: run scripts/gpu-prep.sh here and carry .gpu-deps"; exit 2; }
PY=$(command -v python3)
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
start=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DHPO_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$DEPS/usr;$TORCH_PREFIX" -DHPO_PYTHON="$PY" \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" >/tmp/gpu-configure.log 2>&1 \
  || { tail -30 /tmp/gpu-configure.log; exit 1; }
cmake --build build-gpu -j "$(nproc)" >/tmp/gpu-build.log 2>&1 || { grep -E "error" /tmp/gpu-build.log | head -30; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
# CUDA tests (the ones that GTEST_SKIP on a CPU machine) and the trainer suites.
(cd build-gpu && ctest --output-on-failure -j 8 -L "data|models|trainer" 2>&1 | tail -25)
FM="$DEPS/usr/share/datasets/fashion-mnist"
mkdir -p /tmp/gpubench
for model in mlp cnn; do
  for k in 1 4 8 16; do
    cat > /tmp/gpubench/$model-$k.yaml <<YAML
study: {name: gpu_${model}_$k, seed: 3, storage: /tmp/gpubench/$model-$k.db}
budget: {trials: $(( k * 2 )), max_epochs: 2}
search_space:
  lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
sampler: random
scheduler: fifo
resources: {devices: cuda, trials_per_device: $k}
data: {name: fashion_mnist, path: $FM}
model: {name: $model, hidden_units: 256, layers: 2, channels: 32, conv_blocks: 2}
training: {batch_size: 128}
YAML
    t0=$(date +%s.%N)
    ./build-gpu/train --study /tmp/gpubench/$model-$k.yaml --log-format json --output /tmp/gpubench/out-$model-$k \
      > /tmp/gpubench/$model-$k.jsonl 2>&1
    t1=$(date +%s.%N)
    "$PY" - "$model" "$k" "$t0" "$t1" /tmp/gpubench/$model-$k.jsonl <<'PYEOF'
import json, sys
model, k, t0, t1, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
epochs = [json.loads(l) for l in open(path) if l.startswith("{") and '"event":"epoch"' in l.replace(" ", "")]
n = sum(1 for _ in epochs)
print(f"| {model} | {k} | {n} epochs | {n * 54000 / (t1 - t0):.0f} samples/s (whole run, {t1 - t0:.1f} s) |")
PYEOF
  done
done
echo "total: $(( $(date +%s) - start )) s"
[ -n "${OUT:-}" ] && cp /tmp/gpu-*.log /tmp/gpubench/*.jsonl "$OUT"/ 2>/dev/null
exit 0
