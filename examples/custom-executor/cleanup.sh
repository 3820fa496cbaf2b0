#!/usr/bin/env bash
# cleanup_exec: runs after every job, also a failed, canceled or timed-out one.
# Its output goes to the runner's own log, not the job log.
source "$(dirname "$0")/base.sh"
docker rm --force "$CONTAINER_ID" >/dev/null 2>&1 || true
echo "removed $CONTAINER_ID"
