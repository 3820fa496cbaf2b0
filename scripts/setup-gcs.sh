#!/usr/bin/env bash
# Installs gcp-storage-emulator (a GCS JSON/XML API emulator from PyPI) for the ignored GCS
# cache tests of runner-artifacts. Idempotent: does nothing when it is already on PATH.
# The tests start their own emulator on a free loopback port and stop it.
set -euo pipefail

if command -v gcp-storage-emulator >/dev/null 2>&1; then
    exit 0
fi

if command -v pip3 >/dev/null 2>&1; then
    pip3 install --quiet gcp-storage-emulator
elif command -v pip >/dev/null 2>&1; then
    pip install --quiet gcp-storage-emulator
else
    python3 -m pip install --quiet gcp-storage-emulator
fi

# pyenv installs console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi

command -v gcp-storage-emulator >/dev/null 2>&1 || {
    echo "gcp-storage-emulator is still not on PATH after installing it" >&2
    exit 1
}
