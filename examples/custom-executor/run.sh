#!/usr/bin/env bash
# run_exec: runs one stage script inside the job's container.
# Arguments: <script path on this host> <stage name> (prepare_script, get_sources,
# build_script, after_script, upload_artifacts_on_success, ...).
script="$1"
stage="$2"
source "$(dirname "$0")/base.sh"

if [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER_ID" 2>/dev/null)" != true ]; then
  echo "container $CONTAINER_ID is not running (stage $stage)" >&2
  exit "$SYSTEM_FAILURE_EXIT_CODE"
fi

# The script is generated for bash; feed it to bash inside the container.
docker exec --interactive "$CONTAINER_ID" bash < "$script"
status=$?
if [ "$status" -ne 0 ]; then
  # The job's own failure: report its exit code so `allow_failure: exit_codes` works.
  echo "$status" > "$BUILD_EXIT_CODE_FILE"
  exit "$BUILD_FAILURE_EXIT_CODE"
fi
