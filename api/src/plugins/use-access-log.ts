import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { type Logger, routeNamer } from '../../../search-cluster/src/index.ts';
import { API_ROUTES } from '../metrics/metrics.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

// a caller's id is echoed into logs and headers: keep it short and printable
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The request's id: `x-request-id` when usable, else the W3C trace id of `traceparent`, else minted. */
export function requestIdOf(headers: Headers): string {
  const given = headers.get(REQUEST_ID_HEADER)?.trim();
  if (given && SAFE_ID.test(given)) return given;
  const trace = TRACEPARENT.exec(headers.get('traceparent')?.trim().toLowerCase() ?? '')?.[1];
  if (trace && !/^0+$/.test(trace)) return trace;
  return randomUUID();
}

/** Route names with a bounded set of values (a path may hold anything a caller typed); the metrics' table. */
export const routeOf: (pathname: string) => string = routeNamer(API_ROUTES);

interface RequestLog {
  id: string;
  startedAt: number;
  log: Logger;
}

export interface AccessLog {
  plugin: Plugin;
  /** The request's child logger (carries `requestId`); the context factory hands it to resolvers. */
  loggerOf(request: Request): Logger;
}

/**
 * One access log line per HTTP request (method, route, status, duration, request id), and the
 * request id echoed in `x-request-id`. Put it first among the plugins: it must see the requests
 * other plugins answer early (health, blobs, metrics).
 */
export function useAccessLog({ log }: { log: Logger }): AccessLog {
  const requests = new WeakMap<Request, RequestLog>();
  const entryOf = (request: Request): RequestLog => {
    let entry = requests.get(request);
    if (!entry) {
      const id = requestIdOf(request.headers);
      entry = { id, startedAt: performance.now(), log: log.child({ requestId: id }) };
      requests.set(request, entry);
    }
    return entry;
  };
  const pinoBase = log.pino;
  return {
    loggerOf: (request) => entryOf(request).log,
    plugin: {
      onRequest({ request }) {
        entryOf(request);
      },
      onResponse({ request, response }) {
        const entry = entryOf(request);
        response.headers.set(REQUEST_ID_HEADER, entry.id);
        const status = response.status;
        const fields = {
          requestId: entry.id,
          method: request.method,
          route: routeOf(new URL(request.url).pathname),
          status,
          durationMs: Math.round((performance.now() - entry.startedAt) * 10) / 10,
        };
        // a 5xx is ours to look at; everything else is traffic
        if (status >= 500) pinoBase.warn(fields, 'request');
        else pinoBase.info(fields, 'request');
      },
    },
  };
}
