/**
 * Indexing end to end, as the indexing worker runs it: uploads go through the upload service
 * (blob written, row and job committed: not timed), then one worker drains the queue (claim,
 * blob read, CLIP encode, pHash, blocklist and twin checks, nsfwjs + concept safety gate, tags,
 * the record's transaction, the shard write, job completion) and the drain is timed. Single-node
 * services (in-process shards) on PGlite, or on a scratch database of the Postgres server at
 * `databaseUrl`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { modelsDirFrom, TINY_MODEL_VERSION } from '../../api/src/encoder/registry.ts';
import type { JobOutcome } from '../../api/src/indexing/indexing.worker.ts';
import { createServices } from '../../api/src/services.ts';
import { createScratchDatabase } from './database.ts';
import { cpuMeter } from './machine.ts';
import { benchConfig } from './server.ts';

export interface IndexRun {
  database: string;
  images: number;
  batchSize: number;
  seconds: number;
  imagesPerSecond: number;
  /** CPU of this process (every thread) per image; a Postgres server's own CPU is not in it */
  cpuMsPerImage: number;
  outcomes: Partial<Record<JobOutcome, number>>;
}

const asFile = (bytes: Buffer) => ({
  size: bytes.length,
  arrayBuffer: async () =>
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
});

/** Indexes `warmUp` images untimed (model first runs), then `images` timed. */
export async function measureIndexing(options: {
  images: Buffer[];
  warmUp: Buffer[];
  databaseUrl: string | null;
}): Promise<IndexRun> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-encode-'));
  const scratch = options.databaseUrl ? await createScratchDatabase(options.databaseUrl) : null;
  const config = benchConfig(dataDir, scratch?.url ?? null, {
    INDEXER_IN_PROCESS: 'false',
    PIXELFIND_MODEL: TINY_MODEL_VERSION,
    // the converted nsfwjs model is kept beside the other models, not converted again per run
    MODELS_DIR: modelsDirFrom(),
  });
  const services = await createServices(config);
  try {
    const worker = await services.createWorker();
    const upload = async (list: Buffer[], lane: string) => {
      for (const [i, bytes] of list.entries())
        await services.upload.upload({ file: asFile(bytes), uploaderId: `bench-${lane}-${i % 8}` });
    };
    const drain = async (outcomes: Partial<Record<JobOutcome, number>>) => {
      for (;;) {
        const batch = await worker.runBatch();
        if (batch.length === 0) return;
        for (const o of batch) outcomes[o] = (outcomes[o] ?? 0) + 1;
      }
    };
    await upload(options.warmUp, 'warm');
    await drain({});
    await upload(options.images, 'timed');
    const outcomes: Partial<Record<JobOutcome, number>> = {};
    const cpu = cpuMeter();
    const started = performance.now();
    await drain(outcomes);
    const seconds = (performance.now() - started) / 1000;
    const n = options.images.length;
    return {
      database: scratch ? `postgres (scratch database ${scratch.name})` : 'pglite',
      images: n,
      batchSize: config.indexer.batchSize,
      seconds: Math.round(seconds * 100) / 100,
      imagesPerSecond: Math.round((n / seconds) * 10) / 10,
      cpuMsPerImage: cpu.stop(n).cpuMsPerUnit,
      outcomes,
    };
  } finally {
    await services.close();
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
