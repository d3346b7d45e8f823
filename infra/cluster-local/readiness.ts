import type { ProcessSpec, Role } from './topology.ts';

/**
 * How each role says it is ready to serve: the one place that knows.
 * - api: `/readyz` (Postgres, the cache, the blobs and the shards answer; 503 while draining).
 * - shard-server: `/readyz` (200 once every model version serves; `/healthz` is liveness only,
 *   200 while the snapshot loads and refills).
 * - worker: `/readyz` on its `WORKER_PORT` listener.
 * - edge: `wrangler dev` is ready once the Worker answers at all (any status).
 * A log probe (`{ kind: 'log', message }`) is there for a process without a listener.
 */
export type Probe = { kind: 'http'; path: string; anyStatus?: boolean } | { kind: 'log'; message: string };

export const READINESS: Record<Role, Probe> = {
  api: { kind: 'http', path: '/readyz' },
  'shard-server': { kind: 'http', path: '/readyz' },
  worker: { kind: 'http', path: '/readyz' },
  edge: { kind: 'http', path: '/healthz', anyStatus: true },
};

/** Whether `spec`'s process is ready; `output` reads what it printed since it started. */
export async function isReady(
  spec: Pick<ProcessSpec, 'role' | 'url'>,
  output: () => string,
): Promise<boolean> {
  const probe = READINESS[spec.role];
  if (probe.kind === 'log') return output().includes(probe.message);
  if (spec.url === null) return false;
  try {
    const response = await fetch(new URL(probe.path, spec.url), { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return probe.anyStatus === true || response.ok;
  } catch {
    return false;
  }
}
