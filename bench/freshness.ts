/**
 * Freshness: seconds from an upload request until a search finds the image, in single-node mode
 * (PGlite, or a scratch database on the Postgres server at DATABASE_URL when set), in-process
 * shards and the in-process indexing worker with nsfwjs on, as `npm start` runs them, over the
 * real HTTP server, while a background loop keeps searching.
 *
 *   npm run bench:freshness                          # 200 uploads, 2 per second
 *   npm run bench:freshness -- --uploads 50 --rate 0 # 50 uploads back to back
 *
 * Searchable means: `search(input: { imageId })` (a search by the image's own stored embedding,
 * limit 100) returns the image among its hits. One poll loop asks `images(ids) { status }` for
 * every pending upload each --poll-ms and runs that search for each image seen INDEXED, so a
 * time is an upper bound, late by at most about one poll round.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TINY_MODEL_VERSION } from '../api/src/encoder/registry.ts';
import { createServices } from '../api/src/services.ts';
import {
  COLOUR_NAMES,
  type ColourImageSpec,
  type ColourName,
  makeColourImage,
  PALETTE,
} from '../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { createScratchDatabase } from './support/database.ts';
import { runStamp, stampMarkdown } from './support/flags.ts';
import { cpuMeter, sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { benchConfig, postGraphQL, postMultipart, runClosedLoop, startServer } from './support/server.ts';
import { summarise } from './support/stats.ts';

const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '200' },
    /** uploads started per second; 0 = each right after the previous upload request returns */
    rate: { type: 'string', default: '2' },
    'search-concurrency': { type: 'string', default: '2' },
    'poll-ms': { type: 'string', default: '100' },
    'timeout-s': { type: 'string', default: '60' },
  },
});
const positive = (name: string, raw: string, allowZero = false) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new Error(`Expected a positive number for --${name} but received ${JSON.stringify(raw)}`);
  }
  return n;
};
const settings = {
  uploads: Math.floor(positive('uploads', values.uploads)),
  rate: positive('rate', values.rate, true),
  searchConcurrency: Math.floor(positive('search-concurrency', values['search-concurrency'], true)),
  pollMs: positive('poll-ms', values['poll-ms']),
  timeoutS: positive('timeout-s', values['timeout-s']),
};

const UPLOAD = `mutation Upload($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id status } }
}`;
const POLL = `query Poll($ids: [ID!]!) { images(ids: $ids) { status } }`;
const FIND = `query Find($id: ID!) { search(input: { imageId: $id, limit: 100 }) { hits { image { id } } } }`;
const BACKGROUND = `query Search($input: SearchInput!) {
  search(input: $input) { queryId tookMs hits { score image { id width height storageUrl } } }
}`;

// magenta is the tiny model's "unsafe" colour: such uploads are REJECTED and never searchable
const SAFE: ColourName[] = COLOUR_NAMES.filter((c) => c !== 'magenta');

/** Solid colours and two-colour halves in both orders and both directions: 9 + 144 specs. */
function specs(): { spec: ColourImageSpec; words: string }[] {
  const out: { spec: ColourImageSpec; words: string }[] = SAFE.map((colour) => ({
    spec: { colour },
    words: colour,
  }));
  for (const a of SAFE) {
    for (const b of SAFE) {
      if (a === b) continue;
      out.push({ spec: { top: a, bottom: b }, words: `${a} top ${b} bottom` });
      out.push({ spec: { left: a, right: b }, words: `${a} left ${b} right` });
    }
  }
  return out;
}

/** The i-th upload: a spec, with its colours nudged by a few levels after the first lap so every file is distinct. */
function imageSpec(i: number, all: { spec: ColourImageSpec; words: string }[]): ColourImageSpec {
  const { spec } = all[i % all.length]!;
  const lap = Math.floor(i / all.length);
  if (lap === 0) return spec;
  const nudge = (c: ColourImageSpec['colour']) => {
    if (c === undefined || typeof c !== 'string') return c;
    return PALETTE[c].map((v) => (v > 127 ? v - 3 * lap : v + 3 * lap)) as unknown as readonly [
      number,
      number,
      number,
    ];
  };
  return {
    colour: nudge(spec.colour),
    top: nudge(spec.top),
    bottom: nudge(spec.bottom),
    left: nudge(spec.left),
    right: nudge(spec.right),
  };
}

interface UploadResult {
  index: number;
  id: string | null;
  /** upload request start to its response, ms */
  uploadMs: number;
  /** upload request start to the first poll that saw INDEXED, s */
  indexedS: number | null;
  /** upload request start to the first search that returned it, s */
  searchableS: number | null;
  outcome: 'searchable' | 'rejected' | 'failed' | 'timeout' | 'upload-error';
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  process.env.PIXELFIND_MODEL ??= TINY_MODEL_VERSION;
  await ensureTinyClip();
  const load = sampleLoad();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-freshness-'));
  const scratch = process.env.DATABASE_URL ? await createScratchDatabase(process.env.DATABASE_URL) : null;
  const config = benchConfig(dataDir, scratch?.url ?? null, { INDEXER_IN_PROCESS: 'true' });
  const services = await createServices(config);
  const server = await startServer(services);
  services.worker!.start();
  const database = scratch ? `postgres (scratch database ${scratch.name})` : 'pglite';
  console.error(
    `freshness: ${settings.uploads} uploads, ${database}, model ${services.encoder.modelVersion}, server ${server.url}`,
  );

  const all = specs();
  const images = await Promise.all(
    Array.from({ length: settings.uploads + 3 }, (_, i) =>
      makeColourImage({ ...imageSpec(i, all), format: 'png' }),
    ),
  );
  const vocabulary = all.map((s) => s.words);

  // background searches: a closed loop of text queries until the uploads are all settled
  let searching = true;
  const searchMs: number[] = [];
  let searchErrors = 0;
  const background = Array.from({ length: settings.searchConcurrency }, async (_, lane) => {
    for (let n = lane; searching; n += settings.searchConcurrency) {
      const started = performance.now();
      const body = await postGraphQL(server.url, BACKGROUND, {
        input: { text: vocabulary[n % vocabulary.length], limit: 20 },
      }).catch((error: Error) => ({ errors: [{ message: error.message }] }));
      if (body.errors) searchErrors++;
      else searchMs.push(performance.now() - started);
    }
  });

  /** Uploads one image; the upload request has returned when this resolves. */
  async function upload(index: number, bytes: Buffer) {
    const started = performance.now();
    const up = await postMultipart<{ uploadImage: { image: { id: string } } }>(
      server.url,
      UPLOAD,
      {},
      { bytes, type: 'image/png', name: `bench-${index}.png`, variable: 'file' },
    ).catch((error: Error) => ({ errors: [{ message: error.message }], data: null }));
    return {
      index,
      started,
      uploadMs: performance.now() - started,
      id: up.data?.uploadImage.image.id ?? null,
      error: up.errors?.[0]?.message,
    };
  }

  /**
   * One poll loop for every upload in flight, so that a growing backlog does not multiply the poll
   * traffic: each round asks the status of all pending images in one `images(ids)` request, then
   * runs the imageId search once for each image seen INDEXED and not yet found.
   */
  interface Pending {
    uploaded: Awaited<ReturnType<typeof upload>>;
    indexedS: number | null;
    done: (result: UploadResult) => void;
  }
  const pending = new Map<string, Pending>();
  let polling = true;
  const finish = (p: Pending, outcome: UploadResult['outcome'], searchableS: number | null) => {
    const { index, id, uploadMs } = p.uploaded;
    pending.delete(id!);
    p.done({ index, id, uploadMs, indexedS: p.indexedS, searchableS, outcome });
  };
  const pollLoop = (async () => {
    while (polling) {
      const round = performance.now();
      const unindexed = [...pending.values()].filter((p) => p.indexedS === null);
      for (let start = 0; start < unindexed.length; start += 100) {
        const chunk = unindexed.slice(start, start + 100);
        const body = await postGraphQL<{ images: ({ status: string } | null)[] }>(server.url, POLL, {
          ids: chunk.map((p) => p.uploaded.id),
        }).catch(() => null);
        const seenAt = performance.now();
        chunk.forEach((p, k) => {
          const status = body?.data?.images[k]?.status;
          if (status === 'REJECTED' || status === 'FAILED')
            finish(p, status === 'REJECTED' ? 'rejected' : 'failed', null);
          else if (status === 'INDEXED') p.indexedS = (seenAt - p.uploaded.started) / 1000;
        });
      }
      for (const p of [...pending.values()]) {
        const id = p.uploaded.id!;
        if (p.indexedS !== null) {
          const found = await postGraphQL<{ search: { hits: { image: { id: string } }[] } }>(
            server.url,
            FIND,
            { id },
          ).catch(() => null);
          if (found?.data?.search.hits.some((h) => h.image.id === id)) {
            finish(p, 'searchable', (performance.now() - p.uploaded.started) / 1000);
            continue;
          }
        }
        if ((performance.now() - p.uploaded.started) / 1000 > settings.timeoutS) finish(p, 'timeout', null);
      }
      const wait = settings.pollMs - (performance.now() - round);
      if (wait > 0) await sleep(wait);
    }
  })();

  /** Resolves when the uploaded image is searchable, rejected, failed or out of time. */
  function watch(uploaded: Awaited<ReturnType<typeof upload>>): Promise<UploadResult> {
    const { index, id, uploadMs, error } = uploaded;
    if (!id)
      return Promise.resolve({
        index,
        id,
        uploadMs,
        indexedS: null,
        searchableS: null,
        outcome: 'upload-error',
        error,
      });
    return new Promise((done) => pending.set(id, { uploaded, indexedS: null, done }));
  }

  // warm-up (not measured): the first uploads pay for JIT, model sessions and the first batches
  await runClosedLoop(3, 3, async (i) => {
    await watch(await upload(-1 - i, images[settings.uploads + i]!));
  });

  const measuredStart = performance.now();
  const cpu = cpuMeter();
  const watchers: Promise<UploadResult>[] = [];
  for (let i = 0; i < settings.uploads; i++) {
    if (settings.rate > 0) {
      const due = measuredStart + (i * 1000) / settings.rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const uploading = upload(i, images[i]!);
    watchers.push(uploading.then(watch));
    // back to back: the next upload starts when this one's request has returned
    if (settings.rate === 0) await uploading;
    if ((i + 1) % 25 === 0) console.error(`  started ${i + 1}/${settings.uploads} uploads`);
  }
  const results = await Promise.all(watchers);
  const measuredS = (performance.now() - measuredStart) / 1000;
  const measuredCpu = cpu.stop(settings.uploads);
  searching = false;
  polling = false;
  await Promise.all([...background, pollLoop]);
  const loadSummary = load.stop();
  const workerCounts = services.worker!.counts();

  await server.close();
  await services.close();
  await scratch?.drop();
  await rm(dataDir, { recursive: true, force: true });

  const searchable = results.filter((r) => r.outcome === 'searchable');
  const bySeconds = summarise(
    searchable.map((r) => r.searchableS!),
    3,
  );
  const indexed = summarise(
    results.filter((r) => r.indexedS !== null).map((r) => r.indexedS!),
    3,
  );
  const uploadMs = summarise(results.map((r) => r.uploadMs));
  const background_ = summarise(searchMs);
  const counts = Object.fromEntries(
    ['searchable', 'rejected', 'failed', 'timeout', 'upload-error'].map((o) => [
      o,
      results.filter((r) => r.outcome === o).length,
    ]),
  );
  const targetMet = counts.searchable === settings.uploads && bySeconds.p99 < 5;

  const stamp = runStamp('bench:freshness', loadSummary);
  const json = {
    ...stamp,
    configuration: {
      mode: 'single',
      database,
      cache: services.cache.kind,
      shards: `${services.cluster.shardCount} in-process`,
      modelVersion: services.encoder.modelVersion,
      nsfw: true,
      indexer: config.indexer,
      uploads: settings.uploads,
      uploadRatePerSecond: settings.rate === 0 ? 'back to back' : settings.rate,
      backgroundSearchConcurrency: settings.searchConcurrency,
      pollMs: settings.pollMs,
      timeoutSeconds: settings.timeoutS,
      image: '64x64 PNG, solid colour or two halves (no magenta)',
      searchableMeans: 'search(input: { imageId, limit: 100 }) returns the image',
    },
    results: {
      outcomes: counts,
      uploadToSearchableSeconds: bySeconds,
      uploadToIndexedSeconds: indexed,
      uploadRequestMs: uploadMs,
      backgroundSearchMs: { ...background_, errors: searchErrors },
      measuredSeconds: Math.round(measuredS * 10) / 10,
      measuredPhaseProcessCpuPercent: measuredCpu.processCpuPercent,
      worker: workerCounts,
      target: { p99SecondsUnder: 5, met: targetMet },
    },
    perUpload: results.map((r) => ({
      index: r.index,
      id: r.id,
      uploadMs: Math.round(r.uploadMs * 10) / 10,
      indexedS: r.indexedS === null ? null : Math.round(r.indexedS * 1000) / 1000,
      searchableS: r.searchableS === null ? null : Math.round(r.searchableS * 1000) / 1000,
      outcome: r.outcome,
      ...(r.error ? { error: r.error } : {}),
    })),
  };

  const md = `# Freshness benchmark: upload to searchable

${stampMarkdown(stamp)}

Configuration: single-node mode, ${database}, ${services.cache.kind} cache, ${services.cluster.shardCount} in-process shards,
model \`${services.encoder.modelVersion}\`, in-process indexing worker (batch ${config.indexer.batchSize}) with nsfwjs on,
the real HTTP server on 127.0.0.1. ${settings.uploads} distinct 64x64 PNGs uploaded over HTTP multipart
(${settings.rate === 0 ? 'back to back' : `${settings.rate} per second`}) after 3 unmeasured warm-up uploads, while ${settings.searchConcurrency}
clients search by text in a closed loop.

Searchable means \`search(input: { imageId, limit: 100 })\` returns the image. One poll loop asks
\`images(ids) { status }\` for all pending uploads every ${settings.pollMs} ms and runs that search for each image seen
INDEXED, so a time is late by at most about one poll round.

${table(
  ['measure', 'count', 'p50', 'p90', 'p99', 'max'],
  [
    ['upload to searchable (s)', bySeconds.count, bySeconds.p50, bySeconds.p90, bySeconds.p99, bySeconds.max],
    ['upload to INDEXED seen (s)', indexed.count, indexed.p50, indexed.p90, indexed.p99, indexed.max],
    ['upload request (ms)', uploadMs.count, uploadMs.p50, uploadMs.p90, uploadMs.p99, uploadMs.max],
    [
      'background text search (ms)',
      background_.count,
      background_.p50,
      background_.p90,
      background_.p99,
      background_.max,
    ],
  ],
  [1, 2, 3, 4, 5],
)}

Outcomes: ${Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(
      ', ',
    )}; background search errors: ${searchErrors}. Measured phase: ${json.results.measuredSeconds} s, in which this process
used ${measuredCpu.processCpuPercent}% of the machine's CPU.

**Target p99 < 5 s: ${targetMet ? 'met' : 'not met'}** (p99 ${bySeconds.p99} s over ${bySeconds.count} of ${settings.uploads} uploads).
`;
  const written = await writeResults('freshness', json, md);
  console.error(md);
  console.error(`wrote ${written.join(', ')}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
