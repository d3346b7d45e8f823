import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The one way a Pixelfind process builds its Prometheus registry: default process and Node
 * metrics, one HTTP request duration histogram with bounded labels, and helpers for gauges read
 * at scrape time. Each process kind (API, worker, shard server) makes its own metrics module on
 * top of this (api/src/metrics/*.ts, search-cluster/src/shard/shard-metrics.ts).
 */

/** The route label of a request: a fixed name, never the raw path (a path holds anything a caller typed). */
export interface RouteTable {
  /** Paths named as themselves. */
  exact: readonly string[];
  /** Paths under a prefix, all named by one route (`['/blobs/', '/blobs/*']`). */
  prefixes?: readonly (readonly [prefix: string, route: string])[];
  /** Paths matching a pattern, named by one route (`[/^\/images\/[^/]+$/, '/images/:id']`). */
  patterns?: readonly (readonly [pattern: RegExp, route: string])[];
}

/** Every path outside the table is this route: unknown paths add no series. */
export const OTHER_ROUTE = 'other';

/** Names a pathname by the table; anything else is `other`. */
export function routeNamer(table: RouteTable): (pathname: string) => string {
  const exact = new Set(table.exact);
  return (pathname) => {
    if (exact.has(pathname)) return pathname;
    for (const [prefix, route] of table.prefixes ?? []) if (pathname.startsWith(prefix)) return route;
    for (const [pattern, route] of table.patterns ?? []) if (pattern.test(pathname)) return route;
    return OTHER_ROUTE;
  };
}

/** Methods a label may hold; any other method is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** The status label: a class (`2xx`, `4xx`, `5xx`), so a label has at most five values. */
export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

export interface ProcessMetrics {
  registry: Registry;
  /** `pixelfind_http_request_duration_seconds{route, method, status}`. */
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** Records one answered request: its route (named by the process's table), method, status and seconds; not `/metrics`. */
  observeHttp(pathname: string, method: string, status: number, seconds: number): void;
  /** The route name of a path by this process's table. */
  routeOf(pathname: string): string;
}

export interface ProcessMetricsOptions {
  /** Routes this process serves; every other path is `other`. */
  routes: RouteTable;
  /** Labels on every series of this registry (e.g. `{ process: 'worker' }`). Default none. */
  defaultLabels?: Record<string, string>;
}

/** HTTP latency buckets: a health probe (1 ms) to an upload (10 s). */
export const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry with the default metrics and the HTTP histogram every process exports. */
export function createProcessMetrics(options: ProcessMetricsOptions): ProcessMetrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  collectDefaultMetrics({ register: registry });
  const httpDuration = metricDefinitions(registry).histogram(
    'pixelfind_http_request_duration_seconds',
    'HTTP requests answered, by route (a fixed set; unknown paths are "other"), method and status class.',
    ['route', 'method', 'status'],
    HTTP_BUCKETS,
  );
  const routeOf = routeNamer(options.routes);
  return {
    registry,
    httpDuration,
    routeOf,
    observeHttp(pathname, method, status, seconds) {
      // scrapes are not traffic (Prometheus times them itself: scrape_duration_seconds)
      if (pathname === '/metrics') return;
      httpDuration.observe(
        {
          route: routeOf(pathname),
          method: METHODS.has(method) ? method : OTHER_ROUTE,
          status: statusClass(status),
        },
        seconds,
      );
    },
  };
}

/**
 * Metric definitions on one registry: a name, its help, its (bounded) label names and, for a
 * histogram, its buckets; the registry is given once.
 */
export function metricDefinitions(registry: Registry) {
  return {
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers: [registry] }),
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers: [registry] }),
    histogram: <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] }),
  };
}

/**
 * A gauge whose values are read when Prometheus scrapes: `read` answers label values -> value
 * for one label. A failing read leaves the gauge empty for that scrape (never fails the scrape).
 */
export function gaugeFrom(
  registry: Registry,
  name: string,
  help: string,
  read: () => Promise<Record<string, number>> | Record<string, number>,
  label: string,
): Gauge<string> {
  return new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    async collect() {
      this.reset();
      const values = await Promise.resolve()
        .then(read)
        .catch(() => ({}) as Record<string, number>);
      for (const [key, value] of Object.entries(values)) this.set({ [label]: key }, value);
    },
  });
}

/**
 * A counter mirrored from totals that only grow (`read` answers label value -> total so far):
 * each scrape adds what grew since the last one, so the series is a real counter (rate() works,
 * a restart is a reset) while the owner of the totals needs no Prometheus types.
 */
export function counterFrom(
  registry: Registry,
  name: string,
  help: string,
  read: () => Promise<Record<string, number>> | Record<string, number>,
  label: string,
): Counter<string> {
  const seen = new Map<string, number>();
  return new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    async collect() {
      const totals = await Promise.resolve()
        .then(read)
        .catch(() => ({}) as Record<string, number>);
      for (const [key, total] of Object.entries(totals)) {
        const grown = total - (seen.get(key) ?? 0);
        if (grown > 0) this.inc({ [label]: key }, grown);
        else if (!seen.has(key)) this.inc({ [label]: key }, 0);
        seen.set(key, Math.max(total, seen.get(key) ?? 0));
      }
    },
  });
}
