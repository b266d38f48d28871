# Image for the Docker backend of the PythonTool-v0 sandbox (environments/tools/sandbox_docker.py).
# Built locally on first use: docker build -t agentgym-sandbox:py3.11 -f sandbox.Dockerfile environments/tools
# Only the standard library is needed; the container runs with --network none, --read-only,
# a tmpfs working directory, an unprivileged user and memory/CPU/pids limits.
FROM python:3.11-slim
RUN mkdir -p /sandbox && chmod 1777 /sandbox
ENV PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8 HOME=/sandbox
USER 65534:65534
WORKDIR /sandbox
