#!/usr/bin/env bash
# `npm run image:test`: builds the container image (infra/scripts/image-build.sh: cached base,
# Node from the npm registry, the Dockerfile) and runs it as the cluster runs it: the migrate role,
# one shard server, one indexing worker and the API, each its own container from pixelfind:latest,
# against the local Postgres (a database of its own) and Redis (a logical database and key prefix
# of its own). It uploads an image through the API and checks that it becomes searchable, checks
# each container's HEALTHCHECK, then removes the containers, their volume, the database and the
# Redis keys it made. Every path the Kubernetes manifests probe or scrape is asked on its
# container first. Exits 0 with a SKIP line only where podman is installed but cannot run a
# container here.
#
#   PIXELFIND_TEST_DATABASE_URL  admin connection to Postgres (default postgres://postgres@127.0.0.1:5432/postgres)
#   PIXELFIND_IMAGE_TEST_REDIS   Redis server (default redis://127.0.0.1:6379); the test uses logical database 11
#   PIXELFIND_IMAGE_KEEP=1       leave the containers running on failure, for a look
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=infra/scripts/image-build.sh
source "$ROOT/infra/scripts/image-build.sh"

started=$SECONDS
run_id="pf-image-$$-$(date +%s)"
admin_url="${PIXELFIND_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_server="${PIXELFIND_IMAGE_TEST_REDIS:-redis://127.0.0.1:6379}"
redis_url="${redis_server%/}/11"
db_name="${run_id//-/_}"
database_url="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$admin_url" "$db_name")"
shard_token="$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')"
metrics_token="$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')"
containers=()
volume="$run_id-data"
db_created=0

if ! command -v podman >/dev/null; then
  echo "image:test: podman is not installed; install it with: bash infra/scripts/setup.sh --image" >&2
  exit 1
fi

cleanup() {
  local status=$?
  if [ "$status" != 0 ] && [ ${#containers[@]} -gt 0 ]; then
    for c in "${containers[@]}"; do
      echo "---- logs of $c (last 40 lines)" >&2
      pf_podman logs --tail 40 "$c" >&2 2>&1 || true
    done
    if [ "${PIXELFIND_IMAGE_KEEP:-0}" = 1 ]; then
      echo "image:test: PIXELFIND_IMAGE_KEEP=1: containers ${containers[*]} left running" >&2
      exit "$status"
    fi
  fi
  for c in "${containers[@]}"; do pf_podman rm -f -v "$c" >/dev/null 2>&1 || true; done
  pf_podman volume rm -f "$volume" >/dev/null 2>&1 || true
  if [ "$db_created" = 1 ]; then
    node "$ROOT/infra/scripts/image-test-stores.mjs" drop "$admin_url" "$db_name" "$redis_url" "$run_id" || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

image_build_all
built=$((SECONDS - started))

# podman installed but unable to run a container here (no user namespaces, no runtime): skip
if ! probe_output=$(pf_podman run --rm --network=host --no-healthcheck "$IMAGE" cli --help 2>&1); then
  echo "image:test: SKIP: podman cannot run a container on this machine:" >&2
  echo "$probe_output" | tail -n 5 >&2
  exit 0
fi

free_port() { node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
api_port=$(free_port)
shard_port=$(free_port)
worker_port=$(free_port)
while [ "$shard_port" = "$api_port" ]; do shard_port=$(free_port); done
while [ "$worker_port" = "$api_port" ] || [ "$worker_port" = "$shard_port" ]; do worker_port=$(free_port); done

node "$ROOT/infra/scripts/image-test-stores.mjs" create "$admin_url" "$db_name"
db_created=1
pf_podman volume create "$volume" >/dev/null

# as in the Kubernetes manifests: read-only root, /tmp a tmpfs, the data volume writable
run() {
  local name="$run_id-$1"
  shift
  containers+=("$name")
  # podman 4.3 logs that it cannot set up a systemd timer for the HEALTHCHECK; it is run by hand below
  pf_podman run -d --name "$name" --network=host --read-only --tmpfs /tmp:rw,size=64m \
    -e LOG_LEVEL=info -e HOST=127.0.0.1 "$@" 2> >(grep -v 'systemd connection' >&2) >/dev/null
}
common=(-e PIXELFIND_MODE=cluster -e "DATABASE_URL=$database_url" -e "REDIS_URL=$redis_url"
  -e "RATE_LIMIT_PREFIX=$run_id:rl:" -e "SHARDS=http://127.0.0.1:$shard_port"
  -e "SHARD_AUTH_TOKEN=$shard_token" -e PIXELFIND_MODEL=tiny-clip-v1 -v "$volume:/data")

img_log "migrate (role migrate)"
pf_podman run --rm --network=host --no-healthcheck --read-only --tmpfs /tmp -e "DATABASE_URL=$database_url" "$IMAGE" migrate

img_log "shard server :$shard_port, worker :$worker_port, API :$api_port"
run shard -e SHARD_ID=0 -e SHARD_COUNT=1 -e "PORT=$shard_port" -e "DATABASE_URL=$database_url" \
  -e "SHARD_AUTH_TOKEN=$shard_token" -e MODEL_VERSIONS=tiny-clip-v1:64 -e DATA_DIR=/data/shard \
  -v "$volume:/data" "$IMAGE" shard-server
run worker "${common[@]}" -e "WORKER_PORT=$worker_port" -e "METRICS_TOKEN=$metrics_token" "$IMAGE" worker
run api "${common[@]}" -e "PORT=$api_port" -e ALLOW_ANONYMOUS_UPLOADS=true -e "METRICS_TOKEN=$metrics_token" \
  "$IMAGE" api

node "$ROOT/infra/scripts/image-test-check.mjs" "http://127.0.0.1:$api_port" "http://127.0.0.1:$shard_port" \
  "http://127.0.0.1:$worker_port" "$shard_token" "$metrics_token"

# each container's HEALTHCHECK (the image's), run once by hand: podman runs it on a timer only
# under systemd
for c in "${containers[@]}"; do
  pf_podman healthcheck run "$c" >/dev/null || { echo "image:test: HEALTHCHECK of $c failed" >&2; exit 1; }
done
# PID 1 is tini, the process runs as the unprivileged user
pid1=$(pf_podman exec "$run_id-api" cat /proc/1/comm)
user=$(pf_podman exec "$run_id-api" id -u)
[ "$pid1" = tini ] || { echo "image:test: PID 1 is $pid1, not tini" >&2; exit 1; }
[ "$user" = 10001 ] || { echo "image:test: the API runs as uid $user, not 10001" >&2; exit 1; }

size=$(pf_podman image inspect "$IMAGE" --format '{{.Size}}')
img_log "PASS: probe and scrape paths answer; upload searchable through the image's API, worker and shard server; healthchecks pass; PID 1 tini, uid 10001"
img_log "image $IMAGE $((size / 1024 / 1024)) MiB; build ${built}s, whole test $((SECONDS - started))s"
