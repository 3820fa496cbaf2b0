#!/usr/bin/env bash
# Builds our container images without a registry: root filesystems assembled from this
# Debian host's own packages (busybox-static, bash, git, git-lfs, ca-certificates, tini),
# loaded with `docker import`. For tests and air-gapped hosts; users with registry access
# can build the same images from images/helper/Dockerfile and images/runner/Dockerfile.
#
#   scripts/build-images.sh [--binary PATH] [--out DIR] [--no-runner]
#
#   --binary PATH  a statically linked gitlab-runner-rs (default: scripts/build-static.sh
#                  --release builds one)
#   --out DIR      where the helper image archive goes (default: target/images)
#   --no-runner    build only the helper image
#
# Results (<ver> = the workspace version, <arch> = x86_64, arm64, ...):
#   gitlab-runner-rs-helper:<arch>-v<ver>  the default `helper_image`: busybox, bash, git,
#                                          git-lfs, CA certificates and the binary at
#                                          /usr/bin/gitlab-runner-helper
#   DIR/gitlab-runner-rs-helper-<arch>.docker.tar.gz
#                                          the same image as `docker save`, which the Docker
#                                          executor loads when the daemon lacks the image
#   gitlab-runner-rs:v<ver> and :latest    the runner image: tini, /entrypoint, the binary at
#                                          /usr/bin/gitlab-runner-rs, bash, git, certificates
#                                          and the helper archive above
# Each image is labelled with the binary's sha256 and rebuilt only when it changed.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/rootfs-lib.sh
. scripts/rootfs-lib.sh

log() { echo "build-images: $*" >&2; }

binary=
out=${CARGO_TARGET_DIR:-target}/images
runner=1
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-runner) runner=; shift ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR] [--no-runner]" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  binary=$(scripts/build-static.sh --release)
fi
if file -L "$binary" | grep -q 'dynamically linked'; then
  log "$binary is dynamically linked; build it with scripts/build-static.sh"
  exit 1
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
helper_image=gitlab-runner-rs-helper:$arch-v$version
runner_image=gitlab-runner-rs:v$version
archive=$out/gitlab-runner-rs-helper-$arch.docker.tar.gz
sum=$(sha256sum "$binary" | cut -c1-64)
# Bump when what the scripts put into the images changes.
recipe=2
stamp="$recipe-$sum"

current_stamp() {
  docker image inspect -f '{{ index .Config.Labels "gitlab-runner-rs.build" }}' "$1" 2>/dev/null || true
}

import() {
  local rootfs=$1 image=$2
  shift 2
  local changes=() change
  for change in "$@" "LABEL gitlab-runner-rs.build=$stamp"; do
    changes+=(--change "$change")
  done
  tar --numeric-owner -C "$rootfs" -cf - . | docker import "${changes[@]}" - "$image" >/dev/null
}

build_helper() {
  local rootfs
  rootfs=$(mktemp -d)
  rootfs_base "$rootfs"
  rootfs_bash "$rootfs"
  rootfs_git "$rootfs" with-lfs
  rootfs_certs "$rootfs"
  rootfs_busybox "$rootfs"
  install -m 0755 "$binary" "$rootfs/usr/bin/gitlab-runner-helper"
  # Upstream's helper command (deployment.md §1.5): files the helper writes are writable by
  # any user of the build image.
  printf '#!/bin/sh\numask 0000\nexec /bin/bash "$@"\n' >"$rootfs/usr/bin/gitlab-runner-build"
  chmod 0755 "$rootfs/usr/bin/gitlab-runner-build"
  mkdir -p "$rootfs/builds" "$rootfs/cache"
  # The executor copies nothing into helper containers when this is its own binary's sha256.
  import "$rootfs" "$helper_image" \
    "LABEL gitlab-runner-rs.helper-sha256=$sum" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'CMD ["/bin/bash"]'
  rm -rf "$rootfs"
}

build_runner() {
  local rootfs
  rootfs=$(mktemp -d)
  rootfs_base "$rootfs" \
    'gitlab-runner:x:999:999:GitLab Runner:/home/gitlab-runner:/bin/bash|gitlab-runner:x:999:'
  rootfs_bash "$rootfs"
  rootfs_git "$rootfs"
  rootfs_certs "$rootfs"
  rootfs_busybox "$rootfs"
  install -m 0755 /usr/bin/tini-static "$rootfs/usr/bin/tini"
  install -m 0755 "$binary" "$rootfs/usr/bin/gitlab-runner-rs"
  ln -s gitlab-runner-rs "$rootfs/usr/bin/gitlab-runner"
  install -m 0755 images/runner/entrypoint "$rootfs/entrypoint"
  install -d -m 0700 "$rootfs/etc/gitlab-runner" "$rootfs/etc/gitlab-runner/certs"
  install -d -o 999 -g 999 "$rootfs/home/gitlab-runner"
  install -d "$rootfs/usr/lib/gitlab-runner-rs/helper-images"
  cp "$archive" "$rootfs/usr/lib/gitlab-runner-rs/helper-images/"
  import "$rootfs" "$runner_image" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENTRYPOINT ["/usr/bin/tini", "--", "/entrypoint"]' \
    'CMD ["run", "--working-directory", "/home/gitlab-runner", "--config", "/etc/gitlab-runner/config.toml"]' \
    'VOLUME ["/etc/gitlab-runner", "/home/gitlab-runner"]'
  # `docker import` cannot set STOPSIGNAL; a one-line build on the local image can (no
  # registry: the base is already on the daemon). SIGQUIT drains jobs on `docker stop`.
  local output
  if ! output=$(printf 'FROM %s\nSTOPSIGNAL SIGQUIT\n' "$runner_image" |
    DOCKER_BUILDKIT=0 docker build -q -t "$runner_image" - 2>&1); then
    echo "$output" >&2
    exit 1
  fi
  docker tag "$runner_image" gitlab-runner-rs:latest
  rm -rf "$rootfs"
}

for tool in /bin/busybox /usr/bin/git-lfs /usr/bin/tini-static; do
  if [ ! -x "$tool" ]; then
    log "missing $tool: apt-get install busybox-static git-lfs tini"
    exit 1
  fi
done

if [ "$(current_stamp "$helper_image")" != "$stamp" ] || [ ! -f "$archive" ]; then
  log "building $helper_image"
  build_helper
  mkdir -p "$out"
  docker save "$helper_image" | gzip -1 >"$archive.$$.tmp"
  mv "$archive.$$.tmp" "$archive"
fi
if [ -n "$runner" ] && [ "$(current_stamp "$runner_image")" != "$stamp" ]; then
  log "building $runner_image"
  build_runner
fi
log "ready: $helper_image${runner:+ $runner_image} ($archive)"
