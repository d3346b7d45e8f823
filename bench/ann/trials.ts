import { loadavg } from 'node:os';
import { setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import { recallAtK } from '../../search-cluster/src/faiss/synthetic.ts';
import { log } from '../support/machine.ts';
import { percentile } from '../support/stats.ts';
import type { Row } from './report.ts';

/** One timed pass: the top-k ids of every query, each query's latency and the pass's wall time. */
export interface Trial {
  ids: BigInt64Array;
  latencies: Float64Array;
  wallMs: number;
}

export type Search = (query: Float32Array) => Promise<{ ids: BigInt64Array }>;

/** The shape of a pass: k ids per query of `dim` floats, and the passes a sweep point keeps the fastest of. */
export interface TrialShape {
  dim: number;
  k: number;
  repeats: number;
}

/** A sweep point's row from its fastest trial against the ground truth, logged as it is made. */
export function recordRow(
  base: Omit<Row, 'recall' | 'qps' | 'p50Ms' | 'p99Ms' | 'load1'>,
  truth: BigInt64Array,
  { ids: found, latencies, wallMs }: Trial,
  queries: number,
  K: number,
): Row {
  const sorted = Float64Array.from(latencies).sort();
  const row: Row = {
    ...base,
    recall: recallAtK(truth.subarray(0, queries * K), found, K),
    qps: (queries / wallMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    load1: loadavg()[0]!,
  };
  log(
    `${row.library} ${row.index} ${row.params} ${row.queries} t=${row.threads}: recall ${row.recall.toFixed(3)}, ` +
      `${row.qps.toFixed(0)} QPS, p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms`,
  );
  return row;
}

/** One timed pass: one query per call, `threads` calls in flight (each FAISS call uses one OpenMP thread). */
export async function faissTrial(
  search: Search,
  queries: Float32Array,
  count: number,
  threads: number,
  { dim: DIM, k: K }: TrialShape,
): Promise<Trial> {
  setFaissThreads(1);
  const ids = new BigInt64Array(count * K);
  const latencies = new Float64Array(count);
  let next = 0;
  const loop = async () => {
    while (next < count) {
      const q = next++;
      const started = performance.now();
      const result = await search(queries.subarray(q * DIM, (q + 1) * DIM));
      latencies[q] = performance.now() - started;
      ids.set(result.ids.subarray(0, K), q * K);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: threads }, loop));
  return { ids, latencies, wallMs: performance.now() - started };
}

/** A short warm-up, then the fastest of `repeats` passes. */
export async function timeFaiss(
  search: Search,
  queries: Float32Array,
  count: number,
  threads: number,
  shape: TrialShape,
): Promise<Trial> {
  await faissTrial(search, queries, Math.min(20, count), 1, shape);
  let best: Trial | undefined;
  for (let trial = 0; trial < shape.repeats; trial++) {
    const result = await faissTrial(search, queries, count, threads, shape);
    if (!best || result.wallMs < best.wallMs) best = result;
  }
  return best!;
}
