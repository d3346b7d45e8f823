import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Headers our clients send on every request a browser could make without a preflight. */
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'graphql-preflight'];

const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/**
 * The CORS answer for a request: credentials only for an allow-listed origin (the API's own
 * origin, CORS_ORIGINS, and loopback origins in single mode); any other origin gets no CORS
 * headers at all, so its page cannot read an answer.
 */
export function corsPolicy(options: { publicUrl: string; origins: string[]; allowLoopback: boolean }) {
  const allowed = new Set([
    new URL(options.publicUrl).origin,
    ...options.origins.map((o) => new URL(o).origin),
  ]);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin) return false as const;
    if (!allowed.has(origin) && !(options.allowLoopback && LOOPBACK_ORIGIN.test(origin)))
      return false as const;
    return {
      origin: [origin],
      credentials: true,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['content-type', 'authorization', 'x-api-key', ...CSRF_HEADERS],
      maxAge: 600,
    };
  };
}

/**
 * yoga's CSRF prevention for POSTs: a multipart or text/plain POST (which a cross-site form can
 * send without a preflight) must carry one of CSRF_HEADERS. GETs are exempt: yoga runs no
 * mutation over GET, and persisted-query GETs from caches and links must keep working.
 */
export function useCsrf(): Plugin {
  const inner = useCSRFPrevention({ requestHeaders: CSRF_HEADERS }) as Plugin;
  return {
    onRequestParse(payload) {
      if (payload.request.method === 'GET' || payload.request.method === 'HEAD') return;
      try {
        return inner.onRequestParse?.(payload);
      } catch {
        throw new GraphQLError(
          `Expected one of the headers ${CSRF_HEADERS.join(', ')} on a ${payload.request.headers.get('content-type')?.split(';')[0] ?? 'body-less'} POST (CSRF prevention)`,
          { extensions: { code: 'FORBIDDEN', http: { status: 403 } } },
        );
      }
    },
  };
}
