// The safety epoch of this location: part of every result-cache key, so moving it makes every
// cached answer of the location unreachable at once. It lives in the Cache API because that is
// exactly per location (per data centre) and read-your-writes there, which is the scope of the
// guarantee: after a flag or delete that went through this location returns, no isolate here
// serves an answer stored before it. KV would be global but eventually consistent (~60 s).
import { EDGE_HEADERS } from '../../api/src/edge-trust/protocol.ts';

export interface SafetyEpoch {
  /** This location's epoch, in the result-cache keys. */
  local: number;
  /** The highest safety epoch the API has reported here; null before the first. */
  api: number | null;
}

const epochUrl = (origin: string) => `${origin}/__pixelfind-edge-cache/safety-epoch/v1`;
/** The record outlives any result entry; if it is evicted anyway, a new one starts above it. */
const EPOCH_TTL_SECONDS = 365 * 24 * 3600;

/**
 * A value above `previous` that was never used: time-based, so an epoch rebuilt after the
 * record was evicted is still above every epoch before it (old keys stay unreachable).
 */
const nextLocal = (previous: number) => Math.max(previous + 1, Date.now());

async function write(origin: string, epoch: SafetyEpoch): Promise<void> {
  const body = JSON.stringify(epoch);
  await caches.default.put(
    epochUrl(origin),
    new Response(body, {
      headers: {
        'content-type': 'application/json',
        'cache-control': `public, max-age=${EPOCH_TTL_SECONDS}`,
      },
    }),
  );
}

function parse(text: string): SafetyEpoch | null {
  try {
    const value = JSON.parse(text) as Partial<SafetyEpoch>;
    if (!Number.isSafeInteger(value.local) || (value.local as number) < 0) return null;
    const api = Number.isSafeInteger(value.api) ? (value.api as number) : null;
    return { local: value.local as number, api };
  } catch {
    return null;
  }
}

/** This location's epoch; a missing or unreadable record is replaced by a fresh, higher one. */
export async function readSafetyEpoch(origin: string): Promise<SafetyEpoch> {
  const stored = await caches.default.match(epochUrl(origin));
  const epoch = stored ? parse(await stored.text()) : null;
  if (epoch) return epoch;
  const fresh: SafetyEpoch = { local: nextLocal(0), api: null };
  await write(origin, fresh);
  return fresh;
}

/**
 * Moves this location's epoch past every value used so far. Awaited before the mutation's
 * answer goes back: once the client has it, every isolate here reads the new epoch.
 */
export async function bumpSafetyEpoch(origin: string, api: number | null = null): Promise<SafetyEpoch> {
  const current = await readSafetyEpoch(origin);
  const next: SafetyEpoch = {
    local: nextLocal(current.local),
    api: api !== null && (current.api === null || api > current.api) ? api : current.api,
  };
  await write(origin, next);
  return next;
}

/** The API's safety epoch on an answer, or null when absent or not a non-negative integer. */
export function apiSafetyEpoch(headers: Headers): number | null {
  const raw = headers.get(EDGE_HEADERS.safetyEpoch);
  if (raw === null || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

/**
 * Moves the epoch when the API reports a higher safety epoch than this location has seen: a
 * flag or delete happened elsewhere (another location, the API directly). Returns the new
 * epoch when it moved (the answer that reported it is as fresh as it), else null.
 */
export async function followApiSafetyEpoch(origin: string, headers: Headers): Promise<SafetyEpoch | null> {
  const api = apiSafetyEpoch(headers);
  if (api === null) return null;
  const current = await readSafetyEpoch(origin);
  if (current.api !== null && api <= current.api) return null;
  // the first report moves it too: entries stored before it may hold what it took down
  return bumpSafetyEpoch(origin, api);
}

/**
 * Mutations that may take an image out of results: anything but the known harmless persisted
 * ones. Plain documents are checked by their text, erring towards bumping (a bump only costs
 * cache hits).
 */
const HARMLESS_MUTATIONS: ReadonlySet<string> = new Set(['UploadImage', 'RecordClick']);

export function mayRemoveImages(operation: {
  persisted: { name: string; type: string } | null;
  query: string;
}): boolean {
  if (operation.persisted) {
    return operation.persisted.type === 'mutation' && !HARMLESS_MUTATIONS.has(operation.persisted.name);
  }
  return /\bmutation\b/.test(operation.query);
}
