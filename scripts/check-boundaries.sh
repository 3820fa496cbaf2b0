#!/usr/bin/env bash
# Enforces the dependency directions of ARCHITECTURE.md with `cargo tree`:
# a forbidden edge fails CI instead of creeping in unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
forbid() { # crate, forbidden dependency, reason
  if cargo tree -p "$1" -e normal --prefix none 2>/dev/null | awk '{print $1}' | grep -qx "$2"; then
    echo "boundary violated: $1 depends on $2 ($3)" >&2
    fail=1
  fi
}
forbid runner-config tokio "runner-config stays synchronous"
forbid runner-config hyper "runner-config knows no HTTP"
forbid runner-config runner-api "runner-config depends on no internal crate"
forbid runner-metrics runner-api "runner-metrics depends on no internal crate"
forbid runner-metrics runner-config "runner-metrics depends on no internal crate"
for executor in runner-executor runner-executor-shell runner-executor-docker runner-executor-k8s runner-executor-custom; do
  forbid "$executor" runner-api "executors know nothing about the coordinator"
done
forbid runner-executor hyper "runner-executor is plain vocabulary, no transport"
forbid runner-executor-shell runner-executor-docker "executors never depend on each other"
forbid runner-executor-shell runner-executor-k8s "executors never depend on each other"
forbid runner-executor-docker runner-executor-k8s "executors never depend on each other"
forbid runner-executor-k8s runner-executor-docker "executors never depend on each other"
for other in runner-executor-shell runner-executor-docker runner-executor-k8s; do
  forbid runner-executor-custom "$other" "executors never depend on each other"
  forbid "$other" runner-executor-custom "executors never depend on each other"
done
forbid runner-executor-custom hyper "the custom executor runs driver processes, no transport"
for internal in runner-api runner-config runner-artifacts runner-executor runner-pipeline runner-metrics; do
  forbid runner-secrets "$internal" "runner-secrets depends on no internal crate"
done
exit $fail
