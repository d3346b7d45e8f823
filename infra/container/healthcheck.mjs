// The image's HEALTHCHECK: liveness of whichever role the entry point started (it wrote the role
// to /tmp/pixelfind-role). api and shard-server answer /healthz on PORT, a worker on WORKER_PORT;
// one-shot roles (migrate, cli) are healthy while they run.
import { readFileSync } from 'node:fs';

const ROLE_PORTS = {
  api: () => process.env.PORT || '4000',
  worker: () => process.env.WORKER_PORT || '4100',
  'shard-server': () => process.env.PORT || '7001',
};

let role = 'api';
try {
  role = readFileSync('/tmp/pixelfind-role', 'utf8').trim();
} catch {}
const port = ROLE_PORTS[role]?.();
if (!port) process.exit(0);
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`healthcheck ${role} :${port}/healthz: ${error.message}`);
  process.exit(1);
}
