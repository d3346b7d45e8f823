// Per-caller request limits at the edge: by API key and by client address (CF-Connecting-IP).
// Fixed windows counted in the isolate's memory: cheap and never a network round trip, but each
// isolate counts alone, so a location admits at most limit x (isolates serving the caller) per
// window. The API's limits (Redis-backed in cluster mode) are the exact ones behind it.
import { apiKeyOf } from './caller.ts';
import { sha256Hex } from './crypto.ts';
import { EdgeError } from './errors.ts';
import { numberVar } from './limits.ts';

interface Window {
  /** Epoch ms when the window ends. */
  endsAt: number;
  count: number;
}

const windows = new Map<string, Window>();
/** Callers tracked per isolate before expired windows are swept. */
const MAX_TRACKED = 50_000;

function sweep(now: number): void {
  for (const [key, window] of windows) if (window.endsAt <= now) windows.delete(key);
  // still full of live windows: forget the oldest rather than grow without bound
  while (windows.size > MAX_TRACKED) {
    const oldest = windows.keys().next().value;
    if (oldest === undefined) break;
    windows.delete(oldest);
  }
}

/** Counts one request for `key`; the seconds until its window ends when it is over `limit`, else null. */
function take(key: string, limit: number, windowMs: number, now: number): number | null {
  let window = windows.get(key);
  if (!window || window.endsAt <= now) {
    if (windows.size >= MAX_TRACKED) sweep(now);
    window = { endsAt: now + windowMs, count: 0 };
    windows.set(key, window);
  }
  window.count += 1;
  return window.count > limit ? Math.max(1, Math.ceil((window.endsAt - now) / 1000)) : null;
}

/**
 * Throws 429 RATE_LIMITED with Retry-After when the caller's API key or address is over its
 * limit for the current window. RATE_LIMIT_PER_KEY, RATE_LIMIT_PER_IP (requests per
 * RATE_LIMIT_WINDOW_SECONDS; 0 turns that limit off).
 */
export async function enforceRateLimits(request: Request, env: Env, now = Date.now()): Promise<void> {
  const windowMs = Math.max(1, numberVar(env.RATE_LIMIT_WINDOW_SECONDS, 60)) * 1000;
  const perKey = numberVar(env.RATE_LIMIT_PER_KEY, 1200);
  const perIp = numberVar(env.RATE_LIMIT_PER_IP, 600);
  const checks: [string, number][] = [];
  const key = apiKeyOf(request);
  // the key itself never sits in memory: its digest does
  if (key && perKey > 0) checks.push([`key:${(await sha256Hex(key)).slice(0, 32)}`, perKey]);
  const ip = request.headers.get('cf-connecting-ip');
  if (ip && perIp > 0) checks.push([`ip:${ip}`, perIp]);
  for (const [bucket, limit] of checks) {
    const retryAfter = take(bucket, limit, windowMs, now);
    if (retryAfter !== null) {
      throw new EdgeError(
        'RATE_LIMITED',
        `Too many requests from this ${bucket.startsWith('key:') ? 'API key' : 'address'}; retry in ${retryAfter} s`,
        { headers: { 'retry-after': String(retryAfter) } },
      );
    }
  }
}
