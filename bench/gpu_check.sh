#!/usr/bin/env bash
# The prepared GPU check (at most 8 minutes): 2 iterations of bf16 training of a Qwen2-shaped,
# randomly initialised ~0.5B model on ALFWorld prompts, transformers backend (bench/gpu_check.py).
# Prints rollout tokens/s, update tokens/s and peak GPU memory per iteration.
#
#   bash bench/gpu_check.sh            # figures also land in ${OUT:-bench/results}/gpu_check.json
#
# Where ALFWorld cannot start on the machine (its packages missing), it says so and measures on
# TextWorld prompts instead, then FrozenLake; the environment used is printed with the figures.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
for env in agentgym/ALFWorld-v0 agentgym/TextWorld-Simple-v0 agentgym/FrozenLake-v0; do
  if python -c "import agentgym, sys; agentgym.make('$env', split='train').reset(seed=0)" >/dev/null 2>&1; then
    echo "[gpu_check] environment: $env"
    timeout 450 python bench/gpu_check.py --env "$env" --json "$out/gpu_check.json"
    exit $?
  fi
  echo "[gpu_check] $env cannot start here; trying the next environment"
done
echo "[gpu_check] no environment could start" >&2
exit 1
