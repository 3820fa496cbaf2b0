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
# Direct (depth 1) dependencies, for rules about who may use a crate itself.
forbid_direct() { # crate, forbidden direct dependency, reason
  if cargo tree -p "$1" -e normal --depth 1 --prefix none 2>/dev/null | tail -n +2 | awk '{print $1}' | grep -qx "$2"; then
    echo "boundary violated: $1 depends directly on $2 ($3)" >&2
    fail=1
  fi
}
# runner-core is the shared vocabulary: plain types, no dependencies (serde only behind its
# `serde` feature, which `cargo tree -p` leaves off).
if [ "$(cargo tree -p runner-core -e normal --prefix none 2>/dev/null | wc -l)" -ne 1 ]; then
  echo "boundary violated: runner-core has dependencies (it is plain vocabulary)" >&2
  fail=1
fi
# The binary holds no job logic: jobs reach executors only through runner-agent.
for executor in runner-executor runner-executor-shell runner-executor-docker runner-executor-k8s runner-executor-custom; do
  forbid_direct runner-bin "$executor" "runner-bin holds no job logic; the engine is runner-agent"
done
for library in runner-core runner-config runner-api runner-artifacts runner-secrets runner-executor runner-executor-shell runner-executor-docker runner-executor-k8s runner-executor-custom runner-metrics runner-pipeline; do
  forbid "$library" runner-agent "only runner-bin and examples depend on runner-agent"
  forbid "$library" runner-bin "nothing depends on runner-bin"
done
forbid runner-agent runner-bin "nothing depends on runner-bin"
forbid runner-config tokio "runner-config stays synchronous"
forbid runner-config hyper "runner-config knows no HTTP"
forbid runner-config runner-api "runner-config depends on no internal crate but runner-core"
forbid runner-metrics runner-api "runner-metrics depends on no internal crate but runner-core"
forbid runner-metrics runner-config "runner-metrics depends on no internal crate but runner-core"
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
  forbid runner-secrets "$internal" "runner-secrets depends on no internal crate but runner-core"
done
exit $fail
