#!/usr/bin/env bash
# One command: install what is missing, build, and run the whole test suite (CTest).
#   scripts/test.sh [extra ctest flags, e.g. -R Storage]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd "${HPO_BUILD_DIR:-build}"
ctest --output-on-failure -j "${HPO_JOBS:-$(nproc)}" --timeout 600 "$@"
