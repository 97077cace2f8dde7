#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool), after scripts/gpu-prep.sh here:
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-deps"], timeout_s=540)
# Builds train and the data/models/trainer tests against the machine's torch 2.11 (its python3),
# runs the CUDA tests (they GTEST_SKIP on CPU-only machines) and the rest of those suites, then the
# GPU throughput benchmark: samples/s with 1, 4, 8 and 16 trials per GPU on the quickstart MLP and
# a small CNN, and one PyTorch-eager trial of the same MLP for reference. Every phase runs even if
# an earlier one failed; everything printed is also kept in $OUT/gpu-check.log. Target: < 8 min.
# `bash scripts/gpu-check.sh tests` builds and runs the CUDA tests only; `... threads` builds
# train only and compares the MLP at 8 and 16 trials per GPU with threads_per_trial auto and 1.
set -uo pipefail
ONLY=${1:-all}
cd "$(dirname "$0")/.."
LOGDIR=${OUT:-/tmp/gpu-check-out}
mkdir -p "$LOGDIR"
exec > >(tee -a "$LOGDIR/gpu-check.log") 2>&1
DEPS="$PWD/.gpu-deps/root"
[ -d "$DEPS" ] || { echo "error: .gpu-deps missing: run scripts/gpu-prep.sh here and carry .gpu-deps"; exit 2; }
start=$(date +%s)
phase() { echo "=== $1 (t=$(( $(date +%s) - start )) s)"; }

phase "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "cores: $(nproc)"; g++ --version | head -1; cmake --version | head -1; ninja --version
PY=$(command -v python3)
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
# The tests look for Fashion-MNIST where Debian puts it.
if [ ! -e /usr/share/datasets/fashion-mnist ]; then
  mkdir -p /usr/share/datasets && ln -s "$DEPS/usr/share/datasets/fashion-mnist" /usr/share/datasets/fashion-mnist
fi

phase "configure"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DHPO_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$DEPS/usr;$TORCH_PREFIX" -DHPO_PYTHON="$PY" -DCMAKE_CUDA_COMPILER="$NVCC" \
  >"$LOGDIR/configure.log" 2>&1 || { tail -40 "$LOGDIR/configure.log"; exit 1; }
grep -E "LibTorch CUDA support|Torch version" "$LOGDIR/configure.log"

phase "build"
TARGETS=(train)
SUITES=(tests/data/*_test.cc tests/models/*_test.cc tests/trainer/*_test.cc)
[ "$ONLY" = tests ] && SUITES=(tests/trainer/cuda_test.cc tests/models/dropout_test.cc tests/data/dataset_test.cc)
[ "$ONLY" = threads ] && SUITES=()
for f in "${SUITES[@]}"; do
  d=$(basename "$(dirname "$f")"); n=$(basename "$f" .cc); TARGETS+=("${d}_${n}")
done
if ! cmake --build build-gpu -j "$(nproc)" --target "${TARGETS[@]}" >"$LOGDIR/build.log" 2>&1; then
  grep -E "error|Error" "$LOGDIR/build.log" | head -40
  exit 1
fi

phase "CUDA tests"
fail=0  # the exit status: non-zero when a test failed
[ "$ONLY" = threads ] || for t in trainer_cuda_test models_dropout_test data_dataset_test; do
  ./build-gpu/tests/$t >"$LOGDIR/$t.log" 2>&1 || fail=1
  grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|Which is|actual|grew|gave|reason" \
    "$LOGDIR/$t.log" | head -40
done

[ "$ONLY" = tests ] && { phase "done"; exit "$fail"; }

phase "GPU throughput benchmark"
FM="$DEPS/usr/share/datasets/fashion-mnist"
B=/tmp/gpubench
rm -rf "$B"; mkdir -p "$B"
# study samples/s is measured (training samples over the run's wall time); the next column is an
# estimate, k x the median per-trial training rate, as if all k trials trained the whole time.
echo "| model | trials per GPU | study samples/s | k x median per-trial rate (estimate) | median per trial | wall s |"
echo "|---|---|---|---|---|---|"
bench_one() {  # model, trials per GPU, precision[, threads_per_trial (default 0: auto)]
  local model=$1 k=$2 prec=$3 th=${4:-0} name="$1-$2-$3-t${4:-0}"
  cat >"$B/$name.yaml" <<YAML
study: {name: gpu_$name, seed: 3, storage: $B/$name.db}
budget: {trials: $k, max_epochs: 3}
search_space:
  lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
sampler: random
scheduler: fifo
resources: {devices: cuda, trials_per_device: $k, threads_per_trial: $th}
data: {name: fashion_mnist, path: $FM}
model: {name: $model, hidden_units: 256, layers: 2, channels: 32, conv_blocks: 2}
training: {batch_size: 128, optimizer: adam, precision: $prec}
YAML
  local t0 t1
  t0=$(date +%s.%N)
  ./build-gpu/train --study "$B/$name.yaml" --log-format json --output "$B/out-$name" >"$B/$name.jsonl" 2>&1
  t1=$(date +%s.%N)
  "$PY" - "$model${prec/fp32/}${4:+ threads $4}" "$k" "$t0" "$t1" "$B/$name.jsonl" <<'PYEOF'
import json, statistics, sys
model, k, t0, t1, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
events = []
for line in open(path):
    try:
        events.append(json.loads(line))
    except ValueError:
        print("   ", line.rstrip()[:200])
rates = {}
for e in events:
    if e.get("event") == "epoch" and e["epoch"] >= 2:  # epoch 1 holds the warm-up
        rates.setdefault(e["trial"], []).append(e["samples_per_s"])
summary = [e for e in events if e.get("event") == "summary"]
study = summary[-1]["samples_per_s"] if summary else float("nan")
per = statistics.median(statistics.median(v) for v in rates.values()) if rates else float("nan")
failed = summary[-1].get("failed", "?") if summary else "?"
print(f"| {model} | {k} | {study:,.0f} | {k * per:,.0f} | {per:,.0f} | {t1 - t0:.1f} | failed {failed}")
PYEOF
}
if [ "$ONLY" = threads ]; then
  for k in 8 16; do for th in 0 1; do bench_one mlp "$k" fp32 "$th"; done; done
  for th in 0 1; do bench_one cnn 16 fp32 "$th"; done
  phase "done"
  exit "$fail"
fi
for model in mlp cnn; do
  for k in 1 4 8 16; do bench_one "$model" "$k" fp32; done
done
if (( $(date +%s) - start < 400 )); then
  for k in 1 16; do bench_one cnn "$k" bf16; done
fi

phase "PyTorch eager, one trial of the same MLP (reference)"
"$PY" - "$FM" <<'PYEOF'
import gzip, sys, time
import numpy as np, torch
d = sys.argv[1]
def idx(name):
    raw = gzip.open(f"{d}/{name}", "rb").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)
x = torch.tensor(idx("train-images-idx3-ubyte.gz")[:54000].reshape(54000, -1), dtype=torch.float32, device="cuda") / 255
y = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:54000], dtype=torch.long, device="cuda")
torch.manual_seed(3)
m = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).cuda()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
for epoch in range(3):
    torch.cuda.synchronize(); t = time.perf_counter()
    perm = torch.randperm(54000, device="cuda")
    for b in range(0, 54000, 128):
        i = perm[b:b + 128]
        loss = torch.nn.functional.cross_entropy(m(x[i]), y[i])
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    torch.cuda.synchronize()
    print(f"epoch {epoch + 1}: {54000 / (time.perf_counter() - t):,.0f} samples/s (train only, no eval)")
PYEOF
tar czf "$LOGDIR/bench-jsonl.tgz" -C "$B" . 2>/dev/null  # one file: $OUT returns 8 at most
if (( $(date +%s) - start < 420 )); then
phase "data/models/trainer suites"
# The three suites run above are left out here (they ran once already, on the GPU).
(cd build-gpu && ctest -j 8 -L "data|models|trainer" -E "^(CudaStudy|CudaTrainer|Dropout|SplitTest|SyntheticTest|RegistryTest|ToDeviceTest|FashionMnistTest)\\." \
  --output-on-failure >"$LOGDIR/ctest.log" 2>&1) || fail=1
grep -E "Skipped|Failed|tests passed|Total Test" "$LOGDIR/ctest.log" | head -30
else
echo "=== data/models/trainer suites SKIPPED: past 420 s of the device time (run them in build-gpu: ctest -L 'data|models|trainer')"
fi
phase "done"
exit "$fail"
