#!/usr/bin/env bash
# One idempotent setup: a virtual environment in .venv with scaffold-rl installed editable.
# On a machine without an NVIDIA GPU it installs torch==2.13.0 first (a local CPU build here),
# so resolving the package never pulls several GB of CUDA wheels; with a GPU, pip's default
# torch (CUDA) is kept or installed. Re-running it is fast: nothing is reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$VPY" -m pip install -q torch 2>&1 | grep -v "is ignored: it is neither" || true
  else
    "$VPY" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored: it is neither" || true
  fi
fi
if ! "$VPY" -c "import scaffold_rl, trl, pytest" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  "$VPY" -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  "$VPY" -c "import scaffold_rl, trl, pytest"
  touch .venv/.installed
fi
