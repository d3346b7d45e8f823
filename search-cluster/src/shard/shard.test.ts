import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { faissFactory } from './faiss-factory.ts';
import type { TierOptions } from './options.ts';
import { shardOf } from './partition.ts';
import { Shard } from './shard.ts';
import { idRange, row, unitVectors } from './test-vectors.ts';

const D = 32;
const MV = 'clip-test@1';
const open: Shard[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A shard whose main tier holds ids 1..mainCount (built from the source), hot tier empty. */
async function shardWithMain(mainCount: number, tiers: Partial<TierOptions> = {}, seed = 3) {
  const source = new MemoryVectorSource();
  const vectors = unitVectors(mainCount, D, seed, 24);
  source.putMany(MV, idRange(1, mainCount), vectors);
  const shard = new Shard({
    factory: faissFactory,
    source,
    modelVersions: [{ name: MV, dimension: D }],
    tiers,
  });
  open.push(shard);
  await shard.start();
  return { shard, source, vectors };
}

const top = async (shard: Shard, query: Float32Array, k: number, allowedIds?: BigInt64Array) => {
  const [hits] = await shard.search({
    modelVersion: MV,
    queries: query,
    k,
    ...(allowedIds ? { allowedIds } : {}),
  });
  return hits!;
};

const stats = (shard: Shard) => shard.stats().modelVersions[0]!;

describe('Shard tiers', () => {
  it('searches the main and the hot tier together and merges them best first', async () => {
    const { shard, vectors } = await shardWithMain(500);
    const extra = unitVectors(100, D, 99, 24);
    await shard.upsert(MV, idRange(1001, 100), extra);
    expect(stats(shard).hot.vectors).toBe(100);
    expect(stats(shard).main).toMatchObject({ kind: 'flat', vectors: 500 });

    // every vector finds itself first, whichever tier holds it
    for (const [i, source, base] of [
      [17, vectors, 1],
      [42, extra, 1001],
    ] as const) {
      const hits = await top(shard, row(source, i, D), 10);
      expect(hits[0]!.id).toBe(BigInt(base + i));
      expect(hits[0]!.score).toBeCloseTo(1, 4);
      expect(hits).toHaveLength(10);
      expect(new Set(hits.map((h) => h.id)).size).toBe(10);
      for (let j = 1; j < hits.length; j++) expect(hits[j - 1]!.score).toBeGreaterThanOrEqual(hits[j]!.score);
    }
  });

  it('answers an empty model version with no hits rather than an error', async () => {
    const shard = new Shard({ factory: faissFactory, modelVersions: [{ name: MV, dimension: D }] });
    open.push(shard);
    await shard.start();
    expect(await top(shard, row(unitVectors(1, D), 0, D), 5)).toEqual([]);
  });

  it('builds an HNSW main tier and an IVF-PQ one with exact re-scored scores by size', async () => {
    const hnsw = await shardWithMain(600, { flatMaxVectors: 100 });
    expect(stats(hnsw.shard).main).toMatchObject({ kind: 'hnsw', factory: 'HNSW32' });
    const ivf = await shardWithMain(3000, { flatMaxVectors: 100, hnswMaxVectors: 1000 });
    // IVF-PQ fast scan (4-bit codes) is the compressed tier
    expect(stats(ivf.shard).main).toMatchObject({ kind: 'ivfpq', factory: 'IVF64,PQ16x4fs' });
    let found = 0;
    for (let i = 0; i < 3000; i += 50) {
      const q = row(ivf.vectors, i, D);
      const hits = await top(ivf.shard, q, 5);
      if (hits[0]?.id === BigInt(i + 1)) {
        found++;
        // the score is the exact inner product, not the PQ estimate
        expect(hits[0]!.score).toBeCloseTo(1, 5);
      }
    }
    expect(found).toBeGreaterThanOrEqual(58);
  });
});

describe('Shard deletes', () => {
  /** Deletes the 40 nearest neighbours of `query`; a top-20 search must still find 20, none of them. */
  async function deleteNearestAndSearch(shard: Shard, query: Float32Array) {
    const nearest = (await top(shard, query, 40)).map((h) => h.id);
    await shard.delete(MV, BigInt64Array.from(nearest));
    const hits = await top(shard, query, 20);
    expect(hits).toHaveLength(20);
    for (const h of hits) expect(nearest).not.toContain(h.id);
    return { query, nearest };
  }

  it('deletes from the hot tier and from a Flat main tier', async () => {
    const { shard, vectors } = await shardWithMain(300);
    const hotVectors = unitVectors(20, D, 5, 24);
    await shard.upsert(MV, idRange(501, 20), hotVectors);
    expect(await shard.delete(MV, BigInt64Array.of(7n, 505n, 99_999n))).toEqual({ deleted: 2 });
    const fromMain = await top(shard, row(vectors, 6, D), 300);
    const fromHot = await top(shard, row(hotVectors, 4, D), 300);
    for (const hits of [fromMain, fromHot]) {
      expect(hits.map((h) => h.id)).not.toContain(7n);
      expect(hits.map((h) => h.id)).not.toContain(505n);
      expect(hits).toHaveLength(300);
    }
    expect(stats(shard).main).toMatchObject({ live: 299, tombstones: 0 });
  });

  it('removes deletions from an IVF-PQ fast-scan main tier for real and still returns k live results', async () => {
    const { shard, vectors } = await shardWithMain(3000, { flatMaxVectors: 100, hnswMaxVectors: 1000 });
    expect(stats(shard).main!.factory).toMatch(/x4fs$/);
    const { query, nearest } = await deleteNearestAndSearch(shard, row(vectors, 10, D));
    // gone from the index itself, not left as tombstones (FAISS 1.7.3 cannot remove from fast scan;
    // the addon does)
    expect(stats(shard).main).toMatchObject({ kind: 'ivfpq', tombstones: 0, live: 2960 });
    // nor through a filter that allows them (fast scan takes no id selector; the addon post-filters)
    const allowed = BigInt64Array.from([...nearest, ...idRange(1, 3000)].filter((id) => id % 2n === 0n));
    const filtered = await shard.search({ modelVersion: MV, queries: query, k: 20, allowedIds: allowed });
    expect(filtered[0]).toHaveLength(20);
    for (const h of filtered[0]!) {
      expect(nearest).not.toContain(h.id);
      expect(h.id % 2n).toBe(0n);
    }
  });

  it('keeps HNSW deletions as tombstones and still returns k live results', async () => {
    const { shard, vectors } = await shardWithMain(800, { flatMaxVectors: 100 });
    // the graph still holds the deleted neighbours
    await deleteNearestAndSearch(shard, row(vectors, 10, D));
    expect(stats(shard).main).toMatchObject({ kind: 'hnsw', tombstones: 40, live: 760 });
  });
});

describe('Shard upserts', () => {
  it('is idempotent: the same vector twice leaves one vector', async () => {
    const { shard, vectors } = await shardWithMain(200);
    const v = unitVectors(1, D, 77);
    expect(await shard.upsert(MV, BigInt64Array.of(900n), v)).toEqual({ upserted: 1, unchanged: 0 });
    expect(await shard.upsert(MV, BigInt64Array.of(900n), v)).toEqual({ upserted: 0, unchanged: 1 });
    // an id the main tier already holds with this exact vector is left alone too
    expect(await shard.upsert(MV, BigInt64Array.of(3n), row(vectors, 2, D))).toEqual({
      upserted: 0,
      unchanged: 1,
    });
    expect(stats(shard).hot.vectors).toBe(1);
    const hits = await top(shard, v, 50);
    expect(hits.filter((h) => h.id === 900n)).toHaveLength(1);
  });

  it('replaces a vector by id in either tier, never returning the old one', async () => {
    const { shard, vectors } = await shardWithMain(200);
    const replacement = unitVectors(2, D, 1234);
    // id 5 lives in the main tier; its new vector goes hot and the old copy becomes a tombstone
    await shard.upsert(MV, BigInt64Array.of(5n), row(replacement, 0, D));
    const oldQuery = await top(shard, row(vectors, 4, D), 200);
    const five = oldQuery.filter((h) => h.id === 5n);
    expect(five).toHaveLength(1);
    expect(five[0]!.score).toBeLessThan(0.999);
    expect((await top(shard, row(replacement, 0, D), 1))[0]!.id).toBe(5n);
    // and again, now replacing the hot copy
    await shard.upsert(MV, BigInt64Array.of(5n), row(replacement, 1, D));
    expect((await top(shard, row(replacement, 1, D), 1))[0]).toMatchObject({ id: 5n });
    expect((await top(shard, row(replacement, 0, D), 200)).filter((h) => h.id === 5n)).toHaveLength(1);
    expect(stats(shard).hot.vectors).toBe(1);
    expect(stats(shard).main!.live).toBe(199);
  });

  it('keeps the last vector when a batch repeats an id', async () => {
    const shard = new Shard({ factory: faissFactory, modelVersions: [{ name: MV, dimension: D }] });
    open.push(shard);
    await shard.start();
    const v = unitVectors(2, D, 8);
    await shard.upsert(MV, BigInt64Array.of(1n, 1n), v);
    expect(stats(shard).hot.vectors).toBe(1);
    expect((await top(shard, row(v, 1, D), 1))[0]!.score).toBeCloseTo(1, 5);
  });
});

describe('Shard filtered search', () => {
  it('scans a small allowed set exactly and returns k when k exist', async () => {
    const { shard, vectors } = await shardWithMain(2000, { flatMaxVectors: 100 });
    await shard.upsert(MV, idRange(5001, 50), unitVectors(50, D, 6, 24));
    // allowed: 30 main ids far apart, 10 hot ids, 5 deleted, 5 unknown
    const allowed = [...idRange(1, 30)].map((id) => id * 60n);
    allowed.push(...idRange(5001, 10), ...idRange(1, 5), ...idRange(90_000, 5));
    await shard.delete(MV, idRange(1, 5));
    const hits = await top(shard, row(vectors, 100, D), 25, BigInt64Array.from(allowed));
    expect(hits).toHaveLength(25);
    for (const h of hits) expect(allowed).toContain(h.id);
    for (const h of hits) expect(h.id > 5n).toBe(true);
    // fewer than k exist: all of them come back
    const all = await top(shard, row(vectors, 100, D), 100, BigInt64Array.from(allowed));
    expect(all).toHaveLength(40);
  });

  it('searches a large allowed set with the ANN selector and tops up to k', async () => {
    const { shard, vectors } = await shardWithMain(3000, {
      flatMaxVectors: 100,
      hnswMaxVectors: 1000,
      exactScanMaxIds: 64,
      // a third of the shard allowed: above this share the ANN path (filter-plan.ts) answers
      filterAnnShare: 0.2,
    });
    expect(stats(shard).main!.kind).toBe('ivfpq');
    // every third id: an IVF probe of few lists finds fewer than k of them
    const allowed = BigInt64Array.from([...idRange(1, 3000)].filter((id) => id % 3n === 0n));
    for (const [i, k] of [
      [0, 50],
      [1500, 200],
    ] as const) {
      const [hits] = await shard.search({
        modelVersion: MV,
        queries: row(vectors, i, D),
        k,
        allowedIds: allowed,
        nprobe: 1,
      });
      expect(hits).toHaveLength(k);
      for (const h of hits!) expect(h.id % 3n).toBe(0n);
    }
  });

  it('returns nothing for an empty allowed set', async () => {
    const { shard, vectors } = await shardWithMain(100);
    expect(await top(shard, row(vectors, 0, D), 5, new BigInt64Array(0))).toEqual([]);
  });
});

describe('Shard input checks', () => {
  it('rejects bad input with a clear error and a code', async () => {
    const { shard } = await shardWithMain(50);
    const q = unitVectors(1, D);
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [
        () => shard.search({ modelVersion: MV, queries: new Float32Array(D + 1), k: 5 }),
        'BAD_REQUEST',
        /dimension 32/,
      ],
      [
        () => shard.search({ modelVersion: MV, queries: new Float32Array(D), dimension: 16, k: 5 }),
        'BAD_REQUEST',
        /Expected query vectors of dimension 32 for model version clip-test@1 but received 16/,
      ],
      [
        () => shard.search({ modelVersion: MV, queries: q.map((v, i) => (i === 3 ? Number.NaN : v)), k: 5 }),
        'BAD_REQUEST',
        /finite values in queries but found NaN at row 0, column 3/,
      ],
      [
        () =>
          shard.search({
            modelVersion: MV,
            queries: q.map((v, i) => (i === 0 ? Number.POSITIVE_INFINITY : v)),
            k: 5,
          }),
        'BAD_REQUEST',
        /Infinity/,
      ],
      [
        () => shard.search({ modelVersion: MV, queries: q, k: 0 }),
        'BAD_REQUEST',
        /Expected integer between 1 and 1000 for k but received 0 of type number/,
      ],
      [() => shard.search({ modelVersion: MV, queries: q, k: 1001 }), 'BAD_REQUEST', /received 1001/],
      [() => shard.search({ modelVersion: MV, queries: q, k: 2.5 }), 'BAD_REQUEST', /received 2.5/],
      [
        () => shard.search({ modelVersion: 'nope', queries: q, k: 5 }),
        'UNKNOWN_MODEL_VERSION',
        /Unknown model version "nope"/,
      ],
      [() => shard.search({ modelVersion: MV, queries: q, k: 5, efSearch: -1 }), 'BAD_REQUEST', /efSearch/],
      [
        () => shard.upsert(MV, BigInt64Array.of(-3n), q),
        'BAD_REQUEST',
        /non-negative ids in ids but found -3 at index 0/,
      ],
      [
        () => shard.upsert(MV, BigInt64Array.of(1n, 2n), q),
        'BAD_REQUEST',
        /Expected 2 vectors of dimension 32/,
      ],
      [() => shard.upsert('nope', BigInt64Array.of(1n), q), 'UNKNOWN_MODEL_VERSION', /nope/],
      [() => shard.rebuild('nope'), 'UNKNOWN_MODEL_VERSION', /nope/],
    ];
    for (const [call, code, message] of cases) {
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, String(message)).toBeInstanceOf(ClusterError);
      expect((error as ClusterError).code).toBe(code);
      expect((error as ClusterError).message).toMatch(message);
    }
    // nothing above hurt the shard
    expect(shard.health().status).toBe('ok');
  });

  it('refuses ids that belong to another shard', async () => {
    const shard = new Shard({
      factory: faissFactory,
      partition: { index: 1, count: 3 },
      modelVersions: [{ name: MV, dimension: D }],
    });
    open.push(shard);
    await shard.start();
    const foreign = [...idRange(1, 50)].find((id) => shardOf(id, 3) !== 1)!;
    const own = [...idRange(1, 50)].find((id) => shardOf(id, 3) === 1)!;
    await expect(shard.upsert(MV, BigInt64Array.of(foreign), unitVectors(1, D))).rejects.toThrow(
      /belongs to shard/,
    );
    await expect(shard.upsert(MV, BigInt64Array.of(own), unitVectors(1, D))).resolves.toEqual({
      upserted: 1,
      unchanged: 0,
    });
  });

  it('answers SHARD_NOT_READY, not UNKNOWN_MODEL_VERSION, before it has started', async () => {
    const shard = new Shard({ factory: faissFactory, modelVersions: [{ name: MV, dimension: D }] });
    open.push(shard);
    await expect(shard.search({ modelVersion: MV, queries: unitVectors(1, D), k: 1 })).rejects.toMatchObject({
      code: 'SHARD_NOT_READY',
    });
    expect(shard.health().status).toBe('loading');
    await shard.start();
    expect(shard.health().status).toBe('ok');
  });

  it('rebuild without a source of record says so', async () => {
    const shard = new Shard({ factory: faissFactory, modelVersions: [{ name: MV, dimension: D }] });
    open.push(shard);
    await shard.start();
    await expect(shard.rebuild(MV)).rejects.toMatchObject({ code: 'NO_SOURCE' });
  });
});

describe('Shard model versions', () => {
  it('a dropped (retired) model version stops answering, and its snapshots are removed', async () => {
    const { mkdtemp, readdir, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = await mkdtemp(join(tmpdir(), 'pf-shard-drop-'));
    try {
      const shard = new Shard({ factory: faissFactory, source: new MemoryVectorSource(), dataDir });
      open.push(shard);
      await shard.start();
      await shard.addModelVersion('old@1', D);
      await shard.addModelVersion('new@1', D);
      await shard.upsert('old@1', idRange(1, 5), unitVectors(5, D, 1, 24));
      await shard.dropModelVersion('old@1');
      expect(shard.modelVersions.map((m) => m.name)).toEqual(['new@1']);
      await expect(
        shard.search({ modelVersion: 'old@1', queries: unitVectors(1, D, 2, 24), k: 3 }),
      ).rejects.toMatchObject({ code: 'UNKNOWN_MODEL_VERSION' });
      expect((await readdir(dataDir)).some((name) => name.startsWith('old'))).toBe(false);
      // a restart does not bring it back
      const again = new Shard({ factory: faissFactory, source: new MemoryVectorSource(), dataDir });
      open.push(again);
      expect(again.modelVersions.map((m) => m.name)).toEqual(['new@1']);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
