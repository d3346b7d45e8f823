/**
 * Re-index: how fast the shadow re-index re-embeds the library with the tiny model, what it
 * costs searches meanwhile, and whether promote and rollback fail any query. Single-node mode
 * (PGlite), in-process shards, in-process indexing worker and re-index runner, the real HTTP
 * server; a closed loop of text searches runs through every phase.
 *
 *   npm run bench:reindex                      # 300 images, 2 searching lanes
 *   npm run bench:reindex -- --images 100
 *
 * Phases: before (v1 ACTIVE, searches only, --before-s seconds), during (tiny-clip-v2 BUILDING
 * until READY), promote (v2 promoted while searching), rollback (back to v1 while searching).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createServices } from '../api/src/services.ts';
import { COLOUR_NAMES, makeColourImage } from '../test/fixtures/images/make-images.ts';
import { ensureTinyModels } from '../test/fixtures/tiny-clip/generate.ts';
import { positiveInt, runStamp, stampMarkdown } from './support/flags.ts';
import { sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { benchConfig, postGraphQL, postMultipart, startServer } from './support/server.ts';
import { summarise } from './support/stats.ts';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '300' },
    lanes: { type: 'string', default: '2' },
    'before-s': { type: 'string', default: '15' },
  },
});
const settings = {
  images: positiveInt('images', values.images),
  lanes: positiveInt('lanes', values.lanes),
  beforeS: positiveInt('before-s', values['before-s']),
};
const V1 = 'tiny-clip-v1';
const V2 = 'tiny-clip-v2';
const UPLOAD = `mutation Upload($file: Upload!) {
  uploadImage(input: { file: $file }) { image { id } } }`;
const SEARCH =
  'query($t: String!) { search(input: { text: $t, limit: 10 }) { modelVersion hits { image { id } } } }';

await ensureTinyModels();
const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-reindex-'));
const load = sampleLoad();
const config = benchConfig(dataDir, null, {
  INDEXER_IN_PROCESS: 'true',
  PIXELFIND_MODEL: V1,
  LIFECYCLE_AUTO_REINDEX: 'false',
  ALLOW_ANONYMOUS_UPLOADS: 'true',
});
const services = await createServices(config, { nsfw: false });
const server = await startServer(services);
services.worker?.start();
services.reindex.start();

try {
  // the library: distinct solid colours
  for (let i = 0; i < settings.images; i++) {
    if (i % 10 === 0) process.stderr.write(`[bench:reindex] uploading ${i}/${settings.images}\n`);
    const rgb = [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256] as const;
    const up = await postMultipart<{ uploadImage: { image: { id: string } } }>(
      server.url,
      UPLOAD,
      {},
      {
        bytes: await makeColourImage({ colour: rgb, size: 48 }),
        type: 'image/png',
        name: `${i}.png`,
        variable: 'file',
      },
    );
    if (up.errors) throw new Error(JSON.stringify(up.errors));
  }
  for (;;) {
    const { rows } = await services.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM images WHERE status = 'PENDING'`,
    );
    if (rows[0]!.n === 0) break;
    process.stderr.write(`[bench:reindex] ${rows[0]!.n} images still PENDING\n`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }

  /** Searches on `lanes` lanes until `until()` resolves; latencies (ms), failures, versions. */
  async function searchWhile(until: Promise<unknown>) {
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const ms: number[] = [];
    const failures: string[] = [];
    const versions = new Map<string, number>();
    await Promise.all(
      Array.from({ length: settings.lanes }, async (_, lane) => {
        let n = lane;
        while (!done) {
          const text = COLOUR_NAMES[n++ % COLOUR_NAMES.length]!;
          const started = performance.now();
          try {
            const answer = await postGraphQL<{ search: { modelVersion: string } }>(server.url, SEARCH, {
              t: text,
            });
            if (answer.errors || !answer.data) throw new Error(JSON.stringify(answer.errors));
            ms.push(performance.now() - started);
            const v = answer.data.search.modelVersion;
            versions.set(v, (versions.get(v) ?? 0) + 1);
          } catch (error) {
            failures.push(String(error).slice(0, 300));
          }
        }
      }),
    );
    return { ms, failures, versions: Object.fromEntries(versions) };
  }

  const phase = (name: string) =>
    process.stderr.write(`[bench:reindex] ${new Date().toISOString()} ${name}\n`);
  phase(`library of ${settings.images} images indexed`);
  const before = await searchWhile(new Promise((resolve) => setTimeout(resolve, settings.beforeS * 1000)));

  phase('before: done; re-index starts');
  const buildStarted = performance.now();
  await services.lifecycle.startReindex(V2);
  const built = (async () => {
    for (;;) {
      const v = await services.lifecycle.get(V2);
      if (v.state !== 'BUILDING') return v;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const during = await searchWhile(built);
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  const ready = await built;

  phase(`re-index ${ready.state} in ${Math.round(buildSeconds)} s; promote`);
  const promote = await searchWhile(
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await services.lifecycle.promoteIndex(V2);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    })(),
  );
  phase('rollback');
  const rollback = await searchWhile(
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await services.lifecycle.rollbackIndex();
      await new Promise((resolve) => setTimeout(resolve, 2000));
    })(),
  );
  const loadSummary = load.stop();

  const b = summarise(before.ms);
  const d = summarise(during.ms);
  const ratio = Math.round((d.p99 / b.p99) * 100) / 100;
  const imagesPerSecond = Math.round((ready.progress.total / buildSeconds) * 10) / 10;
  const stamp = runStamp('bench:reindex', loadSummary);
  const json = {
    ...stamp,
    configuration: {
      mode: 'single',
      database: 'pglite',
      shards: `${services.cluster.shardCount} in-process`,
      from: V1,
      to: V2,
      images: settings.images,
      searchLanes: settings.lanes,
      reindexBatchSize: config.lifecycle.reindexBatchSize,
      nsfw: false,
    },
    results: {
      reindex: {
        state: ready.state,
        images: ready.progress.total,
        seconds: Math.round(buildSeconds * 10) / 10,
        imagesPerSecond,
        evaluation: ready.evaluation,
      },
      searchMs: { before: b, during: d, p99Ratio: ratio, target: { ratioAtMost: 1.5, met: ratio <= 1.5 } },
      failedQueries: {
        before: before.failures.length,
        during: during.failures.length,
        promote: promote.failures.length,
        rollback: rollback.failures.length,
        target: { promoteAndRollback: 0, met: promote.failures.length + rollback.failures.length === 0 },
        examples: [...during.failures, ...promote.failures, ...rollback.failures].slice(0, 5),
      },
      servedBy: { promote: promote.versions, rollback: rollback.versions },
    },
  };
  const md = `# Re-index benchmark: shadow re-index, promote, rollback

${stampMarkdown(stamp)}
The machine is shared with other engineers' work: numbers from a loaded machine.

Configuration: single-node mode, PGlite, ${services.cluster.shardCount} in-process shards, the real HTTP server,
in-process indexing worker and re-index runner (batch ${config.lifecycle.reindexBatchSize}), nsfwjs off.
${settings.images} distinct 48x48 PNGs indexed with \`${V1}\`, then re-indexed to \`${V2}\` while
${settings.lanes} lanes search by colour name in a closed loop (the same load in every phase).

## Re-index

${table(
  ['images', 'seconds', 'images/s', 'state', 'golden R@10', 'ANN text', 'ANN image'],
  [
    [
      ready.progress.total,
      Math.round(buildSeconds * 10) / 10,
      imagesPerSecond,
      ready.state,
      String(ready.evaluation.goldenRecallAt10 ?? '-'),
      String(ready.evaluation.annRecallText ?? '-'),
      String(ready.evaluation.annRecallImage ?? '-'),
    ],
  ],
  [0, 1, 2],
)}

The time includes the evaluation (ANN recall against an exact search) that makes the version READY.

## Search latency (client side, ms)

${table(
  ['phase', 'searches', 'p50', 'p90', 'p99', 'max'],
  [
    ['before', b.count, b.p50, b.p90, b.p99, b.max],
    ['during re-index', d.count, d.p50, d.p90, d.p99, d.max],
  ],
  [1, 2, 3, 4, 5],
)}

p99 during / before: **${ratio}** (target <= 1.5: ${ratio <= 1.5 ? 'met' : 'not met'}).

## Failed queries

${table(
  ['phase', 'failed', 'served by'],
  [
    ['before', before.failures.length, JSON.stringify(before.versions)],
    ['during re-index', during.failures.length, JSON.stringify(during.versions)],
    ['promote', promote.failures.length, JSON.stringify(promote.versions)],
    ['rollback', rollback.failures.length, JSON.stringify(rollback.versions)],
  ],
  [1],
)}

Target: 0 failed queries during promote and rollback: ${json.results.failedQueries.target.met ? 'met' : 'not met'}.
`;
  const written = await writeResults('reindex', json, md);
  console.log(md);
  console.log(`wrote ${written.join(', ')}`);
} finally {
  await server.close();
  await services.close();
  await rm(dataDir, { recursive: true, force: true });
}
