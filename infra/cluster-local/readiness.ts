import type { ProcessSpec, Role } from './topology.ts';

/**
 * How each role says it is ready to serve: the one place that knows, so a new endpoint is a
 * one-line change here.
 * - api: `/readyz` (Postgres and the cache answer; 503 while draining).
 * - shard-server: `/healthz` answers 200 only once every model version serves (503 while the
 *   snapshot loads and refills). When the liveness/readiness split lands (`/healthz` 200 while
 *   loading, `/readyz` 503 until loaded) this becomes `{ kind: 'http', path: '/readyz' }`.
 * - worker: no listener yet, so its log line. With `WORKER_PORT` it becomes an http probe of `/readyz`.
 * - edge: `wrangler dev` is ready once the Worker answers at all (any status).
 */
export type Probe = { kind: 'http'; path: string; anyStatus?: boolean } | { kind: 'log'; message: string };

export const READINESS: Record<Role, Probe> = {
  api: { kind: 'http', path: '/readyz' },
  'shard-server': { kind: 'http', path: '/healthz' },
  worker: { kind: 'log', message: '"msg":"indexing worker started"' },
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
