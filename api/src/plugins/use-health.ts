import type { Plugin } from 'graphql-yoga';
import { type ReadinessChecks, runReadiness } from '../http/readiness.ts';

/**
 * `/healthz`: the process is up (liveness). `/readyz`: its dependencies answer, so a load
 * balancer may send traffic (readiness). Checks run in parallel with a deadline each.
 */
export function useHealth(options: {
  checks: ReadinessChecks;
  timeoutMs?: number;
  /** While true, `/readyz` answers 503 `draining` without running the checks. */
  isDraining?: () => boolean;
}): Plugin {
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === '/healthz') {
        endResponse(fetchAPI.Response.json({ status: 'ok' }));
        return;
      }
      if (url.pathname !== '/readyz') return;
      if (options.isDraining?.()) {
        endResponse(fetchAPI.Response.json({ status: 'draining' }, { status: 503 }));
        return;
      }
      return runReadiness(options.checks, timeoutMs).then(({ ready, checks }) => {
        endResponse(
          fetchAPI.Response.json(
            { status: ready ? 'ready' : 'not ready', checks },
            { status: ready ? 200 : 503 },
          ),
        );
      });
    },
  };
}
