import type { BlobStore } from '../blobs/blob-store.ts';
import type { Cache } from '../cache/cache.ts';
import type { ClusterClient } from '../cluster/cluster.client.ts';
import type { Queryable } from '../db/database.ts';

/** Named checks; each throws when its dependency cannot serve. */
export type ReadinessChecks = Record<string, () => Promise<void>>;

export interface Readiness {
  ready: boolean;
  /** `ok`, or why the check failed. */
  checks: Record<string, string>;
}

/** Runs every check in parallel, each with a deadline of `timeoutMs` (default 2 s). */
export async function runReadiness(checks: ReadinessChecks, timeoutMs = 2000): Promise<Readiness> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
            timer.unref();
          }),
        ]);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: entries.every(([, state]) => state === 'ok'), checks: Object.fromEntries(entries) };
}

/**
 * The checks of what a process depends on: the database answers, the cache answers, the blob
 * store is usable, and every shard has a serving replica (a degraded shard, one replica down,
 * still serves). Pass only what the process uses.
 */
export function dependencyChecks(deps: {
  db?: Queryable;
  cache?: Cache;
  blobs?: BlobStore;
  cluster?: ClusterClient;
}): ReadinessChecks {
  const checks: ReadinessChecks = {};
  const { db, cache, blobs, cluster } = deps;
  if (db)
    checks.database = async () => {
      await db.query('SELECT 1');
    };
  if (cache) checks.cache = () => cache.ping();
  if (blobs) checks.blobs = () => blobs.check();
  if (cluster)
    checks.shards = async () => {
      const health = await cluster.health();
      if (health.status === 'down') {
        const missing = health.shards.filter((s) => s.serving === 0).map((s) => s.index);
        throw new Error(`no serving replica for shard ${missing.join(', ')}`);
      }
    };
  return checks;
}
