#!/usr/bin/env bash
# Installs Azurite (Microsoft's Azure Storage emulator, from npm) for the ignored Azure cache
# tests of runner-artifacts, with Debian's nodejs and npm when they are missing. Idempotent:
# does nothing when azurite-blob is already on PATH. The tests start their own azurite-blob
# on a free loopback port and stop it.
set -euo pipefail

if command -v azurite-blob >/dev/null 2>&1; then
    exit 0
fi

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-azurite: missing ${need_apt[*]}; run as root or install them" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

npm install --global --silent --no-audit --no-fund azurite

command -v azurite-blob >/dev/null 2>&1 || {
    echo "azurite-blob is still not on PATH after npm install --global azurite" >&2
    exit 1
}
