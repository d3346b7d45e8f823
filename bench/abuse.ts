/**
 * Abuse: a legitimate text-search load (concurrency 8) alone, then with an attacker sending the
 * documents of issue 10 items 6 and 7 (same-name field merging, __typename floods, aliases,
 * fragment fan-out, 1,000 aliased searches, several imageUrl searches in one request, an
 * oversized JSON body). Reports the legitimate p50/p99 in both phases, their ratio (target < 2),
 * the attacker's answers, and the server's longest event-loop block (perf_hooks).
 *
 *   npm run bench:abuse                    # 30 s per phase
 *   npm run bench:abuse -- --seconds 10
 *
 * The server runs in this process on PGlite with the tiny model; both clients run in worker
 * threads. Loopback clients are exempt from the address rate limit in single mode, so what
 * stops the attacker here is the document and body limits, not the rate limits.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../api/src/config/config.ts';
import { TINY_MODEL_VERSION } from '../api/src/encoder/registry.ts';
import { createServices } from '../api/src/services.ts';
import { COLOUR_NAMES, makeColourImage } from '../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { ATTACKS } from '../test/reliability/attack-documents.ts';
import { positiveInts, runStamp } from './support/flags.ts';
import { sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { postMultipart, startServer } from './support/server.ts';
import { type Summary, summarise } from './support/stats.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '8' },
    attackers: { type: 'string', default: '2' },
  },
});
const settings = positiveInts(values, ['seconds', 'concurrency', 'attackers']);

const SEARCH = `query Search($input: SearchInput!) {
  search(input: $input) { queryId partial hits { score image { id width height } } }
}`;
const UPLOAD = `mutation Upload($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id } }
}`;
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

interface LoadResult {
  ms: number[];
  statuses: Record<string, number>;
  errors: number;
  firstError: string | null;
}

function runLoad(workerData: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./support/abuse-load-worker.mjs', import.meta.url), { workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function main() {
  process.env.PIXELFIND_MODEL ??= TINY_MODEL_VERSION;
  await ensureTinyClip();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-abuse-'));
  const config = loadConfig({
    PIXELFIND_MODE: 'single',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    INDEXER_IN_PROCESS: 'false',
    IMAGE_FETCH_ALLOW_HOSTS: '127.0.0.1',
    PIXELFIND_MODEL: process.env.PIXELFIND_MODEL,
  });
  const services = await createServices(config, { nsfw: false });
  const server = await startServer(services);

  // a local image host for the imageUrl attack, counting the fetches it serves
  const png = await makeColourImage({ colour: 'green' });
  let imageFetches = 0;
  const images = createServer((_req, res) => {
    imageFetches++;
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(png);
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  const imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/green.png`;

  // a small corpus: every palette colour at a few sizes
  const worker = await services.createWorker();
  for (const colour of COLOUR_NAMES)
    for (const size of [48, 64, 96]) {
      const up = await postMultipart(
        server.url,
        UPLOAD,
        {},
        {
          bytes: await makeColourImage({ colour, size, format: 'png' }),
          type: 'image/png',
          name: `${colour}.png`,
          variable: 'file',
        },
      );
      if (up.errors) throw new Error(JSON.stringify(up.errors));
    }
  while ((await worker.runBatch()).length > 0) {}
  await worker.stop();

  const legit = COLOUR_NAMES.map((colour) => ({
    body: JSON.stringify({ query: SEARCH, variables: { input: { text: colour, limit: 10 } } }),
    headers: JSON_HEADERS,
  }));
  const manySearches = `{ ${Array.from({ length: 1000 }, (_, i) => `s${i}: search(input: {text: "red"}) { queryId }`).join(' ')} }`;
  const manyFetches = `query($url: String!) { a: search(input: {imageUrl: $url}) { queryId } b: search(input: {imageUrl: $url}) { queryId } c: search(input: {imageUrl: $url}) { queryId } }`;
  const attack = [
    ...Object.values(ATTACKS).map((query) => ({ body: JSON.stringify({ query }), headers: JSON_HEADERS })),
    { body: JSON.stringify({ query: manySearches }), headers: JSON_HEADERS },
    { body: JSON.stringify({ query: manyFetches, variables: { url: imageUrl } }), headers: JSON_HEADERS },
    {
      body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(4 * 1024 * 1024) } }),
      headers: JSON_HEADERS,
    },
  ];

  const load = sampleLoad();
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const phase = async (withAttack: boolean) => {
    histogram.reset();
    histogram.enable();
    const rss = process.memoryUsage().rss;
    const fetchesBefore = imageFetches;
    const [good, bad] = await Promise.all([
      runLoad({
        url: server.url,
        seconds: settings.seconds,
        concurrency: settings.concurrency,
        documents: legit,
        expectData: true,
      }),
      withAttack
        ? runLoad({
            url: server.url,
            seconds: settings.seconds,
            concurrency: settings.attackers,
            documents: attack,
            expectData: false,
          })
        : null,
    ]);
    histogram.disable();
    return {
      latency: summarise(good.ms),
      legitErrors: good.errors,
      legitFirstError: good.firstError,
      attackerStatuses: bad?.statuses ?? {},
      attackerRequests: bad ? Object.values(bad.statuses).reduce((a, b) => a + b, 0) : 0,
      imageFetches: imageFetches - fetchesBefore,
      eventLoop: {
        maxMs: Math.round((histogram.max / 1e6) * 10) / 10,
        p99Ms: Math.round((histogram.percentile(99) / 1e6) * 10) / 10,
      },
      rssGrowthMiB: Math.round((process.memoryUsage().rss - rss) / 2 ** 20),
    };
  };

  console.error(
    `abuse: ${settings.seconds} s without attack, then ${settings.seconds} s with ${settings.attackers} attacker lanes`,
  );
  const baseline = await phase(false);
  const underAttack = await phase(true);
  const loadSummary = load.stop();
  const ratio = Math.round((underAttack.latency.p99 / baseline.latency.p99) * 100) / 100;

  const stamp = runStamp('bench:abuse', loadSummary);
  const { command, date, machine } = stamp;
  const json = {
    ...stamp,
    settings,
    baseline,
    underAttack,
    p99Ratio: ratio,
  };
  const row = (name: string, s: Summary) => [name, s.count, s.mean, s.p50, s.p90, s.p99, s.max];
  const md = `# bench:abuse

\`${command}\` on ${date}. Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}.
Load average (1 min) during the run: start ${loadSummary.atStart}, mean ${loadSummary.mean}, max ${loadSummary.max}
on ${machine.cpus} cores (a shared machine: numbers are pessimistic when the load exceeds the cores).

Legitimate load: text searches, concurrency ${settings.concurrency}, ${settings.seconds} s per phase. Attacker:
${settings.attackers} closed-loop lanes cycling through ${attack.length} documents (test/reliability/attack-documents.ts,
1,000 aliased searches, three imageUrl searches in one request, a 4 MiB JSON body).

${table(['legitimate latency (ms)', 'count', 'mean', 'p50', 'p90', 'p99', 'max'], [row('without attack', baseline.latency), row('with attack', underAttack.latency)], [1, 2, 3, 4, 5, 6])}

- p99 with attack / without: **${ratio}** (target < 2)
- Event loop, longest block: ${baseline.eventLoop.maxMs} ms without attack, **${underAttack.eventLoop.maxMs} ms** with (p99 ${underAttack.eventLoop.p99Ms} ms)
- Attacker requests: ${underAttack.attackerRequests}, answers by status: ${JSON.stringify(underAttack.attackerStatuses)}
- Outbound image fetches caused by the attacker: ${underAttack.imageFetches} (at most one per request)
- Legitimate errors: ${baseline.legitErrors} / ${underAttack.legitErrors}${underAttack.legitFirstError ? ` (first: ${underAttack.legitFirstError})` : ''}
- RSS growth during the attack phase: ${underAttack.rssGrowthMiB} MiB
`;
  const written = await writeResults('abuse', json, md);
  console.log(md);
  console.error(`written: ${written.join(', ')}`);
  await server.close();
  images.close();
  await services.close();
  await rm(dataDir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
