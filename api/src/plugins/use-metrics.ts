import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../metrics/metrics.ts';

const routeOf = (pathname: string) =>
  pathname === '/graphql'
    ? 'graphql'
    : pathname.startsWith('/blobs/')
      ? 'blobs'
      : pathname.slice(1) || 'root';

/** `/metrics` in Prometheus text format, and a request counter by route and status class. */
export function useMetrics(options: { metrics: Metrics; path?: string }): Plugin {
  const path = options.path ?? '/metrics';
  const { metrics } = options;
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== path) return;
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
