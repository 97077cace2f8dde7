#!/usr/bin/env bash
# Installs what is missing, then configures and builds everything into build/ (or $HPO_BUILD_DIR).
# Extra arguments go to CMake's configure step, e.g. -DCMAKE_PREFIX_PATH=/opt/libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR="${HPO_BUILD_DIR:-build}"
JOBS="${HPO_JOBS:-$(nproc)}"
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
