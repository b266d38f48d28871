# CPU image: installs agentgym with every CPU extra and runs the test suite by default.
#   docker build -t agentgym .            && docker run --rm agentgym
#   docker run --rm agentgym python -m agentgym.train
# GPU variant (vLLM rollouts): build FROM a CUDA base image with Python 3.11 and install the
# extra instead of the CPU constraint:  pip install -e ".[all,vllm]"  (torch then comes with vllm).
FROM python:3.11-slim-bookworm

RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake git chromium bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /agentgym
COPY . .
# Same set-up command as the README (skips apt when the packages are present).
RUN bash scripts/setup.sh
ENV AGENTGYM_CACHE=/agentgym/.cache
CMD ["python", "-m", "pytest", "-q"]
