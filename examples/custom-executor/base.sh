#!/usr/bin/env bash
# Shared by the driver's stages: the job's container name and the image it runs.
# Job variables arrive prefixed with CUSTOM_ENV_; the runner's own variables
# (BUILD_FAILURE_EXIT_CODE, SYSTEM_FAILURE_EXIT_CODE, ...) come unprefixed.

# One container per job: runner, project, concurrency slot and job id make it unique.
CONTAINER_ID="gitlab-runner-rs-custom-${CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN:-local}-${CUSTOM_ENV_CI_PROJECT_ID:-0}-${CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID:-0}-${CUSTOM_ENV_CI_JOB_ID:-0}"
# The job's `image:`, else the driver's default (override with CUSTOM_DRIVER_IMAGE in
# the runner's environment).
IMAGE="${CUSTOM_ENV_CI_JOB_IMAGE:-${CUSTOM_DRIVER_IMAGE:-gitlab-runner-rs-test/bash:latest}}"
# The cache survives the job's container in a named volume.
CACHE_VOLUME="${CUSTOM_DRIVER_CACHE_VOLUME:-gitlab-runner-rs-custom-cache}"
