import { describe, expect, it } from 'vitest';
import { faissFactory } from '../shard/faiss-factory.ts';
import { defaultNprobe, MainTier } from '../shard/main-tier.ts';
import { idRange, unitVectors } from '../shard/test-vectors.ts';
import { buildMainTier } from './build-main.ts';
import { calibrateNprobe, TEXT_QUERY_MARGIN } from './calibrate-nprobe.ts';
import { exactTopKOfRows } from './exact-search.ts';

const D = 32;
const N = 20_000;
const HELD_OUT = 200;

/** An IVF-PQ tier over the first N rows of `vectors`, its build's calibration, and held-out queries. */
async function build(vectors: Float32Array, configured: number) {
  const ids = idRange(1, N);
  const rows = { ids, vectors: vectors.slice(0, N * D), skipped: 0 };
  const built = await buildMainTier(rows, {
    factory: faissFactory,
    dimension: D,
    tiers: { mainTier: 'ivfpq', flatMaxVectors: 0, hnswMaxVectors: 0, hnswM: 32 },
    params: { nprobe: configured, efSearch: 64, rescoreFactor: 8 },
    onDisk: false,
    watermark: 1n,
    snapshot: null,
    onSnapshotError: (error) => {
      throw error;
    },
  });
  const queries = Array.from({ length: HELD_OUT }, (_, q) => vectors.slice((N + q) * D, (N + q + 1) * D));
  return { tier: built.tier, calibration: built.calibration!, rows, queries };
}

/** recall@k of the tier at `nprobe` on queries it never saw, against an exact search. */
async function heldOutRecall(
  tier: MainTier,
  rows: { ids: BigInt64Array; vectors: Float32Array },
  queries: Float32Array[],
  nprobe: number,
  k: number,
) {
  const truth = await exactTopKOfRows(rows.ids, rows.vectors, queries, k);
  const packed = new Float32Array(queries.length * D);
  for (const [q, query] of queries.entries()) packed.set(query, q * D);
  const found = await tier.search(packed, queries.length, k, { nprobe });
  let hit = 0;
  for (const [q, hits] of found.entries()) {
    const want = new Set(truth[q]!.map((h) => h.id));
    hit += hits.filter((h) => want.has(h.id)).length;
  }
  return hit / (queries.length * k);
}

describe('calibrateNprobe (through buildMainTier)', () => {
  it('lowers the default where neighbours sit in few lists, and serves as well as the default', async () => {
    // 40 tight groups of ~500: a row's 10 nearest are in its group, in a few of the 512 lists
    const { tier, calibration, rows, queries } = await build(unitVectors(N + HELD_OUT, D, 7, 40), 2);
    const ceiling = defaultNprobe(tier.factory, 2);
    expect(calibration.ceiling).toBe(ceiling);
    expect(calibration.points.map((p) => p.nprobe)).toEqual(
      [2, 4, 8, 16, 32, 64].filter((p) => p <= ceiling),
    );
    expect(calibration.nprobe).toBeLessThan(ceiling);
    expect(tier.params.nprobe).toBe(calibration.nprobe);
    // on queries the calibration never saw, the lower default loses nothing measurable
    for (const k of [10, 100]) {
      const served = await heldOutRecall(tier, rows, queries, tier.params.nprobe, k);
      const atCeiling = await heldOutRecall(tier, rows, queries, ceiling, k);
      expect(served).toBeGreaterThanOrEqual(atCeiling - 0.02);
    }
    await tier.close();
  }, 60_000);

  it('keeps the default where neighbours spread over the lists', async () => {
    // one wide cloud: every list a query probes more finds more of its neighbours
    const { tier, calibration } = await build(unitVectors(N + HELD_OUT, D, 11, 1), 2);
    const recalls = calibration.points.map((p) => p.recall);
    expect(recalls.at(-1)!).toBeGreaterThan(recalls[0]! + 0.1);
    expect(calibration.nprobe).toBe(calibration.ceiling);
    expect(tier.params.nprobe).toBe(calibration.ceiling);
    await tier.close();
  }, 60_000);

  it('stops at the first nprobe that reaches the recall target, even where more lists still add recall', async () => {
    // the wide cloud: recall keeps growing with the lists, so only the target can stop early
    const { tier, calibration, rows } = await build(unitVectors(N + HELD_OUT, D, 11, 1), 2);
    const [first, second] = calibration.points;
    // a target between the two lowest points' recall: the second is the first to reach it
    const target = (first!.recall + second!.recall) / 2;
    const early = await calibrateNprobe(tier, rows, 2, { queries: 200, target });
    expect(early.target).toBe(target);
    expect(early.points).toEqual(calibration.points);
    expect(early.nprobe).toBe(Math.min(early.ceiling, second!.nprobe * TEXT_QUERY_MARGIN));
    expect(early.nprobe).toBeLessThan(calibration.nprobe);
    // a target nothing reaches leaves the tolerance rule: here, the ceiling
    const strict = await calibrateNprobe(tier, rows, 2, { queries: 200, target: 1 });
    expect(strict.nprobe).toBe(calibration.nprobe);
    await tier.close();
  }, 60_000);

  it('never lets a calibration read back (meta.json is data) leave [configured, ceiling]', async () => {
    const { tier, calibration } = await build(unitVectors(N + HELD_OUT, D, 7, 40), 2);
    const reopened = (nprobe: number, configured: number) =>
      new MainTier({
        kind: tier.kind,
        factory: tier.factory,
        index: tier.index,
        ids: tier.ids,
        store: tier.store,
        watermark: tier.watermark,
        params: { ...tier.params, nprobe: configured },
        calibration: { ...calibration, nprobe },
      }).params.nprobe;
    expect(reopened(1_000_000, 2)).toBe(calibration.ceiling);
    expect(reopened(1, 8)).toBe(8);
    expect(reopened(calibration.nprobe, 2)).toBe(calibration.nprobe);
    await tier.close();
  }, 60_000);

  it('never goes below the configured nprobe', async () => {
    const ceiling = defaultNprobe('IVF512,PQ16x4fs', 1);
    const { tier, calibration } = await build(unitVectors(N + HELD_OUT, D, 7, 40), ceiling);
    expect(calibration.points.map((p) => p.nprobe)).toEqual([ceiling]);
    expect(tier.params.nprobe).toBe(ceiling);
    await tier.close();
  }, 60_000);
});
