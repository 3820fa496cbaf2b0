#!/usr/bin/env bash
# Validates the Kubernetes deployment files against the real Kubernetes schemas, offline:
# each kustomization under deploy/kubernetes is rendered with `kubectl kustomize` and every
# object checked by kubernetes-validate (strict: unknown fields fail). Further YAML or JSON
# files given as arguments (the pods runner-executor-k8s builds, dumped by its test) are
# checked the same way. scripts/setup-test-deps.sh installs both tools.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in kubectl kubernetes-validate; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "validate-k8s: $tool is missing; run scripts/setup-test-deps.sh" >&2
    exit 1
  fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=()
for dir in deploy/kubernetes deploy/kubernetes/namespace-per-job; do
  name=$(echo "$dir" | tr / -)
  kubectl kustomize "$dir" >"$out/$name.yaml"
  files+=("$out/$name.yaml")
done
files+=("$@")
# --quiet prints only failures; a failure exits non-zero.
kubernetes-validate --strict --quiet "${files[@]}"
echo "validate-k8s: ${#files[@]} files valid"
