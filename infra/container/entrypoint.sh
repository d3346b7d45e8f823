#!/bin/sh
# The image's one entry point (tini runs it as PID 1's child): the first argument picks the role.
#   api           the GraphQL API (PORT, default 4000)
#   worker        an indexing worker (WORKER_PORT, default 4100: /healthz /readyz /metrics)
#   shard-server  one shard server replica (PORT, default 7001; SHARD_ID, SHARD_COUNT, ...)
#   migrate       apply the SQL migrations and exit
#   model-download [VERSION...]  fetch a real CLIP model into MODELS_DIR (needs the network)
#   cli ARGS...   the pixelfind CLI
# The role is written where healthcheck.mjs reads it, so HEALTHCHECK asks the right port.
set -eu
role="${1:-api}"
[ $# -gt 0 ] && shift
cd /app
printf '%s\n' "$role" > /tmp/pixelfind-role 2>/dev/null || true
case "$role" in
  api) exec node dist/api/src/main.js "$@" ;;
  worker) exec node dist/api/src/worker-main.js "$@" ;;
  shard-server) exec node dist/search-cluster/src/server/main.js "$@" ;;
  migrate) exec node dist/api/src/cli/migrate.js "$@" ;;
  model-download) exec node dist/infra/scripts/download-model.js "$@" ;;
  cli) exec node dist/api/src/cli/main.js "$@" ;;
  *)
    echo "pixelfind: unknown role '$role' (api, worker, shard-server, migrate, model-download, cli)" >&2
    exit 64
    ;;
esac
