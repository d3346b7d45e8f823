import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Config } from '../config/config.ts';
import { AppError } from '../errors.ts';

export type RateLimitSettings = Config['rateLimits'];

/** A budget ran out: the client may retry after `retryAfterSeconds`. */
export const rateLimited = (what: string, retryAfterSeconds: number) =>
  new AppError('RATE_LIMITED', `Too many ${what}: retry in ${retryAfterSeconds} s`, {
    http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    retryAfterSeconds,
  });

const isLoopback = (address: string) =>
  address === '127.0.0.1' ||
  address === '::1' ||
  address === '::ffff:127.0.0.1' ||
  address.startsWith('127.');

/**
 * Per-caller budgets: requests per client address, requests per API key, outbound image fetches
 * per caller, and at most one fetch per request. Redis holds the counters when REDIS_URL is set
 * (every API process shares them); when Redis does not answer, each process falls back to its
 * own in-memory counters (the insurance limiter) rather than failing or letting everything in.
 */
export function createRateLimits(settings: RateLimitSettings, redisUrl: string | null) {
  const redis = redisUrl
    ? new Redis(redisUrl, {
        // fail fast while Redis is down: the insurance limiter answers instead
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (times) => Math.min(times * 100, 1000),
      })
    : null;
  redis?.on('error', () => {});

  const limiter = (name: string, points: number): RateLimiterAbstract | null => {
    if (points <= 0) return null;
    const options = { points, duration: settings.windowSeconds, keyPrefix: `${settings.prefix}${name}` };
    const memory = new RateLimiterMemory(options);
    return redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: memory })
      : memory;
  };
  const perAddress = limiter('addr', settings.perAddress);
  const perKey = limiter('key', settings.perKey);
  const fetches = limiter('fetch', settings.fetchesPerCaller);
  const fetchesByRequest = new WeakMap<Request, number>();

  async function consume(which: RateLimiterAbstract | null, key: string, what: string) {
    if (!which) return;
    try {
      await which.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes)
        throw rateLimited(what, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw rejection;
    }
  }

  return {
    /** One request: the address budget (clientAddressOf; none: an in-process call), then the key's. */
    async admitRequest(address: string | null, apiKey: string | null) {
      if (address && !(settings.exemptLoopback && isLoopback(address)))
        await consume(perAddress, address, 'requests from this address');
      if (apiKey)
        await consume(
          perKey,
          createHash('sha256').update(apiKey).digest('hex'),
          'requests with this API key',
        );
    },
    /** Before an outbound image fetch: one per request, and the caller's fetch budget. */
    async admitFetch(request: Request, caller: string) {
      const count = fetchesByRequest.get(request) ?? 0;
      if (count >= 1) {
        throw new AppError('BAD_USER_INPUT', 'Expected at most one imageUrl search per request');
      }
      fetchesByRequest.set(request, count + 1);
      await consume(fetches, caller, 'image fetches');
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
export type RateLimits = ReturnType<typeof createRateLimits>;
