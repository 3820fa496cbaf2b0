#!/usr/bin/env bash
# config_exec: tells the runner where jobs live inside the container and who we are.
# Its stdout must be one JSON object; anything for the job log goes to stderr.
set -eu
source "$(dirname "$0")/base.sh"

cat <<JSON
{
  "builds_dir": "/builds",
  "cache_dir": "/cache",
  "builds_dir_is_shared": false,
  "hostname": "$CONTAINER_ID",
  "driver": { "name": "docker-cli example", "version": "v1.0.0" },
  "job_env": { "CUSTOM_DRIVER_CONTAINER": "$CONTAINER_ID" }
}
JSON
