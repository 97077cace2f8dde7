#!/usr/bin/env bash
# Installs everything the build, the quickstart and the tests need. Idempotent: when all of it
# is present it only checks and returns in a second or two.
#
#   scripts/install-deps.sh            # Debian packages + LibTorch (PyPI torch) in a shared venv
#   HPO_TORCH_VENV=/path ...           # where the torch venv lives (default /opt/hpo/torch-venv,
#                                      # outside the clone so every clone and CI run reuse it)
#   HPO_SKIP_TORCH=1 ...               # Debian packages only (a user with a LibTorch zip)
set -euo pipefail

TORCH_VERSION="2.11.0"
VENV="${HPO_TORCH_VENV:-/opt/hpo/torch-venv}"
APT_PACKAGES=(cmake ninja-build g++ pkg-config libyaml-cpp-dev libeigen3-dev libsqlite3-dev
  zlib1g-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libjemalloc-dev
  dataset-fashion-mnist python3-venv)

log() { printf '[install-deps] %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${HPO_SKIP_TORCH:-0}" != "1" ]; then
  if [ -x "$VENV/bin/python" ] &&
     "$VENV/bin/python" -c "import torch,sys; sys.exit(0 if torch.__version__.startswith('$TORCH_VERSION') else 1)" 2>/dev/null; then
    :
  else
    log "installing torch==$TORCH_VERSION (CUDA 13.0 build, several GB) into $VENV"
    PY="${HPO_PYTHON:-python3}"
    mkdir -p "$(dirname "$VENV")"
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION"
  fi
fi
log "dependencies present"
