# Functions that assemble a container root filesystem from the host's own Debian packages,
# for `docker import` (no registry, no network). Sourced by build-images.sh and
# setup-docker.sh.

# Copies the shared libraries `ldd` lists for each ELF file given into $rootfs.
rootfs_copy_libs() {
  local rootfs=$1
  shift
  local file lib
  for file in "$@"; do
    for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true); do
      if [ ! -e "$rootfs$lib" ]; then
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
      fi
    done
  done
}

# Copies each file given (resolving symlinks), and the shared libraries of ELF files, into
# $rootfs at the same path.
rootfs_copy() {
  local rootfs=$1
  shift
  local file
  for file in "$@"; do
    [ -e "$file" ] || continue
    mkdir -p "$rootfs$(dirname "$file")"
    cp -aL "$file" "$rootfs$file"
    if head -c 4 "$file" | grep -q ELF; then
      rootfs_copy_libs "$rootfs" "$file"
    fi
  done
}

# The directory layout, /etc/passwd and /etc/group (root, nobody, and for each extra argument
# `<passwd line>|<group line>`),
# and `hosts: files dns` (what Alpine-based images add for glibc-style resolvers).
rootfs_base() {
  local rootfs=$1
  shift
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,root,var/tmp,lib64,home}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  {
    echo 'root:x:0:0:root:/root:/bin/bash'
    echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh'
    local line
    for line in "$@"; do echo "${line%%|*}"; done
  } >"$rootfs/etc/passwd"
  {
    echo 'root:x:0:'
    echo 'nogroup:x:65534:'
    for line in "$@"; do
      if [ "${line#*|}" != "$line" ]; then echo "${line#*|}"; fi
    done
  } >"$rootfs/etc/group"
  echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
}

# busybox-static's applets for every command the image does not have yet (`sh`, coreutils,
# tar, gzip, ...).
rootfs_busybox() {
  local rootfs=$1 applet
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || [ -e "$rootfs/usr/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
}

rootfs_bash() {
  local rootfs=$1
  rootfs_copy "$rootfs" /bin/bash
  ln -sf /bin/bash "$rootfs/usr/bin/bash"
}

# git with its helper programs and templates; git-lfs with the filter configured system-wide
# (what `git lfs install --system --skip-repo` writes).
rootfs_git() {
  local rootfs=$1 with_lfs=${2:-}
  local git_bin git_exec helper
  git_bin=$(command -v git)
  git_exec=$(git --exec-path)
  rootfs_copy "$rootfs" "$git_bin"
  [ "$git_bin" = /usr/bin/git ] || ln -sf "$git_bin" "$rootfs/usr/bin/git"
  mkdir -p "$rootfs$git_exec"
  tar -C / -cf - "${git_exec#/}" | tar -C "$rootfs" -xf -
  for helper in "$git_exec"/*; do
    if [ -f "$helper" ] && head -c 4 "$helper" | grep -q ELF; then
      rootfs_copy_libs "$rootfs" "$helper"
    fi
  done
  local templates
  for templates in /usr/share/git-core/templates /usr/local/share/git-core/templates; do
    [ -d "$templates" ] && mkdir -p "$rootfs$(dirname "$templates")" && cp -a "$templates" "$rootfs$templates"
  done
  if [ -n "$with_lfs" ]; then
    rootfs_copy "$rootfs" "$(command -v git-lfs)"
    printf '[filter "lfs"]\n\tclean = git-lfs clean -- %%f\n\tsmudge = git-lfs smudge -- %%f\n\tprocess = git-lfs filter-process\n\trequired = true\n' \
      >"$rootfs/etc/gitconfig"
  fi
}

# The CA bundle (the host's ca-certificates package), where Debian and Alpine keep it.
rootfs_certs() {
  local rootfs=$1
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/local/share/ca-certificates"
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  ln -sf certs/ca-certificates.crt "$rootfs/etc/ssl/cert.pem"
}
