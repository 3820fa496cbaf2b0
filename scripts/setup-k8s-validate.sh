#!/usr/bin/env bash
# Installs, idempotently, what scripts/validate-k8s.sh needs: kubernetes-validate (PyPI; the
# Kubernetes schemas ship inside it, so it validates offline) and kubectl for
# `kubectl kustomize` (Debian's kubernetes-client, unless a kubectl is already there).
set -euo pipefail

if ! command -v kubernetes-validate >/dev/null 2>&1; then
    if command -v pip3 >/dev/null 2>&1; then
        pip3 install --quiet kubernetes-validate
    elif command -v pip >/dev/null 2>&1; then
        pip install --quiet kubernetes-validate
    else
        python3 -m pip install --quiet kubernetes-validate
    fi
    # pyenv installs console scripts behind shims that need a rehash.
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash || true
    fi
fi
command -v kubernetes-validate >/dev/null 2>&1 || {
    echo "kubernetes-validate is still not on PATH after installing it" >&2
    exit 1
}

# Any kubectl with the built-in kustomize will do (some machines ship one from another
# package, which conflicts with kubernetes-client's /usr/bin/kubectl).
if ! kubectl kustomize --help >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: kubectl is missing; run as root or install kubernetes-client" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client
fi
