#!/usr/bin/env bash
# Starts the local Postgres and Redis the tests talk to, when they are installed but down.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    if [ -z "$version" ]; then
      echo "test-services: postgresql is installed but has no cluster; creating one"
      pg_createcluster 15 main >/dev/null
      version=15
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  fi
fi
if pg_up; then
  echo "test-services: Postgres is up on 127.0.0.1:5432"
  # The tests connect over TCP: as postgres without a password where local auth is trust (CI),
  # otherwise (a stock Debian install asks for a password) as a test role made here once.
  if ! psql -qtA "postgres://postgres@127.0.0.1:5432/postgres" -c 'select 1' >/dev/null 2>&1 \
     && [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    runuser -u postgres -- psql -qtA -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pixelfind_test') THEN
        CREATE ROLE pixelfind_test LOGIN SUPERUSER PASSWORD 'pixelfind_test';
      END IF; END \$\$;" >/dev/null \
      && echo "test-services: tests connect as role pixelfind_test (local only)"
  fi
else
  echo "test-services: Postgres is not reachable on 127.0.0.1:5432" >&2
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up && command -v redis-server >/dev/null; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi
if redis_up; then echo "test-services: Redis is up on 127.0.0.1:6379"; else echo "test-services: Redis is not reachable" >&2; fi
