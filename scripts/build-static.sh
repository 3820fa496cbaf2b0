#!/usr/bin/env bash
# Builds `gitlab-runner-rs` statically linked, the binary that runs as the helper in any
# helper image (Debian, Alpine/musl, busybox) and in the runner image.
#
#   scripts/build-static.sh [--release] [OUTPUT]
#
# glibc, statically: `-C target-feature=+crt-static` on x86_64-unknown-linux-gnu (no musl
# target is needed). The target is passed explicitly so the flag reaches only the binary's
# crates, not build scripts and proc-macros (which must stay dynamic). DNS stays correct: hyper's
# resolver calls getaddrinfo, and glibc >= 2.34 has the `files` and `dns` NSS sources built
# into libc (static too), so /etc/hosts and /etc/resolv.conf work without loading any
# libnss_*.so; other sources named in /etc/nsswitch.conf (mdns, systemd, ldap) are skipped
# (ARCHITECTURE.md, "The static helper binary").
#
# OUTPUT defaults to $CARGO_TARGET_DIR/static/<debug|release>/gitlab-runner-rs. Debug info is
# stripped from the copy, which is what gets copied into every helper container.
# GITLAB_RUNNER_RS_STATIC_TARGET_DIR builds in another target directory (the flags differ
# from a normal build, so nothing but host build scripts would be shared anyway).
set -euo pipefail

cd "$(dirname "$0")/.."
profile=debug
cargo_profile=()
if [ "${1:-}" = --release ]; then
  profile=release
  cargo_profile=(--release)
  shift
fi
target_dir=${GITLAB_RUNNER_RS_STATIC_TARGET_DIR:-${CARGO_TARGET_DIR:-target}}
output=${1:-${CARGO_TARGET_DIR:-target}/static/$profile/gitlab-runner-rs}
triple=x86_64-unknown-linux-gnu
if [ "$(uname -m)" != x86_64 ]; then
  triple=$(uname -m)-unknown-linux-gnu
fi

# The release link options of runner-bin/build.rs (lld symbol order, DT_RELR) are for the
# dynamic binary's start-up; a static executable is linked plainly.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  GITLAB_RUNNER_RS_PLAIN_LINK=1 \
  CARGO_TARGET_DIR=$target_dir \
  cargo build "${cargo_profile[@]}" -p runner-bin --bin gitlab-runner-rs --target "$triple" >&2

built=$target_dir/$triple/$profile/gitlab-runner-rs
if file "$built" | grep -q 'dynamically linked'; then
  echo "build-static: $built is dynamically linked" >&2
  exit 1
fi
mkdir -p "$(dirname "$output")"
objcopy --strip-debug "$built" "$output.$$.tmp"
mv "$output.$$.tmp" "$output"
# Absolute: callers (the e2e tests) run it from other directories.
realpath "$output"
