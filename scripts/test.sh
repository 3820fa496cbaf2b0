#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh
# The Kubernetes deployment files against the real schemas (the generated pods are checked by
# runner-executor-k8s's ignored test `generated_pods_validate_against_the_schemas`).
scripts/validate-k8s.sh
# The end-to-end tests start the real binary; build it once and tell them where it is.
cargo build --workspace --all-features --bins
export GITLAB_RUNNER_RS_BIN="$PWD/target/debug/gitlab-runner-rs"
# The statically linked binary that goes into helper images (setup-docker.sh built it; this
# only finds it again, or builds it when Docker images were skipped).
GITLAB_RUNNER_RS_STATIC_BIN="$(scripts/build-static.sh)"
export GITLAB_RUNNER_RS_STATIC_BIN
# --run-ignored all: tests that need a daemon are #[ignore]d for a plain `cargo test`,
# but the setup above provided what they need, so CI runs them too.
cargo nextest run --workspace --all-features --run-ignored all --no-fail-fast
cargo test --workspace --all-features --doc
