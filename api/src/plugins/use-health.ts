import type { Plugin } from 'graphql-yoga';

/**
 * `/healthz`: the process is up. `/readyz`: its dependencies answer, so a load balancer may
 * send traffic. Checks run in parallel with a deadline each.
 */
export function useHealth(options: {
  checks: Record<string, () => Promise<void>>;
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
      const results = Object.entries(options.checks).map(async ([name, check]) => {
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
          ]);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, error instanceof Error ? error.message : String(error)] as const;
        }
      });
      return Promise.all(results).then((entries) => {
        const ready = entries.every(([, state]) => state === 'ok');
        endResponse(
          fetchAPI.Response.json(
            { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(entries) },
            {
              status: ready ? 200 : 503,
            },
          ),
        );
      });
    },
  };
}
