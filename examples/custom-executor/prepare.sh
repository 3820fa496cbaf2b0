#!/usr/bin/env bash
# prepare_exec: starts the job's container, which then waits for the stage scripts.
set -eu
source "$(dirname "$0")/base.sh"

# Anything that goes wrong here is the system's fault, not the job's: the runner
# retries preparation up to three times and then reports a system failure.
trap 'exit "$SYSTEM_FAILURE_EXIT_CODE"' ERR

mounts=()
# The cache and artifact stages call the runner's binary in its helper modes
# (`gitlab-runner-rs artifacts-uploader ...`): mount it into the container.
runner_binary="${GITLAB_RUNNER_RS_BINARY:-$(command -v gitlab-runner-rs || true)}"
if [ -n "$runner_binary" ]; then
  mounts+=(-v "$runner_binary:/usr/local/bin/gitlab-runner-rs:ro")
fi
# `exec custom` clones from a local repository (file://): make it visible inside, with the
# object directories it borrows from.
case "${CUSTOM_ENV_CI_REPOSITORY_URL:-}" in
  file://*)
    repository="${CUSTOM_ENV_CI_REPOSITORY_URL#file://}"
    mounts+=(-v "$repository:$repository:ro")
    if [ -f "$repository/objects/info/alternates" ]; then
      while read -r objects; do
        mounts+=(-v "$objects:$objects:ro")
      done < "$repository/objects/info/alternates"
    fi
    ;;
esac

echo "Starting container $CONTAINER_ID from $IMAGE"
docker rm -f "$CONTAINER_ID" >/dev/null 2>&1 || true
# Host networking lets jobs reach a GitLab (and git server) on this machine's loopback.
docker run --detach --name "$CONTAINER_ID" --network host \
  --label gitlab-runner-rs-custom-example=1 \
  -v "$CACHE_VOLUME:/cache" "${mounts[@]}" \
  --entrypoint sh "$IMAGE" -c 'mkdir -p /builds && exec sleep 2147483647' >/dev/null

# Wait until the container is up before the first stage.
for _ in $(seq 1 30); do
  if [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER_ID")" = true ]; then
    exit 0
  fi
  sleep 1
done
echo "container $CONTAINER_ID did not start" >&2
exit "$SYSTEM_FAILURE_EXIT_CODE"
