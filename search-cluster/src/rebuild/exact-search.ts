import { FaissIndex } from '../faiss/faiss-index.ts';
import type { Hit } from '../shard/topk.ts';
import { mergeTopK } from '../shard/topk.ts';
import type { VectorRecord } from './vector-source.ts';

/** Folds one chunk's exact top k (a FAISS Flat over the chunk, searched on the libuv pool) into `best`. */
async function foldChunk(
  best: Hit[][],
  packedQueries: Float32Array,
  d: number,
  vectors: Float32Array,
  ids: BigInt64Array,
  k: number,
): Promise<Hit[][]> {
  if (ids.length === 0) return best;
  const index = FaissIndex.create(d, 'Flat');
  try {
    await index.add(vectors.subarray(0, ids.length * d), ids);
    const per = Math.min(k, ids.length);
    const found = await index.search(packedQueries, per);
    return best.map((current, q) => {
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

function pack(queries: readonly Float32Array[], d: number): Float32Array {
  const packed = new Float32Array(queries.length * d);
  for (const [i, q] of queries.entries()) packed.set(q, i * d);
  return packed;
}

/**
 * Exact top k of each query over a stream of vectors of record: the ground truth a recall
 * measurement compares the serving path with. Works in chunks of `chunk` vectors, each a FAISS
 * Flat index searched on the libuv pool (the event loop only copies), so memory stays bounded
 * by one chunk and the answers do not depend on what any shard holds.
 */
export async function exactTopK(
  records: AsyncIterable<VectorRecord>,
  queries: readonly Float32Array[],
  k: number,
  { chunk = 20_000 }: { chunk?: number } = {},
): Promise<Hit[][]> {
  if (queries.length === 0) return [];
  const d = queries[0]!.length;
  const packed = pack(queries, d);
  let best: Hit[][] = queries.map(() => []);
  let ids: bigint[] = [];
  let vectors = new Float32Array(chunk * d);
  const flush = async () => {
    best = await foldChunk(best, packed, d, vectors, BigInt64Array.from(ids), k);
    ids = [];
    vectors = new Float32Array(chunk * d);
  };
  for await (const record of records) {
    if (record.vector.length !== d) continue;
    vectors.set(record.vector, ids.length * d);
    ids.push(record.id);
    if (ids.length === chunk) await flush();
  }
  await flush();
  return best;
}

/** exactTopK over rows already in memory (`ids[i]` owns row i of `vectors`), a chunk at a time. */
export async function exactTopKOfRows(
  ids: BigInt64Array,
  vectors: Float32Array,
  queries: readonly Float32Array[],
  k: number,
  { chunk = 50_000 }: { chunk?: number } = {},
): Promise<Hit[][]> {
  if (queries.length === 0) return [];
  const d = queries[0]!.length;
  const packed = pack(queries, d);
  let best: Hit[][] = queries.map(() => []);
  for (let start = 0; start < ids.length; start += chunk) {
    const end = Math.min(ids.length, start + chunk);
    best = await foldChunk(
      best,
      packed,
      d,
      vectors.subarray(start * d, end * d),
      ids.subarray(start, end),
      k,
    );
  }
  return best;
}
