import { numberVar } from './limits.ts';

/** KV key where isolates share the last model_version the API reported (with when it was seen). */
export const MODEL_VERSION_KEY = 'meta:model-version';

interface Seen {
  version: string;
  /** Epoch ms when the API last reported it. */
  seenAt: number;
}

// per isolate; KV lets a fresh isolate start warm
let latest: Seen | null = null;
let lastKvWrite = 0;

const ttlMs = (env: Env) => numberVar(env.MODEL_VERSION_TTL_SECONDS, 30) * 1000;

/**
 * The model_version the API answers with, as last reported by it, or null when nothing fresh
 * is known (then the caller asks the API). Bounded staleness: a swap is noticed on the next
 * response from the API, or at the latest after MODEL_VERSION_TTL_SECONDS.
 */
export async function activeModelVersion(env: Env, now = Date.now()): Promise<string | null> {
  const ttl = ttlMs(env);
  if (latest && now - latest.seenAt < ttl) return latest.version;
  const shared = await env.EMBEDDINGS.get<Seen>(MODEL_VERSION_KEY, 'json').catch(() => null);
  if (shared && typeof shared.version === 'string' && now - shared.seenAt < ttl) {
    if (!latest || shared.seenAt > latest.seenAt) latest = shared;
    return shared.version;
  }
  return null;
}

/** Records the model_version from an API response; shares it through KV when it changed or aged. */
export function learnModelVersion(env: Env, ctx: ExecutionContext, version: string, now = Date.now()): void {
  const changed = latest?.version !== version;
  latest = { version, seenAt: now };
  // KV allows one write per second per key; a refresh every half TTL keeps other isolates warm
  if (changed || now - lastKvWrite > ttlMs(env) / 2) {
    lastKvWrite = now;
    const expirationTtl = Math.max(60, Math.ceil((ttlMs(env) * 2) / 1000));
    ctx.waitUntil(
      env.EMBEDDINGS.put(MODEL_VERSION_KEY, JSON.stringify(latest), { expirationTtl }).catch(() => {}),
    );
  }
}
