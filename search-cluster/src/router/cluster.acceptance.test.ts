/**
 * Acceptance (issue 5): adding, deleting, searching, rebuilding and restarting shards under
 * concurrent queries loses no vector and returns no deleted one.
 *
 * Two shards with two in-process replicas each, real FAISS, a source of record in memory. A writer
 * adds and deletes (source first, then the router, retrying as the indexing job does), rebuilds
 * run on every replica, replicas are restarted one at a time (snapshot reload plus refill), and
 * readers query the whole time. Every answer is checked against what had been acknowledged when
 * the query started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError, isClusterError } from '../errors.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import type { TierOptions } from '../shard/options.ts';
import { shardOf } from '../shard/partition.ts';
import { Shard } from '../shard/shard.ts';
import { idRange, row, unitVectors } from '../shard/test-vectors.ts';
import { LocalReplica, type ShardReplica } from './replica.ts';
import { ClusterRouter } from './router.ts';

const D = 16;
const MV = 'clip-test@1';
const SHARDS = 2;
const REPLICAS = 2;

/** A replica whose shard can be swapped for a fresh process-like instance. */
class RestartableReplica implements ShardReplica {
  shard: Shard | null = null;
  constructor(readonly name: string) {}

  private get local(): LocalReplica {
    if (!this.shard) throw new ClusterError('SHARD_UNAVAILABLE', `${this.name} is restarting`);
    return new LocalReplica(this.shard, false);
  }

  search: ShardReplica['search'] = async (r, s) => this.local.search(r, s);
  upsert: ShardReplica['upsert'] = async (m, i, v, s) => this.local.upsert(m, i, v, s);
  delete: ShardReplica['delete'] = async (m, i, s) => this.local.delete(m, i, s);
  rebuild: ShardReplica['rebuild'] = async (m, s) => this.local.rebuild(m, s);
  addModelVersion: ShardReplica['addModelVersion'] = async (n, d, s) => this.local.addModelVersion(n, d, s);
  dropModelVersion: ShardReplica['dropModelVersion'] = async (n, s) => this.local.dropModelVersion(n, s);
  health: ShardReplica['health'] = async (s) => this.local.health(s);
  stats: ShardReplica['stats'] = async (s) => this.local.stats(s);
  async close() {
    await this.shard?.close();
  }
}

const retryable = (error: unknown) =>
  isClusterError(error) && ['SHARD_UNAVAILABLE', 'CLOSED', 'SHARD_NOT_READY'].includes(error.code);

/** Retries a write until every replica took it, as the indexing job's retry does. */
async function untilAcknowledged<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!retryable(error) || attempt > 500) throw error;
      await sleep(5);
    }
  }
}

let dataDir: string;
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe.each([
  ['flat', { mainTier: 'flat' }],
  ['hnsw (tombstones)', { mainTier: 'hnsw', efSearch: 128 }],
] as const)('cluster under concurrent load, %s main tier', (kind, tiers: Partial<TierOptions>) => {
  it('loses no vector and returns no deleted one', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-acceptance-'));
    const source = new MemoryVectorSource();
    const pool = unitVectors(2400, D, 2024, 48);
    const vectorOf = (id: bigint) => row(pool, Number(id) - 1, D);
    let nextId = 1;
    const take = (n: number) => {
      const ids = idRange(nextId, n);
      nextId += n;
      return ids;
    };
    const initial = take(1000);
    source.putMany(MV, initial, pool.subarray(0, 1000 * D));

    const startShard = async (replica: RestartableReplica, shard: number, r: number) => {
      const instance = new Shard({
        partition: { index: shard, count: SHARDS },
        modelVersions: [{ name: MV, dimension: D }],
        factory: faissFactory,
        source,
        dataDir: join(dataDir, `shard-${shard}-replica-${r}`),
        tiers: { ...tiers, autoRebuildHotVectors: 0 },
      });
      replica.shard = instance; // takes writes while it loads, answers SHARD_NOT_READY to searches
      await instance.start();
    };
    const replicas = Array.from({ length: SHARDS }, (_, s) =>
      Array.from({ length: REPLICAS }, (_, r) => new RestartableReplica(`shard${s}/replica${r}`)),
    );
    await Promise.all(replicas.flatMap((group, s) => group.map((replica, r) => startShard(replica, s, r))));
    const router = new ClusterRouter(replicas, { deadlineMs: 5_000, hedgeAfterMs: 200, backoffMs: 20 });

    // logical clock: what was acknowledged before a query started must hold when it ends
    let clock = 0;
    const addedAt = new Map<bigint, number>(
      initial.reduce((m, id) => m.set(id, 0), new Map<bigint, number>()),
    );
    const deleteStartedAt = new Map<bigint, number>();
    const deletedAt = new Map<bigint, number>();
    const failures: string[] = [];
    let checks = 0;
    let partials = 0;

    const checkAnswer = (queried: bigint, ids: bigint[], startedAt: number, mustContain: boolean) => {
      for (const id of ids) {
        const gone = deletedAt.get(id);
        if (gone !== undefined && gone < startedAt)
          failures.push(`deleted ${id} returned (query for ${queried})`);
      }
      // still live through the whole query: it must be there
      if (mustContain && !deleteStartedAt.has(queried) && !ids.includes(queried)) {
        failures.push(`live ${queried} missing (${kind})`);
      }
      checks++;
    };

    let stop = false;
    const reader = async (seed: number) => {
      let i = seed;
      while (!stop) {
        const live = [...addedAt.keys()].filter((id) => !deleteStartedAt.has(id));
        i = (Math.imul(i, 1103515245) + 12345) >>> 0;
        const id = live[i % live.length]!;
        const startedAt = ++clock;
        const exact = await router.search(MV, vectorOf(id), 1, { allowedIds: [id] });
        const ann = await router.search(MV, vectorOf(id), 10);
        if (exact.partial || ann.partial) partials++;
        checkAnswer(
          id,
          exact.hits.map((h) => h.id),
          startedAt,
          true,
        );
        // HNSW self-recall is not guaranteed; flat is exact
        checkAnswer(
          id,
          ann.hits.map((h) => h.id),
          startedAt,
          kind === 'flat',
        );
      }
    };

    const rebuilds: Promise<unknown>[] = [];
    const restart = async (s: number, r: number) => {
      const replica = replicas[s]![r]!;
      const old = replica.shard!;
      replica.shard = null;
      await old.close();
      await startShard(replica, s, r);
    };

    const writer = async () => {
      for (let step = 0; step < 24; step++) {
        const ids = take(25);
        const vectors = new Float32Array(ids.length * D);
        for (const [i, id] of ids.entries()) vectors.set(vectorOf(id), i * D);
        source.putMany(MV, ids, vectors);
        await untilAcknowledged(() => router.upsert(MV, { ids, vectors }));
        const at = ++clock;
        for (const id of ids) addedAt.set(id, at);

        const live = [...addedAt.keys()].filter((id) => !deleteStartedAt.has(id));
        const victims = Array.from({ length: 6 }, (_, j) => live[(step * 131 + j * 977) % live.length]!);
        const unique = [...new Set(victims)];
        for (const id of unique) deleteStartedAt.set(id, ++clock);
        for (const id of unique) source.delete(MV, id);
        await untilAcknowledged(() => router.delete(MV, unique));
        const doneAt = ++clock;
        for (const id of unique) deletedAt.set(id, doneAt);

        if (step % 6 === 2) rebuilds.push(router.rebuild(MV));
        if (step === 8) await restart(0, 0);
        if (step === 14) await restart(1, 1);
        if (step === 20) await restart(0, 1);
        await sleep(2);
      }
    };

    const readers = [reader(7), reader(1234)];
    await writer();
    const reports = (await Promise.all(rebuilds)).flat() as {
      outcome?: unknown;
      error?: string;
      skipped?: string;
    }[];
    stop = true;
    await Promise.all(readers);

    if (process.env.ACCEPTANCE_VERBOSE)
      console.log({ kind, checks, partials, failures: failures.length, reports });
    expect(failures.slice(0, 10)).toEqual([]);
    expect(partials).toBe(0);
    expect(checks).toBeGreaterThan(100);
    // rebuilds ran: a replica that was restarting at the time may have refused, and its partner
    // is skipped while it is down (a shard is never left on one busy replica)
    expect(reports.filter((r) => r.outcome).length).toBeGreaterThanOrEqual(4);
    expect(reports.every((r) => r.outcome || r.error || r.skipped)).toBe(true);

    // finally every replica on its own holds exactly the source of record's vectors of its shard
    const liveIds = source.ids(MV);
    const deletedIds = BigInt64Array.from(deletedAt.keys());
    expect(liveIds.length + deletedIds.length).toBe(nextId - 1);
    for (const group of replicas) {
      for (const replica of group) {
        const shard = replica.shard!;
        const own = liveIds.filter((id) => shard.partition.index === shardOf(id, SHARDS));
        const stats = shard.stats().modelVersions[0]!;
        expect(stats.hot.vectors + (stats.main?.live ?? 0), replica.name).toBe(own.length);
        for (const id of own) {
          const [hits] = await shard.search({
            modelVersion: MV,
            queries: vectorOf(id),
            k: 1,
            allowedIds: BigInt64Array.of(id),
          });
          expect(hits![0]?.id, `${replica.name} lost ${id}`).toBe(id);
        }
        const [none] = await shard.search({
          modelVersion: MV,
          queries: vectorOf(1n),
          k: 1000,
          allowedIds: deletedIds,
        });
        expect(none, `${replica.name} returns deleted ids`).toEqual([]);
      }
    }
    await router.close();
  });
});
