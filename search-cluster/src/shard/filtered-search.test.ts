import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { liveRows } from '../faiss/live-rows.ts';
import { scoreCells, scoreRows } from '../faiss/score-rows.ts';
import { VectorFile, writeVectorFile } from '../faiss/vector-file.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { dotAt } from '../vector-math.ts';
import { faissFactory } from './faiss-factory.ts';
import { FilterCells, warnCodesInMemory } from './filter-cells.ts';
import { cellBudget, type FilterPath, filterPath } from './filter-plan.ts';
import { IdTable } from './int64.ts';
import type { MainTierKind } from './main-tier.ts';
import type { TierOptions } from './options.ts';
import { MemoryRowStore, type RowStore, VectorFileStore } from './row-store.ts';
import { Shard } from './shard.ts';
import { idRange, rng, row, unitVectors } from './test-vectors.ts';

const D = 32;
const N = 4000;
const K = 10;
const MV = 'clip-filter@1';
const BUDGET = 300;
const TIERS: Partial<TierOptions> = { exactScanMaxIds: BUDGET, filterAnnShare: 0.5, filterScanShare: 0.5 };
const open: Shard[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A shard whose main tier (of the given kind) holds ids 1..N; the hot tier empty. */
async function shardOf(kind: MainTierKind) {
  const source = new MemoryVectorSource();
  const vectors = unitVectors(N, D, 11, 40);
  source.putMany(MV, idRange(1, N), vectors);
  const shard = new Shard({
    factory: faissFactory,
    source,
    modelVersions: [{ name: MV, dimension: D }],
    tiers: { ...TIERS, mainTier: kind },
  });
  open.push(shard);
  await shard.start();
  expect(shard.stats().modelVersions[0]!.main!.kind).toBe(kind);
  return { shard, source, vectors };
}

/** Ids (1-based) of the `share` of vectors nearest a direction: a label that follows meaning. */
function coherentLabel(vectors: Float32Array, share: number, seed: number): bigint[] {
  const direction = unitVectors(1, D, seed, 1);
  const n = vectors.length / D;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => dotAt(vectors, b * D, direction, 0, D) - dotAt(vectors, a * D, direction, 0, D),
  );
  return order.slice(0, Math.round(n * share)).map((i) => BigInt(i + 1));
}

function randomLabel(share: number, seed: number): bigint[] {
  const random = rng(seed);
  return [...idRange(1, N)].filter(() => random() < share);
}

/** Exact top k among allowed ids, from id -> vector. */
function exactTop(
  live: Map<bigint, Float32Array>,
  query: Float32Array,
  allowed: Iterable<bigint>,
  k: number,
) {
  const scored = [...new Set(allowed)]
    .filter((id) => live.has(id))
    .map((id) => ({ id, score: Math.fround(dotAt(query, 0, live.get(id)!, 0, D)) }));
  return scored.sort((a, b) => b.score - a.score).slice(0, k);
}

const liveMap = (vectors: Float32Array) =>
  new Map([...idRange(1, N)].map((id, i) => [id, row(vectors, i, D)]));

async function search(shard: Shard, query: Float32Array, allowed: BigInt64Array, k = K) {
  const [hits] = await shard.search({ modelVersion: MV, queries: query, k, allowedIds: allowed });
  return hits!;
}

/** Mean recall@k over queries taken from the data itself, and a check of every hit. */
async function recallOf(
  shard: Shard,
  live: Map<bigint, Float32Array>,
  allowed: bigint[],
  queries: Float32Array,
) {
  const allowedSet = new Set(allowed);
  let found = 0;
  let wanted = 0;
  for (let q = 0; q < queries.length / D; q++) {
    const query = row(queries, q, D);
    const truth = exactTop(live, query, allowed, K);
    const hits = await search(shard, query, BigInt64Array.from(allowed));
    for (const h of hits) {
      expect(allowedSet.has(h.id)).toBe(true);
      expect(live.has(h.id)).toBe(true);
    }
    expect(hits).toHaveLength(Math.min(K, truth.length));
    const got = new Set(hits.map((h) => h.id));
    found += truth.filter((t) => got.has(t.id)).length;
    wanted += truth.length;
  }
  return found / wanted;
}

const queriesFor = (seed: number) => unitVectors(30, D, seed, 40);

describe('filtered search', () => {
  const filters: { name: string; path: FilterPath; allowed: (vectors: Float32Array) => bigint[] }[] = [
    { name: 'a coherent 20% label', path: 'cells', allowed: (v) => coherentLabel(v, 0.2, 5) },
    { name: 'a random 20% attribute', path: 'cells', allowed: () => randomLabel(0.2, 6) },
    {
      name: 'an AND of both (about 4%)',
      path: 'exact',
      allowed: (v) => {
        const random = new Set(randomLabel(0.2, 6));
        return coherentLabel(v, 0.2, 5).filter((id) => random.has(id));
      },
    },
    { name: 'a 1% label', path: 'exact', allowed: (v) => coherentLabel(v, 0.01, 7) },
    { name: 'a 70% label', path: 'ann', allowed: (v) => coherentLabel(v, 0.7, 8) },
  ];

  for (const kind of ['flat', 'hnsw', 'ivfpq'] as const) {
    it(`finds the exact filtered top ${K} (recall >= 0.9) on a ${kind} main tier, on every path`, async () => {
      const { shard, vectors } = await shardOf(kind);
      const live = liveMap(vectors);
      for (const f of filters) {
        const allowed = f.allowed(vectors);
        expect(
          filterPath(allowed.length, N, { scanBudget: BUDGET, annMinShare: 0.5, scanShare: 0.5 }),
          f.name,
        ).toBe(f.path);
        const recall = await recallOf(shard, live, allowed, queriesFor(21));
        expect(recall, `${kind}, ${f.name}`).toBeGreaterThanOrEqual(f.path === 'exact' ? 1 : 0.9);
      }
    });
  }

  it('never returns a deleted id, on any path, however near the query it is', async () => {
    const { shard, vectors } = await shardOf('hnsw');
    const live = liveMap(vectors);
    const queries = queriesFor(22);
    for (const f of filters) {
      const allowed = f.allowed(vectors);
      // delete each query's five best allowed ids: exactly the ones a filtered search wants most
      const doomed = new Set<bigint>();
      for (let q = 0; q < 10; q++)
        for (const t of exactTop(live, row(queries, q, D), allowed, 5)) doomed.add(t.id);
      await shard.delete(MV, BigInt64Array.from(doomed));
      for (const id of doomed) live.delete(id);
      for (let q = 0; q < 10; q++) {
        const hits = await search(shard, row(queries, q, D), BigInt64Array.from(allowed));
        for (const h of hits) expect(doomed.has(h.id), `${f.name}: deleted id ${h.id} returned`).toBe(false);
      }
      expect(await recallOf(shard, live, allowed, queries.subarray(0, 10 * D))).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('mixes the hot and main tiers: new ids and replaced vectors are found, old copies never', async () => {
    const { shard, vectors } = await shardOf('ivfpq');
    const live = liveMap(vectors);
    // 300 new ids in the hot tier, and 300 main-tier ids given new vectors (their old ones stale)
    const fresh = unitVectors(600, D, 31, 40);
    const newIds = idRange(N + 1, 300);
    const movedIds = BigInt64Array.from({ length: 300 }, (_, i) => BigInt(1 + i * 13));
    await shard.upsert(MV, newIds, fresh.slice(0, 300 * D));
    await shard.upsert(MV, movedIds, fresh.slice(300 * D));
    expect(shard.stats().modelVersions[0]!.hot.vectors).toBe(600);
    for (const [i, id] of [...newIds, ...movedIds].entries()) live.set(id, row(fresh, i, D));

    const queries = queriesFor(23);
    for (const f of filters) {
      const allowed = [...f.allowed(vectors), ...newIds.filter((_, i) => i % 2 === 0), ...movedIds];
      expect(await recallOf(shard, live, allowed, queries), f.name).toBeGreaterThanOrEqual(0.9);
      // a replaced id scores by its new vector: its old copy in the main tier is never returned
      for (let i = 0; i < 5; i++) {
        const query = row(fresh, 300 + i * 7, D);
        const hits = await search(shard, query, BigInt64Array.from(allowed));
        expect(hits[0]!.id).toBe(movedIds[i * 7]);
        expect(hits[0]!.score).toBeCloseTo(1, 5);
      }
    }
  });

  it('answers the hot tier exactly whether a filter is small next to it (scored in JS) or not (natively)', async () => {
    const { shard } = await shardOf('flat');
    const fresh = unitVectors(640, D, 37, 30);
    const newIds = idRange(N + 1, 640);
    await shard.upsert(MV, newIds, fresh);
    // 16 allowed ids against 640 hot rows go through the JS lookups, 320 through the native selector
    for (const size of [16, 320]) {
      const allowed = newIds.filter((_, i) => i % Math.floor(640 / size) === 0).slice(0, size);
      const query = unitVectors(1, D, 38 + size, 1);
      const want = [...allowed]
        .map((id) => ({ id, score: Math.fround(dotAt(query, 0, fresh, Number(id - BigInt(N) - 1n) * D, D)) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, K);
      const hits = await search(shard, query, allowed);
      expect(
        hits.map((h) => h.id),
        `${size} allowed`,
      ).toEqual(want.map((w) => w.id));
      for (const [j, w] of want.entries()) expect(hits[j]!.score).toBeCloseTo(w.score, 5);
    }
  });

  it('returns only allowed ids when the allow-list holds repeats, ids of no tier and the ids of other shards', async () => {
    const { shard, vectors } = await shardOf('flat');
    const live = liveMap(vectors);
    const allowed = [...randomLabel(0.2, 9), ...randomLabel(0.2, 9).slice(0, 100), 10_000_001n, 2n ** 62n];
    expect(await recallOf(shard, live, allowed, queriesFor(24))).toBeGreaterThanOrEqual(0.9);
  });
});

describe('liveRows (native id to row, dense ids)', () => {
  it('maps allowed ids to live rows in the order given, dropping dead rows, repeats and ids of no row', () => {
    // ids 1001..1998 in reversed row order, with gaps: every third id missing
    const ids = BigInt64Array.from([...idRange(1000, 1000)].filter((_, i) => i % 3 !== 0).reverse());
    const table = new IdTable(ids);
    expect(table.dense).not.toBeNull();
    const dead = new Uint8Array(ids.length);
    dead[table.rowOf(1500n)] = 1;
    const allowed = BigInt64Array.from([
      1001n,
      1500n,
      1002n,
      1001n,
      999n,
      -5n,
      2n ** 62n,
      1003n,
      1004n,
      1999n,
      1997n,
      2000n,
    ]);
    const want = [1001n, 1002n, 1004n, 1997n].map((id) => table.rowOf(id));
    expect([table.rowOf(1003n), table.rowOf(1999n)]).toEqual([-1, -1]);
    expect([...liveRows(allowed, table.dense!, dead)]).toEqual(want);
    expect(() => liveRows(allowed, { ...table.dense!, base: 1 as unknown as bigint }, dead)).toThrow(
      /bigint for base/,
    );
  });
});

describe('the cells budget', () => {
  it('is a share of the allowed rows, never under the scan budget', () => {
    const settings = { scanBudget: 4096, annMinShare: 0.5, scanShare: 0.5 };
    expect(cellBudget(5000, settings)).toBe(4096);
    expect(cellBudget(20_001, settings)).toBe(10_001);
    expect(cellBudget(20_000, { ...settings, scanShare: 0.25 })).toBe(5000);
  });
});

describe('FilterCells scan (native scoreCells)', () => {
  /** The reference: cells holding given rows, nearest first, whole, until budget rows and minCells cells. */
  function expectedScan(
    cells: FilterCells,
    vectors: Float32Array,
    query: Float32Array,
    given: Int32Array,
    budget: number,
    minCells: number,
  ) {
    const byCell = new Map<number, number[]>();
    for (const r of given) {
      if (r < 0 || r >= cells.cellOfRow.length) continue;
      const c = cells.cellOfRow[r]!;
      byCell.set(c, [...(byCell.get(c) ?? []), r]);
    }
    const order = [...byCell.keys()].sort(
      (a, b) => dotAt(query, 0, cells.centroids, b * D, D) - dotAt(query, 0, cells.centroids, a * D, D),
    );
    const taken: number[] = [];
    for (let i = 0; i < order.length && (taken.length < budget || i < minCells); i++)
      taken.push(...byCell.get(order[i]!)!);
    return taken
      .map((r) => ({ row: r, score: Math.fround(dotAt(query, 0, vectors, r * D, D)) }))
      .sort((a, b) => b.score - a.score);
  }

  it('scores whole cells nearest first until the budget, only of the rows it was given', async () => {
    const vectors = unitVectors(2000, D, 3, 20);
    const cells = await FilterCells.build(new MemoryRowStore(vectors, D), 2000, D, faissFactory);
    expect(cells.count).toBe(Math.round(4 * Math.sqrt(2000)));
    const given = Int32Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 3 === 0);
    for (const [q, budget, minCells] of [
      [30, 100, 2],
      [31, 0, 1],
      [60, 5000, 0],
    ] as const) {
      const query = row(vectors, q, D);
      const want = expectedScan(cells, vectors, query, given, budget, minCells).slice(0, K);
      const got = await scoreCells(vectors, D, query, cells.scan(given, budget, minCells, K), K);
      expect([...got.ids].map(Number).filter((r) => r >= 0)).toEqual(want.map((w) => w.row));
      for (const [j, w] of want.entries()) expect(got.distances[j]).toBeCloseTo(w.score, 5);
    }
    // the query's own row (30 is given) sits in the nearest cell, and comes first
    const own = await scoreCells(vectors, D, row(vectors, 30, D), cells.scan(given, 1, 1, 1), 1);
    expect(own.ids[0]).toBe(30n);
  });

  it('refuses to partition an empty tier with a clear error', async () => {
    const store = new MemoryRowStore(new Float32Array(0), D);
    await expect(FilterCells.build(store, 0, D, faissFactory)).rejects.toThrow(
      'Filter cells need at least one row, got 0',
    );
  });

  it('skips rows outside the tier, pads short answers, and scores the same from a vector file', async () => {
    const vectors = unitVectors(500, D, 5, 10);
    const cells = await FilterCells.build(new MemoryRowStore(vectors, D), 500, D, faissFactory);
    const given = Int32Array.of(-1, 7, 499, 500, 2_000_000, 42);
    const query = row(vectors, 42, D);
    const want = expectedScan(cells, vectors, query, given, 10_000, 0);
    const got = await scoreCells(vectors, D, query, cells.scan(given, 10_000, 0, 5), 5);
    expect([...got.ids].map(Number)).toEqual([...want.map((w) => w.row), -1, -1]);
    expect(got.distances[4]).toBe(Number.NEGATIVE_INFINITY);

    const dir = await mkdtemp(path.join(tmpdir(), 'score-cells-'));
    try {
      const file = path.join(dir, 'vectors.bin');
      await writeVectorFile(file, D, vectors, idRange(0, 500));
      const mapped = VectorFile.open(file);
      try {
        const fromFile = await mapped.scoreCells(query, cells.scan(given, 10_000, 0, 5), 5);
        expect([...fromFile.ids]).toEqual([...got.ids]);
        expect([...fromFile.distances]).toEqual([...got.distances]);
        await expect(
          mapped.scoreCells(query, { ...cells.scan(given, 1, 0, 5), cellOfRow: new Int32Array(3) }, 5),
        ).rejects.toThrow(/one cell for each of 500 rows/);
      } finally {
        mapped.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('maps the codes of a memory-mapped tier beside its file, and keeps them in memory when it cannot', async () => {
    const vectors = unitVectors(700, D, 9, 14);
    const inMemory = await FilterCells.build(new MemoryRowStore(vectors, D), 700, D, faissFactory);
    expect(inMemory.codesMapped).toBe(false);
    expect(inMemory.memoryBytes).toBeGreaterThanOrEqual(700 * D);
    const dir = await mkdtemp(path.join(tmpdir(), 'filter-codes-'));
    try {
      const file = path.join(dir, 'vectors.bin');
      await writeVectorFile(file, D, vectors, idRange(0, 700));
      const store = await VectorFileStore.open(file, 700, D);
      try {
        const mapped = await FilterCells.build(store, 700, D, faissFactory);
        expect(mapped.codesMapped).toBe(true);
        expect(mapped.codesInMemoryBecause).toBeNull();
        expect(mapped.memoryBytes).toBe(inMemory.memoryBytes - 700 * D);
        // the same rows, the same codes and cells; the file was unlinked once mapped
        expect(Buffer.from(mapped.codes).equals(Buffer.from(inMemory.codes))).toBe(true);
        expect([...mapped.cellOfRow]).toEqual([...inMemory.cellOfRow]);
        expect(await readdir(dir)).toEqual(['vectors.bin']);
        // a build that fails after its codes file exists (a row read fails) removes the file
        let reads = 0;
        const failing: RowStore = {
          memoryBytes: 0,
          scoresByRow: false,
          derivedDir: dir,
          score: store.score.bind(store),
          scoreCells: store.scoreCells.bind(store),
          close: async () => {},
          read: async (rows) => {
            // the first read is the k-means sample, the second the first chunk of codes
            if (++reads === 2) throw new Error('disk read failed');
            return store.read(rows);
          },
        };
        await expect(FilterCells.build(failing, 700, D, faissFactory)).rejects.toThrow(/disk read failed/);
        expect(reads).toBe(2);
        expect(await readdir(dir)).toEqual(['vectors.bin']);
        const given = Int32Array.from({ length: 700 }, (_, i) => i).filter((i) => i % 2 === 1);
        const query = row(vectors, 11, D);
        const want = await scoreCells(vectors, D, query, inMemory.scan(given, 200, 1, K), K);
        const got = await store.scoreCells(query, mapped.scan(given, 200, 1, K), K);
        expect([...got.ids]).toEqual([...want.ids]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // a directory that refuses the file: codes in memory, and the reason said
    const refusing = Object.assign(new MemoryRowStore(vectors, D), { derivedDir: path.join(dir, 'gone') });
    const fallback = await FilterCells.build(refusing, 700, D, faissFactory);
    expect(fallback.codesMapped).toBe(false);
    expect(fallback.codesInMemoryBecause).toMatch(/gone: ENOENT/);
    expect(Buffer.from(fallback.codes).equals(Buffer.from(inMemory.codes))).toBe(true);
    const warned: [string, Record<string, unknown> | undefined][] = [];
    const log = {
      info() {},
      error() {},
      warn: (m: string, f?: Record<string, unknown>) => warned.push([m, f]),
    };
    warnCodesInMemory(fallback, log, { modelVersion: MV });
    warnCodesInMemory(inMemory, log, { modelVersion: MV });
    expect(warned).toEqual([
      [
        expect.stringMatching(/filter codes kept in memory/),
        { modelVersion: MV, reason: fallback.codesInMemoryBecause },
      ],
    ]);
  });

  it('ranks by the codes and scores only the short list exactly', async () => {
    const vectors = unitVectors(600, D, 6, 12);
    const cells = await FilterCells.build(new MemoryRowStore(vectors, D), 600, D, faissFactory);
    const given = Int32Array.from({ length: 600 }, (_, i) => i);
    const query = row(vectors, 77, D);
    const exact = expectedScan(cells, vectors, query, given, 10_000, 0);
    // codes of the negated rows rank the rows worst first: the short list then holds the rows
    // the exact order puts last, and the answer is the best of those, exactly scored
    const negated = vectors.map((v) => -v);
    const inverted = new Uint8Array(vectors.length);
    cells.codeBook.encode(negated, inverted, 0);
    const shortList = 40;
    const scan = { ...cells.scan(given, 10_000, 0, 5), codes: cells.codeBook.codes(inverted, shortList) };
    const got = await scoreCells(vectors, D, query, scan, 5);
    const worst = exact.slice(-shortList);
    expect([...got.ids].map(Number)).toEqual(worst.slice(0, 5).map((w) => w.row));
    for (const [j, w] of worst.slice(0, 5).entries()) expect(got.distances[j]).toBeCloseTo(w.score, 5);
    // the tier's own codes keep the exact answer
    const own = await scoreCells(vectors, D, query, cells.scan(given, 10_000, 0, 5), 5);
    expect([...own.ids].map(Number)).toEqual(exact.slice(0, 5).map((w) => w.row));
    expect(() =>
      scoreCells(vectors, D, query, { ...scan, codes: cells.codeBook.codes(inverted, 4) }, 5),
    ).toThrow(/short list of at least k = 5/);
    expect(() =>
      scoreCells(vectors, D, query, { ...scan, codes: { ...scan.codes, bytes: new Uint8Array(5) } }, 5),
    ).toThrow(/codes/);
  });
});

describe('scoreRows', () => {
  it('scores exactly the rows given, skipping -1 and rows outside the vectors', async () => {
    const vectors = unitVectors(200, D, 4, 8);
    const query = row(vectors, 5, D);
    const rows = Int32Array.from([7, 5, -1, 9999, 12, 5000000, 3]);
    const { ids, distances } = await scoreRows(vectors, D, query, rows, rows.length, 4);
    const expected = [7, 5, 12, 3]
      .map((r) => ({ at: [...rows].indexOf(r), score: Math.fround(dotAt(query, 0, vectors, r * D, D)) }))
      .sort((a, b) => b.score - a.score);
    expect([...ids].map(Number)).toEqual(expected.map((e) => e.at));
    for (const [j, e] of expected.entries()) expect(distances[j]).toBeCloseTo(e.score, 5);
    const padded = await scoreRows(vectors, D, query, Int32Array.of(-1, 4), 2, 3);
    expect([...padded.ids]).toEqual([1n, -1n, -1n]);
  });
});
