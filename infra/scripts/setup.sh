#!/usr/bin/env bash
# Sets up Pixelfind on a Debian machine with Node 20. Idempotent: run it as often as you like.
#   bash infra/scripts/setup.sh          # build deps, npm ci, FAISS, native addon, tiny model, safety model
#   bash infra/scripts/setup.sh --test   # also Postgres and Redis for the test suite, started
#   bash infra/scripts/setup.sh --image  # also podman, runc and debootstrap for `npm run image:test`
set -euo pipefail
cd "$(dirname "$0")/../.."

with_test_services=0
with_image_tools=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test_services=1 ;;
    --image) with_image_tools=1 ;;
    *) echo "setup: unknown option $arg (known: --test, --image)" >&2; exit 2 ;;
  esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# Debian packages: compilers for the FAISS addon, BLAS/LAPACK it links with, FAISS itself
# (headers and the generic fallback), dpkg-dev to fetch FAISS's source for the AVX2 build.
packages=(g++ make cmake python3 pkg-config dpkg-dev libopenblas-dev liblapack-dev libfaiss-dev libgomp1)
# chromium: the web app's browser tests (test/web) drive Debian's Chromium with playwright-core;
# prometheus: promtool unit-tests infra/prometheus/*.rules.yml, and test/observability scrapes
# the processes with a real Prometheus (each test starts its own on a free port)
if [ "$with_test_services" = 1 ]; then packages+=(postgresql redis-server chromium prometheus); fi
# the container image without a registry: podman with runc, a debootstrap base (image-build.sh)
if [ "$with_image_tools" = 1 ]; then packages+=(podman runc debootstrap); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: these Debian packages are missing; install them, then run setup again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm ci only when the lockfile changed since the last install
export ONNXRUNTIME_NODE_INSTALL=skip
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.pixelfind-lock ] || [ "$(cat node_modules/.pixelfind-lock)" != "$lock_sum" ]; then
  say "npm ci"
  npm ci --no-fund --no-audit
  echo "$lock_sum" > node_modules/.pixelfind-lock
fi
# npm 11 skips install scripts it was not told to allow: check the native packages really built
node -e "require('sharp'); require('onnxruntime-node'); require('hnswlib-node')" \
  || { echo "setup: a native npm package did not build (see above)" >&2; exit 1; }

# the edge's Env type, generated from wrangler.toml (offline), so it is never stale or tracked
say "Edge types (wrangler types)"
npm run --silent edge:types >/dev/null

if [ -f infra/scripts/build-faiss.sh ]; then
  say "FAISS (AVX2 build when the CPU has it)"
  bash infra/scripts/build-faiss.sh
fi
if node -e 'process.exit(require("./package.json").scripts["build:native"] ? 0 : 1)'; then
  say "FAISS addon"
  npm run --silent build:native
fi
if node -e 'process.exit(require("./package.json").scripts["fixtures:generate"] ? 0 : 1)'; then
  say "Tiny CLIP model and test fixtures"
  npm run --silent fixtures:generate
fi

if node -e 'process.exit(require("./package.json").scripts["model:nsfw"] ? 0 : 1)'; then
  # nsfwjs' MobileNetV2 from its npm package, converted to ONNX for the safety scorer (no download)
  say "Safety model (nsfwjs MobileNetV2 -> ONNX)"
  npm run --silent model:nsfw
fi
# npm start, worker, search-cluster, migrate and keys run the compiled tree
say "Compile to dist/"
npm run --silent build

say "Web app (api/web -> api/web/dist)"
npm run --silent build:web

if [ "$with_test_services" = 1 ]; then
  say "Postgres and Redis for the tests"
  bash infra/scripts/test-services.sh
fi
say "Set-up done."
