import type { VectorSource } from '../rebuild/vector-source.ts';
import type { Logger } from './options.ts';
import type { Shard } from './shard.ts';
import type { CatchUpObserver } from './shard-metrics.ts';

export interface CatchUpOptions {
  shard: Shard;
  source: VectorSource;
  /** The source's newest watermark for a model version (a cheap probe: one index lookup). */
  latest: (modelVersion: string) => Promise<bigint>;
  /** Poll interval. Default 2 s. */
  intervalMs?: number;
  log: Logger;
  /** Told the replica's lag behind the record, and what each round applied or that it failed. */
  observer?: CatchUpObserver;
  /**
   * Told about every round, for the job reports (`anti-entropy` in createJobMetrics): ok (applied
   * changes), skipped (nothing new, or the shard is not serving), failed (a model version failed).
   */
  onRound?: (round: { outcome: 'ok' | 'skipped' | 'failed'; durationMs: number; changes: number }) => void;
}

/**
 * Anti-entropy from the record: a shard that was unreachable while it kept running (a network
 * partition, a paused process, a router that gave up after its retries) missed writes that the
 * embeddings table holds. Every `intervalMs` this reads the source's changes after the highest
 * watermark it has applied (the source re-reads a slack below it for commit order) and applies
 * those of this shard's partition: ids it does not hold yet, and every deletion (idempotent). A restart needs none of this: the shard refills on load.
 *
 * Bound: a write the shard missed is searchable within `intervalMs` plus one read after the
 * shard is reachable again.
 */
export function startCatchUp(options: CatchUpOptions) {
  const { shard, source, latest, log, observer } = options;
  const intervalMs = options.intervalMs ?? 2000;
  const applied = new Map<string, bigint>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  /** Where catch-up starts: the present. What came before is the load's refill. */
  async function prime(): Promise<void> {
    for (const { name } of shard.modelVersions) {
      if (!applied.has(name)) applied.set(name, await latest(name));
    }
  }

  async function catchUpModel(name: string, dimension: number): Promise<number> {
    const from = applied.get(name);
    if (from === undefined) {
      applied.set(name, await latest(name));
      return 0;
    }
    const newest = await latest(name);
    observer?.lag(name, newest - from);
    if (newest <= from) return 0;
    let high = from;
    let changes = 0;
    const upserts: { id: bigint; vector: Float32Array }[] = [];
    const deletes: bigint[] = [];
    const flush = async () => {
      if (upserts.length > 0) {
        const vectors = new Float32Array(upserts.length * dimension);
        for (const [i, u] of upserts.entries()) vectors.set(u.vector, i * dimension);
        await shard.upsert(name, BigInt64Array.from(upserts.map((u) => u.id)), vectors);
        upserts.length = 0;
      }
      if (deletes.length > 0) {
        await shard.delete(name, BigInt64Array.from(deletes));
        deletes.length = 0;
      }
    };
    for await (const change of source.since(name, from, shard.partitionOf(name))) {
      if (stopped) return changes;
      if (change.watermark > high) high = change.watermark;
      const owned = shard.concerns(name, change.id, change.vector);
      // by id, another shard's change is none of ours; placed by vector, it moved the id away
      if (!owned && !shard.placed) continue;
      // keep the order of the two kinds of change: flush the other kind first
      if (!owned || change.vector === null) {
        if (!owned && !shard.isLive(name, change.id)) continue;
        if (upserts.length > 0) await flush();
        deletes.push(change.id);
      } else {
        // a live id already holds its vector of record: one (image, model version) has one
        // embedding, so only missing ids need the write (and the tiers are left undisturbed)
        if (change.vector.length !== dimension || shard.isLive(name, change.id)) continue;
        if (deletes.length > 0) await flush();
        upserts.push({ id: change.id, vector: change.vector });
      }
      changes++;
      if (upserts.length + deletes.length >= 1024) await flush();
    }
    await flush();
    applied.set(name, high);
    observer?.lag(name, newest - high);
    return changes;
  }

  async function tick(): Promise<void> {
    const started = performance.now();
    if (shard.health().status !== 'ok') {
      options.onRound?.({ outcome: 'skipped', durationMs: 0, changes: 0 });
      return;
    }
    let total = 0;
    let failed = false;
    for (const { name, dimension } of shard.modelVersions) {
      try {
        const changes = await catchUpModel(name, dimension);
        total += changes;
        if (changes > 0) {
          observer?.applied(name, changes);
          log.info('caught up from source', { modelVersion: name, changes });
        }
      } catch (error) {
        failed = true;
        observer?.failed(name);
        log.error('catch-up failed; retrying next round', { modelVersion: name, error: String(error) });
      }
    }
    options.onRound?.({
      outcome: failed ? 'failed' : total > 0 ? 'ok' : 'skipped',
      durationMs: performance.now() - started,
      changes: total,
    });
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = null;
        schedule();
      });
    }, intervalMs);
    timer.unref();
  };

  return {
    prime,
    /** Starts polling (call once the shard is loaded). */
    start() {
      schedule();
    },
    /** One round now (tests). */
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
export type CatchUp = ReturnType<typeof startCatchUp>;
