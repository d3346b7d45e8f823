import type { Plugin } from 'graphql-yoga';
import type { ProcessMetrics } from '../../../search-cluster/src/index.ts';
import { scrapeAllowed } from '../metrics/scrape-access.ts';

/**
 * `/metrics` in Prometheus text format, and every request's duration by route (a fixed set,
 * see API_ROUTES), method and status class. With a `token`, the scrape must send
 * `authorization: Bearer <token>`; without one it is served only when `open` (single mode) and
 * is a 404 otherwise (cluster mode).
 */
export function useMetrics(options: {
  metrics: ProcessMetrics;
  path?: string;
  /** Bearer token a scrape must present. Default none. */
  token?: string | null;
  /** Serve without a token. Default true. */
  open?: boolean;
}): Plugin {
  const path = options.path ?? '/metrics';
  const { metrics } = options;
  const access = { token: options.token ?? null, open: options.open ?? true };
  const startedAt = new WeakMap<Request, number>();
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      startedAt.set(request, performance.now());
      if (url.pathname !== path) return;
      if (!scrapeAllowed(request.headers.get('authorization'), access)) {
        endResponse(fetchAPI.Response.json({ error: 'not found' }, { status: 404 }));
        return;
      }
      return metrics.registry.metrics().then((text) => {
        endResponse(
          new fetchAPI.Response(text, { headers: { 'content-type': metrics.registry.contentType } }),
        );
      });
    },
    onResponse({ request, response }) {
      const started = startedAt.get(request);
      if (started === undefined) return;
      metrics.observeHttp(
        new URL(request.url).pathname,
        request.method,
        response.status,
        (performance.now() - started) / 1000,
      );
    },
  };
}
