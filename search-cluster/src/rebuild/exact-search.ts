import { FaissIndex } from '../faiss/faiss-index.ts';
import type { Hit } from '../shard/topk.ts';
import { mergeTopK } from '../shard/topk.ts';
import type { VectorRecord } from './vector-source.ts';

/** Rows of one chunk: `ids[i]` owns row i of `vectors`. */
interface Chunk {
  ids: BigInt64Array;
  vectors: Float32Array;
}

/**
 * Exact top k of each query over chunks of rows: each chunk a FAISS Flat index searched on the
 * libuv pool (the event loop only copies), its hits merged into the best so far, so memory stays
 * bounded by one chunk.
 */
async function exactTopKOfChunks(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  queries: readonly Float32Array[],
  k: number,
): Promise<Hit[][]> {
  if (queries.length === 0) return [];
  const d = queries[0]!.length;
  const packed = new Float32Array(queries.length * d);
  for (const [i, q] of queries.entries()) packed.set(q, i * d);
  let best: Hit[][] = queries.map(() => []);
  for await (const { ids, vectors } of chunks) {
    if (ids.length === 0) continue;
    const index = FaissIndex.create(d, 'Flat');
    try {
      await index.add(vectors.subarray(0, ids.length * d), ids);
      const per = Math.min(k, ids.length);
      const found = await index.search(packed, per);
      best = best.map((current, q) => {
        const chunkHits: Hit[] = [];
        for (let j = 0; j < per; j++) {
          const id = found.ids[q * per + j]!;
          if (id >= 0n) chunkHits.push({ id, score: found.distances[q * per + j]! });
        }
        return mergeTopK([current, chunkHits], k);
      });
    } finally {
      index.close();
    }
  }
  return best;
}

/**
 * Exact top k of each query over a stream of vectors of record: the ground truth a recall
 * measurement compares the serving path with. Records of another dimension are skipped; the
 * answers do not depend on what any shard holds.
 */
export function exactTopK(
  records: AsyncIterable<VectorRecord>,
  queries: readonly Float32Array[],
  k: number,
  { chunk = 20_000 }: { chunk?: number } = {},
): Promise<Hit[][]> {
  const d = queries[0]?.length ?? 0;
  async function* chunks(): AsyncGenerator<Chunk> {
    let ids: bigint[] = [];
    let vectors = new Float32Array(chunk * d);
    for await (const record of records) {
      if (record.vector.length !== d) continue;
      vectors.set(record.vector, ids.length * d);
      ids.push(record.id);
      if (ids.length === chunk) {
        yield { ids: BigInt64Array.from(ids), vectors };
        ids = [];
        vectors = new Float32Array(chunk * d);
      }
    }
    yield { ids: BigInt64Array.from(ids), vectors };
  }
  return exactTopKOfChunks(chunks(), queries, k);
}

/** exactTopK over rows already in memory (`ids[i]` owns row i of `vectors`), a chunk at a time. */
export function exactTopKOfRows(
  ids: BigInt64Array,
  vectors: Float32Array,
  queries: readonly Float32Array[],
  k: number,
  { chunk = 50_000 }: { chunk?: number } = {},
): Promise<Hit[][]> {
  const d = queries[0]?.length ?? 0;
  const chunks: Chunk[] = [];
  for (let start = 0; start < ids.length; start += chunk) {
    const end = Math.min(ids.length, start + chunk);
    chunks.push({ ids: ids.subarray(start, end), vectors: vectors.subarray(start * d, end * d) });
  }
  return exactTopKOfChunks(chunks, queries, k);
}
