#!/usr/bin/env bash
# Builds FAISS for this CPU (AVX2) from Debian's own source package and caches it outside the repo,
# because Debian's libfaiss.a is a generic x86-64 build (a 512-d dot product ~10x slower).
# Falls back to Debian's libfaiss-dev, with a warning, on a CPU without AVX2 or when the build fails.
#
# Our fixes to FAISS (infra/faiss-patches/*.patch, applied in name order with `patch -p1` on top of
# Debian's own patches) go into the AVX2 build only; Debian's generic library stays unpatched, and
# the addon says which one it linked (search-cluster/src/faiss/load-native.ts, `faissBuild()`).
#
# Idempotent: a stamp file marks a finished build; run it again and it only checks. The stamp and
# the unpacked source are keyed by a digest of the patches, so a cache built before a patch was
# added or changed is re-unpacked, patched and rebuilt.
#
#   PIXELFIND_CACHE          cache root (default: $HOME/.cache/pixelfind)
#   PIXELFIND_FAISS_PREFIX   where the AVX2 build goes (default: $PIXELFIND_CACHE/faiss-avx2)
#   PIXELFIND_BUILD_JOBS     parallel compile jobs (default: nproc)
#   PIXELFIND_FAISS_GENERIC  set to 1 to skip the AVX2 build and use Debian's library
#
# search-cluster/native/faiss-config.mjs finds the result at the same path, so
# `npm run build:native` links whichever library this script left behind.
set -euo pipefail

FAISS_VERSION=1.7.3
CACHE_ROOT="${PIXELFIND_CACHE:-$HOME/.cache/pixelfind}"
PREFIX="${PIXELFIND_FAISS_PREFIX:-$CACHE_ROOT/faiss-avx2}"
PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../faiss-patches" && pwd)"
PATCHES=("$PATCH_DIR"/*.patch)
[ -f "${PATCHES[0]}" ] || PATCHES=()
# Names and contents of every patch: a new or edited patch gives a new stamp, hence a rebuild.
PATCH_ID=$(for p in "${PATCHES[@]}"; do printf '== %s\n' "$(basename "$p")"; cat "$p"; done | sha256sum | cut -c1-12)
STAMP="$PREFIX/.built-faiss-$FAISS_VERSION-avx2-patches-$PATCH_ID"
JOBS="${PIXELFIND_BUILD_JOBS:-$(nproc)}"
SRC_LIST=/etc/apt/sources.list.d/pixelfind-deb-src.sources

log() { echo "build-faiss: $*"; }
warn() { echo "build-faiss: WARNING: $*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

# Installs the Debian packages that are missing; without root, prints the exact command and fails.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! is_root; then
    echo "build-faiss: missing packages; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }
}

use_system_faiss() {
  warn "$1"
  warn "using Debian's generic libfaiss (/usr/lib/x86_64-linux-gnu/libfaiss.a): search will be several times slower"
  exit 0
}

# Headers and the fallback library; the AVX2 build links the same OpenBLAS/LAPACK.
apt_install libfaiss-dev libopenblas-dev liblapack-dev

if [ -f "$STAMP" ] && [ -f "$PREFIX/lib/libfaiss_avx2.a" ] && [ -f "$PREFIX/include/faiss/Index.h" ]; then
  log "already built: $PREFIX (lib/libfaiss_avx2.a, include/)"
  exit 0
fi

if [ "${PIXELFIND_FAISS_GENERIC:-0}" = 1 ]; then
  use_system_faiss "PIXELFIND_FAISS_GENERIC=1: not building FAISS for this CPU"
fi
if ! grep -qw avx2 /proc/cpuinfo; then
  use_system_faiss "this CPU has no AVX2: not building FAISS for it"
fi

apt_install cmake g++ make dpkg-dev patch || use_system_faiss "build tools missing (see above)"

# deb-src entries for the same Debian mirrors as the binary ones (deb822 stanzas and one-line entries).
if ! apt-cache showsrc faiss 2>/dev/null | grep -q '^Version:'; then
  if ! is_root; then
    use_system_faiss "no deb-src entry for faiss; as root, rerun this script (it adds $SRC_LIST)"
  fi
  log "adding deb-src entries in $SRC_LIST"
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      [ "$f" = "$SRC_LIST" ] && continue
      # Copy each enabled stanza of Debian's own archive, as deb-src.
      awk 'function flush() {
             if (stanza != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && uris ~ /\/debian(-security)?\/?([ \t]|$)/ && enabled != "no")
               printf "%s\n", stanza
             stanza = ""; types = ""; uris = ""; enabled = ""
           }
           /^[ \t]*$/ { flush(); next }
           /^#/ { next }
           /^Types:/ { types = substr($0, 7); stanza = stanza "Types: deb-src\n"; next }
           /^URIs:/ { uris = substr($0, 6) }
           /^Enabled:/ { enabled = $2 }
           { stanza = stanza $0 "\n" }
           END { flush() }' "$f"
    done
  } >"$SRC_LIST.tmp"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -E '^deb[[:space:]].*/debian(-security)?/?[[:space:]]' "$f" | sed 's/^deb /deb-src /' || true
  done >"${SRC_LIST%.sources}.list.tmp"
  mv "$SRC_LIST.tmp" "$SRC_LIST"
  if [ -s "${SRC_LIST%.sources}.list.tmp" ]; then
    mv "${SRC_LIST%.sources}.list.tmp" "${SRC_LIST%.sources}.list"
  else
    rm -f "${SRC_LIST%.sources}.list.tmp"
  fi
  apt-get update -q || true
  apt-cache showsrc faiss 2>/dev/null | grep -q '^Version:' ||
    use_system_faiss "apt still finds no source package for faiss after adding deb-src entries"
fi

mkdir -p "$PREFIX/src"
src_dir=$(find "$PREFIX/src" -maxdepth 1 -type d -name "faiss-$FAISS_VERSION*" | head -n 1)
if [ -n "$src_dir" ] && [ ! -f "$src_dir/CMakeLists.txt" ]; then
  log "discarding an incomplete source tree in $PREFIX/src"
  rm -rf "${PREFIX:?}/src" && mkdir -p "$PREFIX/src"
  src_dir=""
fi
# A tree patched with another set of our patches (or none: a cache from before them) is unpacked
# again rather than patched on top, so the library always matches infra/faiss-patches exactly.
if [ -n "$src_dir" ] && [ "$(cat "$src_dir/.pixelfind-patches" 2>/dev/null)" != "$PATCH_ID" ]; then
  log "the source tree in $src_dir does not carry the current patches: unpacking it again"
  rm -rf "$src_dir"
  src_dir=""
  dsc=$(find "$PREFIX/src" -maxdepth 1 -type f -name "faiss_$FAISS_VERSION*.dsc" | head -n 1)
  if [ -n "$dsc" ]; then
    # The downloaded source package is still there: no download needed.
    (cd "$PREFIX/src" && dpkg-source -x "$(basename "$dsc")" >"$PREFIX/apt-source.log" 2>&1) || true
    src_dir=$(find "$PREFIX/src" -maxdepth 1 -type d -name "faiss-$FAISS_VERSION*" | head -n 1)
  fi
fi
if [ -z "$src_dir" ]; then
  log "fetching Debian's faiss source package into $PREFIX/src"
  (cd "$PREFIX/src" && apt-get source -q --only-source faiss >"$PREFIX/apt-source.log" 2>&1) ||
    use_system_faiss "apt-get source faiss failed (see $PREFIX/apt-source.log)"
  src_dir=$(find "$PREFIX/src" -maxdepth 1 -type d -name "faiss-$FAISS_VERSION*" | head -n 1)
  [ -n "$src_dir" ] || use_system_faiss "Debian's faiss source is not version $FAISS_VERSION (see $PREFIX/src)"
fi
if [ "$(cat "$src_dir/.pixelfind-patches" 2>/dev/null)" != "$PATCH_ID" ]; then
  for p in "${PATCHES[@]}"; do
    log "applying $(basename "$p")"
    patch -d "$src_dir" -p1 --forward --batch --quiet <"$p" >>"$PREFIX/patch.log" 2>&1 || {
      rm -rf "$src_dir"
      use_system_faiss "$(basename "$p") does not apply to Debian's $(basename "$src_dir") (see $PREFIX/patch.log)"
    }
  done
  echo "$PATCH_ID" >"$src_dir/.pixelfind-patches"
fi

build_dir="$PREFIX/build"
log "building libfaiss_avx2.a with $JOBS jobs (only the library target)"
start=$(date +%s)
if ! {
  cmake -S "$src_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DFAISS_OPT_LEVEL=avx2 -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF -DFAISS_ENABLE_C_API=OFF \
    -DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON >"$PREFIX/cmake-configure.log" 2>&1 &&
    cmake --build "$build_dir" --target faiss_avx2 -j "$JOBS" >"$PREFIX/cmake-build.log" 2>&1
}; then
  tail -n 20 "$PREFIX/cmake-configure.log" "$PREFIX/cmake-build.log" >&2 || true
  rm -rf "$build_dir"
  use_system_faiss "the AVX2 build failed (logs in $PREFIX/cmake-*.log)"
fi
seconds=$(($(date +%s) - start))

lib=$(find "$build_dir" -name libfaiss_avx2.a | head -n 1)
[ -n "$lib" ] || use_system_faiss "the build produced no libfaiss_avx2.a"
rm -rf "$PREFIX/lib" "$PREFIX/include"
mkdir -p "$PREFIX/lib" "$PREFIX/include"
cp "$lib" "$PREFIX/lib/"
# Headers of the same source the library was compiled from (Debian's patches applied).
(cd "$src_dir" && find faiss -name '*.h' -not -path 'faiss/gpu/*' -not -path 'faiss/python/*' \
  -exec cp --parents {} "$PREFIX/include/" \;)
# Stamps of earlier builds (other patches) go; this one names the patches the library carries.
rm -f "$PREFIX"/.built-faiss-*
{
  printf 'faiss %s avx2, built in %ss on %s from %s\n' "$FAISS_VERSION" "$seconds" "$(date -u +%FT%TZ)" \
    "$(basename "$src_dir")"
  for p in "${PATCHES[@]}"; do printf 'patch %s\n' "$(basename "$p")"; done
} >"$STAMP"
# The object files are not needed any more; the source stays so a rebuild skips the download.
rm -rf "$build_dir"

log "built in ${seconds}s with ${#PATCHES[@]} patch(es) from infra/faiss-patches; installed in $PREFIX"
log "  library: $PREFIX/lib/libfaiss_avx2.a"
log "  headers: $PREFIX/include/faiss"
