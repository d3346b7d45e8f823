/**
 * Soak: mixed uploads, searches and clicks against one single-node server (PGlite, in-process
 * shards, the in-process indexing worker with nsfwjs, every background job scheduled as
 * `npm start` runs them), over the real HTTP server, for --minutes. Per interval (default one
 * minute) it reports search and upload p99, RSS, heap and event-loop lag, and checks that they
 * stay flat:
 *
 *   npm run bench:soak                                  # 10 minutes, one sample a minute
 *   npm run bench:soak -- --minutes 2 --interval-s 20   # a short run
 *
 * Flat means, comparing the last third of the samples with the first third (the first sample is
 * warm-up and left out): RSS grows by at most --rss-growth-mib (default 96 MiB) or
 * --rss-growth-ratio (default 0.25) of the first third's, whichever is larger; search p99 and
 * event-loop lag p99 grow by at most --latency-ratio (default 2, lenient because the machine is
 * shared). A run that breaks a bound says FAILED in its results and exits 1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TINY_MODEL_VERSION } from '../api/src/encoder/registry.ts';
import { createServices } from '../api/src/services.ts';
import { seededRandom } from '../search-cluster/src/faiss/synthetic.ts';
import { COLOUR_NAMES, makeColourImage } from '../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { runStamp } from './support/flags.ts';
import { gitBuild, sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { benchConfig, postGraphQL, postMultipart, startServer } from './support/server.ts';
import { summarise } from './support/stats.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'interval-s': { type: 'string', default: '60' },
    /** uploads started per second */
    'upload-rate': { type: 'string', default: '2' },
    'search-concurrency': { type: 'string', default: '2' },
    /** clicks per second on a hit of a search just answered (the API allows one caller 60 a minute) */
    'click-rate': { type: 'string', default: '0.8' },
    'rss-growth-mib': { type: 'string', default: '96' },
    'rss-growth-ratio': { type: 'string', default: '0.25' },
    'latency-ratio': { type: 'string', default: '2' },
  },
});
const number = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`Expected a positive number for --${name} but received ${JSON.stringify(values[name])}`);
  }
  return n;
};
const settings = {
  minutes: number('minutes'),
  intervalS: number('interval-s'),
  uploadRate: number('upload-rate'),
  searchConcurrency: Math.floor(number('search-concurrency')),
  clickRate: number('click-rate'),
  rssGrowthMiB: number('rss-growth-mib'),
  rssGrowthRatio: number('rss-growth-ratio'),
  latencyRatio: number('latency-ratio'),
};

const UPLOAD = `mutation Upload($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id status } }
}`;
const SEARCH = `query Search($input: SearchInput!) {
  search(input: $input) { queryId hits { score image { id storageUrl } } }
}`;
const CLICK = `mutation RecordClick($queryId: ID!, $imageId: ID!) { recordClick(input: { queryId: $queryId, imageId: $imageId }) { ok } }`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 2 ** 20;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Window {
  searchMs: number[];
  uploadMs: number[];
  searches: number;
  uploads: number;
  clicks: number;
  errors: number;
  /** Errors by code (or message when uncoded). */
  errorCodes: Record<string, number>;
  /** Uploads not started because 8 were still in flight. */
  uploadsShed: number;
}
const emptyWindow = (): Window => ({
  searchMs: [],
  uploadMs: [],
  searches: 0,
  uploads: 0,
  clicks: 0,
  errors: 0,
  errorCodes: {},
  uploadsShed: 0,
});
function fail(w: Window, errors: { message: string; extensions?: { code?: string } }[] | undefined) {
  w.errors++;
  const first = errors?.[0];
  const code = first?.extensions?.code ?? first?.message.slice(0, 60) ?? 'no data';
  w.errorCodes[code] = (w.errorCodes[code] ?? 0) + 1;
}

async function main() {
  process.env.PIXELFIND_MODEL ??= TINY_MODEL_VERSION;
  await ensureTinyClip();
  const load = sampleLoad();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-soak-'));
  const config = benchConfig(dataDir, null, { INDEXER_IN_PROCESS: 'true' });
  const services = await createServices(config);
  const server = await startServer(services);
  services.worker!.start();
  console.error(
    `soak: ${settings.minutes} min, a sample every ${settings.intervalS} s, ${settings.uploadRate} uploads/s, ` +
      `${settings.searchConcurrency} search clients, ${settings.clickRate} clicks/s; server ${server.url}`,
  );

  const random = seededRandom(12);
  const words = [
    ...COLOUR_NAMES,
    ...COLOUR_NAMES.map((c) => `${c} top`),
    'red top blue bottom',
    'green left yellow right',
  ];
  let window = emptyWindow();
  let running = true;

  // uploads at a steady rate (at most 8 in flight): every image distinct (random colours per half)
  const inFlight = new Set<Promise<void>>();
  const uploadOne = async (i: number) => {
    const colour = () =>
      [0, 0, 0].map(() => Math.floor(random() * 256)) as unknown as readonly [number, number, number];
    const bytes = await makeColourImage({ top: colour(), bottom: colour(), format: 'png' });
    const t0 = performance.now();
    const answer = await postMultipart(
      server.url,
      UPLOAD,
      {},
      { bytes, type: 'image/png', name: `soak-${i}.png`, variable: 'file' },
    ).catch((error: Error) => ({ errors: [{ message: error.message }] }));
    window.uploads++;
    if (answer.errors) fail(window, answer.errors);
    else window.uploadMs.push(performance.now() - t0);
  };
  const uploader = (async () => {
    const started = performance.now();
    for (let i = 0; running; i++) {
      const wait = started + (i * 1000) / settings.uploadRate - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight.size >= 8) {
        window.uploadsShed++;
        continue;
      }
      const task = uploadOne(i).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await Promise.all([...inFlight]);
  })();

  // searches in a closed loop, and a click on a hit now and then
  let nextClickAt = 0;
  const searchers = Array.from({ length: settings.searchConcurrency }, async (_, lane) => {
    for (let n = lane; running; n += settings.searchConcurrency) {
      const t0 = performance.now();
      const answer = await postGraphQL<{ search: { queryId: string; hits: { image: { id: string } }[] } }>(
        server.url,
        SEARCH,
        { input: { text: words[n % words.length], limit: 20 } },
      ).catch((error: Error) => ({ errors: [{ message: error.message }], data: null }));
      window.searches++;
      if (answer.errors || !answer.data) {
        fail(window, answer.errors);
        continue;
      }
      window.searchMs.push(performance.now() - t0);
      const { queryId, hits } = answer.data.search;
      if (hits.length > 0 && performance.now() >= nextClickAt) {
        nextClickAt = performance.now() + 1000 / settings.clickRate;
        const clicked = await postGraphQL(server.url, CLICK, {
          queryId,
          imageId: hits[Math.floor(random() * hits.length)]!.image.id,
        }).catch((error: Error) => ({ errors: [{ message: error.message }] }));
        window.clicks++;
        if (clicked.errors) fail(window, clicked.errors);
      }
    }
  });

  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const samples: {
    minute: number;
    searches: number;
    searchP99Ms: number;
    uploads: number;
    uploadP99Ms: number;
    clicks: number;
    errors: number;
    errorCodes: Record<string, number>;
    uploadsShed: number;
    rssMiB: number;
    heapUsedMiB: number;
    loopLagP99Ms: number;
    loopLagMaxMs: number;
  }[] = [];
  const intervals = Math.max(1, Math.round((settings.minutes * 60) / settings.intervalS));
  for (let i = 1; i <= intervals; i++) {
    await sleep(settings.intervalS * 1000);
    const w = window;
    window = emptyWindow();
    const memory = process.memoryUsage();
    samples.push({
      minute: round((i * settings.intervalS) / 60, 2),
      searches: w.searches,
      searchP99Ms: summarise(w.searchMs).p99,
      uploads: w.uploads,
      uploadP99Ms: summarise(w.uploadMs).p99,
      clicks: w.clicks,
      errors: w.errors,
      errorCodes: w.errorCodes,
      uploadsShed: w.uploadsShed,
      rssMiB: round(memory.rss / MiB),
      heapUsedMiB: round(memory.heapUsed / MiB),
      loopLagP99Ms: round(lag.percentile(99) / 1e6, 2),
      loopLagMaxMs: round(lag.max / 1e6, 2),
    });
    lag.reset();
    console.error(`  ${JSON.stringify(samples.at(-1))}`);
  }
  running = false;
  await Promise.all([uploader, ...searchers]);
  lag.disable();
  const loadSummary = load.stop();
  const workerCounts = services.worker!.counts();
  const indexed = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM images WHERE status = 'INDEXED'`,
  );
  const jobs = await services.jobs.repository.lastRuns({ limit: 1 });
  await server.close();
  await services.close();
  await rm(dataDir, { recursive: true, force: true });

  // flatness: the last third of the samples against the first third, the warm-up sample left out
  const steady = samples.slice(1);
  const third = Math.floor(steady.length / 3);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const checks: { measure: string; first: number; last: number; bound: string; ok: boolean }[] = [];
  if (third >= 1) {
    const first = steady.slice(0, third);
    const last = steady.slice(-third);
    const rssFirst = mean(first.map((s) => s.rssMiB));
    const rssLast = mean(last.map((s) => s.rssMiB));
    const rssAllowed = Math.max(settings.rssGrowthMiB, rssFirst * settings.rssGrowthRatio);
    checks.push({
      measure: 'RSS (MiB)',
      first: round(rssFirst),
      last: round(rssLast),
      bound: `growth <= ${round(rssAllowed)} MiB`,
      ok: rssLast - rssFirst <= rssAllowed,
    });
    for (const [measure, key, floor] of [
      ['search p99 (ms)', 'searchP99Ms', 20],
      ['event-loop lag p99 (ms)', 'loopLagP99Ms', 20],
    ] as const) {
      const a = mean(first.map((s) => s[key]));
      const b = mean(last.map((s) => s[key]));
      // a floor keeps a few milliseconds of noise on an idle measure from failing the run
      const allowed = Math.max(a, floor) * settings.latencyRatio;
      checks.push({
        measure,
        first: round(a),
        last: round(b),
        bound: `<= ${round(allowed)}`,
        ok: b <= allowed,
      });
    }
  }
  const judged = checks.length > 0;
  const flat = judged && checks.every((c) => c.ok);

  const totalCodes: Record<string, number> = {};
  for (const sample of samples) {
    for (const [code, n] of Object.entries(sample.errorCodes)) totalCodes[code] = (totalCodes[code] ?? 0) + n;
  }
  const stamp = runStamp('bench:soak', loadSummary);
  const build = gitBuild();
  const json = {
    ...stamp,
    build,
    load: loadSummary,
    configuration: {
      mode: 'single',
      database: 'pglite',
      cache: services.cache.kind,
      shards: `${services.cluster.shardCount} in-process`,
      modelVersion: services.encoder.modelVersion,
      nsfw: true,
      ...settings,
    },
    results: {
      samples,
      checks,
      verdict: judged ? (flat ? 'flat' : 'FAILED') : 'too short to judge (needs at least 4 samples)',
      imagesIndexed: indexed.rows[0]?.n ?? 0,
      worker: workerCounts,
      backgroundJobsRun: [...new Set(jobs.map((r) => r.job))],
    },
  };
  const { command, date, machine } = stamp;
  const md = `# Soak: mixed uploads, searches and clicks, single-node mode

Command: \`${command}\` (${date})

Build: ${build}.
Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ${machine.faiss}.
Load (1-minute average): ${loadSummary.atStart} at start, mean ${loadSummary.mean}, max ${loadSummary.max}, ${loadSummary.atEnd} at end on
${machine.cpus} cores. **The machine is shared with other engineers' work: the latencies are from a loaded machine**;
this process used ${loadSummary.processCpuPercent}% of the machine's CPU.

Load generated: ${settings.uploadRate} uploads per second (distinct 64x64 PNGs, two random colours), ${settings.searchConcurrency}
clients searching by text in a closed loop, ${settings.clickRate} clicks per second on a random hit of a search just answered (under the
API's 60 clicks a minute per caller); PGlite,
${services.cluster.shardCount} in-process shards, model \`${services.encoder.modelVersion}\`, in-process worker with nsfwjs,
the background jobs scheduled as \`npm start\` schedules them. One sample every ${settings.intervalS} s; sample 1 is warm-up.

${table(
  [
    'minute',
    'searches',
    'search p99 ms',
    'uploads',
    'upload p99 ms',
    'clicks',
    'errors',
    'RSS MiB',
    'heap MiB',
    'loop lag p99 ms',
    'loop lag max ms',
  ],
  samples.map((s) => [
    s.minute,
    s.searches,
    s.searchP99Ms,
    s.uploads,
    s.uploadP99Ms,
    s.clicks,
    s.errors,
    s.rssMiB,
    s.heapUsedMiB,
    s.loopLagP99Ms,
    s.loopLagMaxMs,
  ]),
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
)}

Bounds (last third of the samples against the first third, warm-up left out): RSS grows by at most
${settings.rssGrowthMiB} MiB or ${settings.rssGrowthRatio * 100}% of the first third's, whichever is larger; search p99 and event-loop
lag p99 by at most ${settings.latencyRatio}x (of at least 20 ms).

${
  judged
    ? table(
        ['measure', 'first third', 'last third', 'bound', 'ok'],
        checks.map((c) => [c.measure, c.first, c.last, c.bound, c.ok ? 'yes' : 'NO']),
      )
    : 'Too few samples to judge flatness.'
}

Errors by code over the run: ${JSON.stringify(totalCodes)}; uploads shed (8 in flight): ${samples.reduce((n, s) => n + s.uploadsShed, 0)}.

**Verdict: ${json.results.verdict}.** Images indexed: ${json.results.imagesIndexed}; worker: ${JSON.stringify(workerCounts)}.
`;
  const written = await writeResults('soak', json, md);
  console.error(md);
  console.error(`wrote ${written.join(', ')}`);
  if (judged && !flat) {
    console.error('SOAK FAILED: a measure grew beyond its bound (see the checks above)');
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
