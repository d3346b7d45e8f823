import type { Plugin } from 'graphql-yoga';
import { keyFromHeaders } from '../auth/api-keys.service.ts';
import { clientAddressOf } from '../edge-trust/use-edge-trust.ts';
import { AppError } from '../errors.ts';
import type { RateLimits } from '../limits/rate-limits.ts';

/**
 * After useEdgeTrust (which decides the client address). Every `/graphql` request spends from its address's and its API key's budget; an exhausted
 * budget answers 429 with Retry-After and the coded error RATE_LIMITED before any parsing.
 */
export function useRateLimits(options: { limits: RateLimits; path?: string }): Plugin {
  const path = options.path ?? '/graphql';
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== path || request.method === 'OPTIONS') return;
      return options.limits
        .admitRequest(clientAddressOf(request), keyFromHeaders(request.headers))
        .catch((error: unknown) => {
          if (!(error instanceof AppError)) throw error;
          const http = error.extensions.http as { status: number; headers: Record<string, string> };
          endResponse(
            fetchAPI.Response.json(
              { errors: [{ message: error.message, extensions: { code: error.code } }] },
              { status: http.status, headers: http.headers },
            ),
          );
        });
    },
  };
}
