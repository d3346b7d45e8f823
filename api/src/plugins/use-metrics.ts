import { createHash, timingSafeEqual } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../metrics/metrics.ts';

const routeOf = (pathname: string) =>
  pathname === '/graphql'
    ? 'graphql'
    : pathname.startsWith('/blobs/')
      ? 'blobs'
      : pathname.slice(1) || 'root';

/**
 * `/metrics` in Prometheus text format, and a request counter by route and status class.
 * With a `token`, the scrape must send `authorization: Bearer <token>`; without one it is
 * served only when `open` (single mode) and is a 404 otherwise (cluster mode).
 */
export function useMetrics(options: {
  metrics: Metrics;
  path?: string;
  /** Bearer token a scrape must present. Default none. */
  token?: string | null;
  /** Serve without a token. Default true. */
  open?: boolean;
}): Plugin {
  const path = options.path ?? '/metrics';
  const { metrics } = options;
  const token = options.token ?? null;
  const open = options.open ?? true;
  const authorised = (request: Request) =>
    token ? timingSafeEqualText(request.headers.get('authorization') ?? '', `Bearer ${token}`) : open;
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== path) return;
      if (!authorised(request)) {
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
      const route = routeOf(new URL(request.url).pathname);
      if (route === 'metrics') return;
      metrics.httpRequests.inc({ route, status: `${Math.floor(response.status / 100)}xx` });
    },
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();
const timingSafeEqualText = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));
