#!/usr/bin/env bash
# Prepares, idempotently, what runner-executor-docker's tests need on a Debian machine:
#   1. docker.io, docker-registry and busybox-static installed with apt-get when missing;
#   2. a Docker daemon answering `docker info` (dockerd started in the background when none does);
#   3. the local test images, assembled from the host with `docker import` (no registry is reachable):
#        gitlab-runner-rs-test/bash:latest            busybox applets, bash and git
#        gitlab-runner-rs-test/helper:latest          the same image, used as the helper image
#        gitlab-runner-rs-test/busybox-helper:latest  busybox-static, bash-static and musl only
#                                                     (no glibc): runs only a static helper binary;
#   4. a registry on 127.0.0.1:5000 (Debian's docker-registry) for pull-policy tests;
#   5. our own images from a static debug build (scripts/build-static.sh, then
#      scripts/build-images.sh): gitlab-runner-rs-helper:<arch>-v<version> and
#      gitlab-runner-rs:v<version>. SKIP_RUNNER_IMAGES=1 skips this step.
# Every step checks first and does nothing when its result is already there.
set -euo pipefail

log() { echo "setup-docker: $*" >&2; }

as_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "missing $*; run as root or install it"
    exit 1
  fi
}

# 1. Packages.
need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
[ -x /bin/bash-static ] || need_apt+=(bash-static)
[ -x /lib/ld-musl-x86_64.so.1 ] || [ "$(uname -m)" != x86_64 ] || need_apt+=(musl)
command -v git-lfs >/dev/null 2>&1 || need_apt+=(git-lfs)
[ -x /usr/bin/tini-static ] || need_apt+=(tini)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
command -v git >/dev/null 2>&1 || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
  as_root "${need_apt[*]}"
  log "installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# 2. The daemon.
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/gitlab-runner-rs-dockerd.log}
if ! docker info >/dev/null 2>&1; then
  as_root "a running Docker daemon"
  log "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60s; last lines of $DOCKERD_LOG:"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
fi

# 3. Test images.
BASH_IMAGE=gitlab-runner-rs-test/bash:latest
HELPER_IMAGE=gitlab-runner-rs-test/helper:latest

# Root filesystems from the host's packages: rootfs_copy (files with their libraries) and
# rootfs_copy_libs, shared with build-images.sh.
# shellcheck source=scripts/rootfs-lib.sh
. "$(dirname "$0")/rootfs-lib.sh"

build_bash_image() {
  local rootfs
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  mkdir -p "$rootfs"/{bin,usr/bin,usr/sbin,sbin,etc,tmp,root,builds,cache,var/tmp,lib64}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  # bash and git with their libraries; git's helper programs keep their hard links.
  rootfs_copy "$rootfs" /bin/bash
  ln -sf /bin/bash "$rootfs/usr/bin/bash"
  local git_bin git_exec
  git_bin=$(command -v git)
  git_exec=$(git --exec-path)
  rootfs_copy "$rootfs" "$git_bin"
  [ "$git_bin" = /usr/bin/git ] || ln -sf "$git_bin" "$rootfs/usr/bin/git"
  mkdir -p "$rootfs$git_exec"
  tar -C / -cf - "${git_exec#/}" | tar -C "$rootfs" -xf -
  local helper
  for helper in "$git_exec"/*; do
    if [ -f "$helper" ] && head -c 4 "$helper" | grep -q ELF; then
      rootfs_copy_libs "$rootfs" "$helper"
    fi
  done
  # The runtime libraries of a glibc-linked Rust binary, so the runner's own binary,
  # bind-mounted into the helper container, runs the artifact and cache commands there.
  local runtime_lib
  for runtime_lib in libgcc_s.so.1 libm.so.6 libc.so.6; do
    local found
    found=$(ldconfig -p | awk -v name="$runtime_lib" '$1 == name && /x86-64|x86_64|AArch64/ {print $NF; exit}')
    if [ -n "$found" ]; then
      mkdir -p "$rootfs$(dirname "$found")"
      cp -L "$found" "$rootfs$found"
    fi
  done
  [ -d /usr/share/git-core/templates ] && mkdir -p "$rootfs/usr/share/git-core" &&
    cp -a /usr/share/git-core/templates "$rootfs/usr/share/git-core/"
  [ -d /etc/ssl/certs ] && mkdir -p "$rootfs/etc/ssl" && cp -aL /etc/ssl/certs "$rootfs/etc/ssl/" 2>/dev/null || true
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
  tar -C "$rootfs" -cf - . |
    docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'CMD ["/bin/sh"]' \
      --change "LABEL gitlab-runner-rs-test.version=$IMAGE_VERSION" - "$BASH_IMAGE" >/dev/null
}

# Bump when the image's content changes, so an older image on the machine is rebuilt.
IMAGE_VERSION=2
current_version=$(docker image inspect -f '{{ index .Config.Labels "gitlab-runner-rs-test.version" }}' "$BASH_IMAGE" 2>/dev/null || true)
if [ "$current_version" != "$IMAGE_VERSION" ]; then
  log "building $BASH_IMAGE (version $IMAGE_VERSION)"
  build_bash_image
  docker tag "$BASH_IMAGE" "$HELPER_IMAGE"
  docker rmi 127.0.0.1:5000/gitlab-runner-rs-test/bash:latest >/dev/null 2>&1 || true
fi
if ! docker image inspect "$HELPER_IMAGE" >/dev/null 2>&1; then
  docker tag "$BASH_IMAGE" "$HELPER_IMAGE"
fi

# The musl/busybox helper: what upstream's Alpine helper offers a binary (no glibc), with
# bash for the stage scripts. Our static binary is copied in by the executor at run time.
BUSYBOX_HELPER_IMAGE=gitlab-runner-rs-test/busybox-helper:latest
BUSYBOX_HELPER_VERSION=1
build_busybox_helper_image() {
  local rootfs
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  rootfs_base "$rootfs"
  cp /bin/bash-static "$rootfs/bin/bash"
  ln -sf /bin/bash "$rootfs/usr/bin/bash"
  rootfs_busybox "$rootfs"
  if [ -e /lib/ld-musl-x86_64.so.1 ]; then
    mkdir -p "$rootfs/lib"
    cp -L /lib/ld-musl-x86_64.so.1 "$rootfs/lib/ld-musl-x86_64.so.1"
  fi
  mkdir -p "$rootfs/builds" "$rootfs/cache"
  tar -C "$rootfs" -cf - . |
    docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'CMD ["/bin/sh"]' \
      --change "LABEL gitlab-runner-rs-test.version=$BUSYBOX_HELPER_VERSION" - "$BUSYBOX_HELPER_IMAGE" >/dev/null
}
current_version=$(docker image inspect -f '{{ index .Config.Labels "gitlab-runner-rs-test.version" }}' "$BUSYBOX_HELPER_IMAGE" 2>/dev/null || true)
if [ "$current_version" != "$BUSYBOX_HELPER_VERSION" ]; then
  log "building $BUSYBOX_HELPER_IMAGE (version $BUSYBOX_HELPER_VERSION)"
  build_busybox_helper_image
fi

# 4. A plain registry on loopback (no TLS, no auth) for pull-policy tests.
REGISTRY_DIR=${REGISTRY_DIR:-/var/lib/gitlab-runner-rs-registry}
if ! (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then
  mkdir -p "$REGISTRY_DIR"
  cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
  log "starting docker-registry on 127.0.0.1:5000"
  nohup docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
  for _ in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null && break
    sleep 1
  done
fi
REGISTRY_IMAGE=127.0.0.1:5000/gitlab-runner-rs-test/bash:latest
if ! docker image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1; then
  docker tag "$BASH_IMAGE" "$REGISTRY_IMAGE"
  docker push "$REGISTRY_IMAGE" >/dev/null
fi
# 5. Our helper and runner images, from a static debug build (minutes the first time; cargo
# makes later runs cheap). build-images.sh rebuilds an image only when the binary changed.
if [ "${SKIP_RUNNER_IMAGES:-}" != 1 ]; then
  log "building the static binary and our images"
  static_bin=$("$(dirname "$0")/build-static.sh")
  "$(dirname "$0")/build-images.sh" --binary "$static_bin"
fi
log "ready"
