#!/usr/bin/env bash
# Installs moto_server (a real S3-compatible server from PyPI) for the ignored S3 cache
# tests of runner-artifacts. Idempotent: does nothing when moto_server is already on PATH.
# The tests start their own moto_server on a free loopback port and stop it.
set -euo pipefail

if command -v moto_server >/dev/null 2>&1; then
    exit 0
fi

if command -v pip3 >/dev/null 2>&1; then
    pip3 install --quiet 'moto[server]'
elif command -v pip >/dev/null 2>&1; then
    pip install --quiet 'moto[server]'
else
    python3 -m pip install --quiet 'moto[server]'
fi

# pyenv installs console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi

command -v moto_server >/dev/null 2>&1 || {
    echo "moto_server is still not on PATH after installing moto[server]" >&2
    exit 1
}
