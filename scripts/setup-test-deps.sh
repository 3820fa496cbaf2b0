#!/usr/bin/env bash
# Installs, idempotently, what the test suite needs on a fresh Debian machine:
# git and bash for the shell executor's real jobs, cargo-nextest for the runner,
# moto for the S3 cache, gcp-storage-emulator and Azurite for the GCS and Azure caches, the Kubernetes schemas, and a Docker engine with locally built images.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v bash >/dev/null 2>&1 || need_apt+=(bash)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_apt[*]}; run as root or install them" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# A real S3-compatible server (moto) for the S3 cache tests.
scripts/setup-s3.sh
# A GCS emulator (PyPI) and Azurite (npm, with Debian's nodejs/npm when missing) for the GCS
# and Azure cache tests.
scripts/setup-gcs.sh
scripts/setup-azurite.sh
# kubernetes-validate and kubectl, to check the deployment files and the pods the Kubernetes
# executor builds against the real schemas.
scripts/setup-k8s-validate.sh
# A Docker engine, a loopback registry and locally imported images for the Docker executor.
scripts/setup-docker.sh

# git refuses to work in test repositories owned by another user in some CI set-ups,
# and needs an identity to commit fixtures.
git config --global --get user.email >/dev/null 2>&1 || git config --global user.email "ci@example.invalid"
git config --global --get user.name >/dev/null 2>&1 || git config --global user.name "CI"
