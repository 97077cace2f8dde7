#!/usr/bin/env bash
# Installs the Python peers the benchmarks compare against into the project's torch venv
# (outside the repository; it already holds torch, which Optuna's GPSampler needs): Optuna,
# SciPy and greenlet (GPSampler's other needs), all pinned. Idempotent: returns in well under a
# second when the pinned versions are present.
#
# Usage: bench/setup-peers.sh            # prints the python to use on stdout's last line
set -euo pipefail

VENV="${HPO_TORCH_VENV:-/opt/hpo/torch-venv}"
OPTUNA_VERSION="5.0.0"
SCIPY_VERSION="1.17.1"
GREENLET_VERSION="3.5.6"  # GPSampler batches its L-BFGS-B runs with it (slower without)
PY="$VENV/bin/python"

if [[ ! -x "$PY" ]]; then
  echo "setup-peers: $PY not found; run scripts/install-deps.sh first (it creates $VENV)" >&2
  exit 2
fi

have() {
  "$PY" - "$OPTUNA_VERSION" "$SCIPY_VERSION" "$GREENLET_VERSION" <<'PYEOF' 2>/dev/null
import sys
import importlib.metadata as md
ok = [md.version(p) for p in ("optuna", "scipy", "greenlet")] == sys.argv[1:4]
for dep in ("torch", "numpy", "sqlalchemy"):  # GPSampler and RDB storage need them
    md.version(dep)
sys.exit(0 if ok else 1)
PYEOF
}

if ! have; then
  echo "setup-peers: installing optuna==$OPTUNA_VERSION scipy==$SCIPY_VERSION" \
    "greenlet==$GREENLET_VERSION into $VENV" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "optuna==$OPTUNA_VERSION" \
    "scipy==$SCIPY_VERSION" "greenlet==$GREENLET_VERSION" >&2
  have || { echo "setup-peers: install finished but the check failed" >&2; exit 1; }
fi
"$PY" -c 'import importlib.metadata as md; print("setup-peers:", ", ".join(f"{p} {md.version(p)}" for p in ("optuna", "scipy", "greenlet", "numpy", "torch", "sqlalchemy")))' >&2
echo "$PY"
