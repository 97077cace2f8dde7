#!/usr/bin/env bash
# One command: install what is missing, build, and run the shipped quickstart study.
#   scripts/quickstart.sh [extra train flags, e.g. --quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec "${HPO_BUILD_DIR:-build}/train" --study configs/quickstart.yaml "$@"
