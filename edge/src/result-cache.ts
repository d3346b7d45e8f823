import { EDGE_HEADERS } from '../../api/src/edge-trust/protocol.ts';
import type { OriginAnswer } from './origin.ts';

/**
 * The cached answer under `key`, when it was produced by `modelVersion`. A different model's
 * answer is dropped, never served (the key holds the version too; this is the second lock).
 */
export async function cachedResult(
  key: string,
  modelVersion: string,
  ctx: ExecutionContext,
): Promise<Response | null> {
  const cache = caches.default;
  const hit = await cache.match(key);
  if (!hit) return null;
  if (hit.headers.get(EDGE_HEADERS.modelVersion) !== modelVersion) {
    ctx.waitUntil(cache.delete(key));
    return null;
  }
  return hit;
}

/** Why an answer must not be shared, or null when it may be. */
export function reasonNotToStore(answer: OriginAnswer): string | null {
  if (answer.status !== 200) return 'status';
  if (!answer.headers.get(EDGE_HEADERS.modelVersion)) return 'no model version';
  // a store was down and a fallback answered: the next request may get the full answer
  if (answer.headers.has(EDGE_HEADERS.degraded)) return 'degraded';
  if (answer.headers.has('set-cookie')) return 'set-cookie';
  if (/no-store|private/i.test(answer.headers.get('cache-control') ?? '')) return 'cache-control';
  let body: { data?: unknown; errors?: unknown };
  try {
    body = JSON.parse(answer.body);
  } catch {
    return 'not json';
  }
  if (Array.isArray(body.errors) && body.errors.length > 0) return 'errors';
  if (body.data === null || typeof body.data !== 'object') return 'no data';
  // a shard did not answer in time: a later request may get the full answer
  for (const field of Object.values(body.data as Record<string, unknown>)) {
    if (field !== null && typeof field === 'object' && (field as { partial?: unknown }).partial === true) {
      return 'partial';
    }
  }
  return null;
}

/** Stores a shareable answer for `ttlSeconds` without delaying the response. */
export function storeResult(
  key: string,
  answer: OriginAnswer,
  ttlSeconds: number,
  ctx: ExecutionContext,
): void {
  const headers = new Headers(answer.headers);
  headers.set('cache-control', `public, max-age=${ttlSeconds}`);
  headers.delete('x-cache');
  const response = new Response(answer.body, { status: answer.status, headers });
  ctx.waitUntil(caches.default.put(key, response));
}
