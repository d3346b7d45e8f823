import { Worker } from 'node:worker_threads';
import type { QuerySet } from './report.ts';
import type { Trial } from './trials.ts';

/** What every peer worker is told: the index's shape, the query sets, and the queries per set. */
export interface PeerPoolOptions {
  querySets: Record<QuerySet, Float32Array>;
  dim: number;
  m: number;
  efConstruction: number;
  k: number;
  queries: number;
}

interface WorkerReply {
  latencies: Float64Array;
  ids: BigInt64Array;
  rows: Int32Array;
}

/** `threads` worker threads searching one peer library's saved index (see peer-worker.mjs). */
export class PeerPool {
  private constructor(
    private readonly workers: Worker[],
    private readonly options: PeerPoolOptions,
  ) {}

  static async start(
    kind: string,
    path: string,
    threads: number,
    options: PeerPoolOptions,
  ): Promise<PeerPool> {
    const { querySets, dim: DIM, m: M, efConstruction: EF_CONSTRUCTION, k: K } = options;
    const shared: Record<string, SharedArrayBuffer> = {};
    for (const set of ['image', 'text'] as const) {
      const buffer = new SharedArrayBuffer(querySets[set].byteLength);
      new Float32Array(buffer).set(querySets[set]);
      shared[set] = buffer;
    }
    const workers = await Promise.all(
      Array.from({ length: threads }, (_, worker) => {
        const w = new Worker(new URL('./peer-worker.mjs', import.meta.url), {
          workerData: {
            library: kind,
            path,
            dimension: DIM,
            connectivity: M,
            efConstruction: EF_CONSTRUCTION,
            k: K,
            worker,
            workers: threads,
            querySets: shared,
          },
        });
        return new Promise<Worker>((resolve, reject) => {
          w.once('message', () => resolve(w));
          w.once('error', reject);
        });
      }),
    );
    return new PeerPool(workers, options);
  }

  /** One timed pass; all threads start together. `limit` makes a short warm-up pass. */
  async trial(ef: number, set: QuerySet, limit?: number): Promise<Trial> {
    const { queries: NQ, k: K } = this.options;
    await Promise.all(this.workers.map((w) => ask(w, { type: 'run', ef, set, limit })));
    const started = performance.now();
    const parts = await Promise.all(this.workers.map((w) => ask(w, { type: 'go' })));
    const wallMs = performance.now() - started;
    const ids = new BigInt64Array(NQ * K);
    const latencies = new Float64Array(NQ);
    for (const part of parts) {
      part.rows.forEach((q, i) => {
        latencies[q] = part.latencies[i]!;
        ids.set(part.ids.subarray(i * K, (i + 1) * K), q * K);
      });
    }
    return { ids, latencies, wallMs };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function ask(w: Worker, message: unknown): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    w.once('error', onError);
    w.once('message', (reply: WorkerReply) => {
      w.off('error', onError);
      resolve(reply);
    });
    w.postMessage(message);
  });
}
