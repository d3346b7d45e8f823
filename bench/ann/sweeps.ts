import type { FaissIndex } from '../../search-cluster/src/faiss/faiss-index.ts';
import { searchRescored, type VectorFile } from '../../search-cluster/src/faiss/vector-file.ts';
import type { Peer, RescoredFamily } from './builds.ts';
import { PeerPool } from './peer-pool.ts';
import type { QuerySet, Row } from './report.ts';
import type { AnnSettings } from './settings.ts';
import { faissTrial, recordRow, type Search, type Trial, timeFaiss } from './trials.ts';

/** Every index the sweeps search, and what they are checked against. */
export interface SweepTargets {
  querySets: Record<QuerySet, Float32Array>;
  truth: Record<QuerySet, BigInt64Array>;
  /** Our fp32 HNSW, when `--families` has it. */
  hnsw: FaissIndex | undefined;
  peers: Peer[];
  rescored: RescoredFamily[];
  vectorFile: VectorFile;
}

/**
 * Every sweep point of every index at every thread count, for both query sets. The HNSW libraries
 * take turns at every sweep point, trial by trial, so that other work on a shared machine falls
 * on all of them alike.
 */
export async function sweepRows(
  settings: AnnSettings,
  { querySets, truth, hnsw, peers, rescored, vectorFile }: SweepTargets,
): Promise<Row[]> {
  const { queries: NQ, k: K, m: M, repeats: REPEATS, threads: THREADS, ef: efs } = settings;
  const poolOptions = { ...settings, querySets };
  const rows: Row[] = [];
  const record = (...args: Parameters<typeof recordRow>) => rows.push(recordRow(...args));
  for (const threads of THREADS) {
    const pools = await Promise.all(
      peers.map((peer) => PeerPool.start(peer.kind, peer.path, threads, poolOptions)),
    );
    try {
      for (const set of ['image', 'text'] as const) {
        for (const efSearch of pools.length > 0 || hnsw ? efs : []) {
          const search: Search | undefined = hnsw && ((q) => hnsw.search(q, K, { efSearch }));
          if (search) await faissTrial(search, querySets[set], 20, 1, settings);
          for (const pool of pools) await pool.trial(efSearch, set, 20);
          const names = [
            ...(hnsw
              ? [{ library: 'pixelfind-faiss', index: `HNSW${M}`, params: `efSearch=${efSearch}` }]
              : []),
            ...peers.map((peer) => ({ library: peer.library, index: peer.index, params: `ef=${efSearch}` })),
          ];
          const best: Array<Trial | undefined> = names.map(() => undefined);
          for (let trial = 0; trial < REPEATS; trial++) {
            const results = search ? [await faissTrial(search, querySets[set], NQ, threads, settings)] : [];
            for (const pool of pools) results.push(await pool.trial(efSearch, set));
            results.forEach((result, i) => {
              if (!best[i] || result.wallMs < best[i]!.wallMs) best[i] = result;
            });
          }
          names.forEach((name, i) => {
            record({ ...name, queries: set, threads }, truth[set], best[i]!, NQ, K);
          });
        }
        for (const family of rescored) {
          for (const point of family.sweep) {
            const timed = await timeFaiss(
              (q) => searchRescored(family.index, vectorFile, q, K, point.options),
              querySets[set],
              NQ,
              threads,
              settings,
            );
            const row = { library: 'pixelfind-faiss', index: family.name, params: point.params };
            record({ ...row, queries: set, threads }, truth[set], timed, NQ, K);
          }
        }
      }
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
    }
  }
  return rows;
}
