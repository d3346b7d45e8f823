import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { mapConcurrent } from '../../../../search-cluster/src/index.ts';
import { loadCliConfig } from '../../config/config.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { type CliIo, table } from '../io.ts';
import { createServerClient, type ServerClient } from '../server-client.ts';
import { atK, type MeanScores, mean, queryTextOf } from './eval-metrics.ts';
import { listImageFiles } from './image-files.ts';
import { positiveFlag } from './ingest.ts';
import { ingestFiles } from './ingest-run.ts';
import { startProgress } from './progress-bar.ts';

export const EVAL_USAGE = `usage:
  pixelfind eval <labelled dir> [--k n] [--concurrency n] [--wait-timeout s] [--json]
  (each folder of <labelled dir> is a category; its images are uploaded if needed, then every
  folder name is searched as text and every image as a query (leave-one-out): precision@k and
  recall@k per category and overall, per model version)`;

const OPTIONS = {
  ...SERVER_FLAGS,
  k: { type: 'string' },
  concurrency: { type: 'string' },
  'wait-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SEARCH = `query CliEval($input: SearchInput!) { search(input: $input) { modelVersion hits { image { id } } } }`;

interface Scores {
  [category: string]: { images: number; text: MeanScores; image: MeanScores };
}

export interface EvalReport {
  k: number;
  /** One entry per model version that answered (normally one: the active model). */
  models: { modelVersion: string; categories: Scores; overall: { text: MeanScores; image: MeanScores } }[];
  /** Files not scored: not indexed (rejected, failed, still pending) or failed to upload. */
  skipped: { path: string; reason: string }[];
}

type Query = { category: string; kind: 'text' | 'image'; text?: string; imageId?: string };

async function runQueries(
  client: ServerClient,
  queries: readonly Query[],
  members: ReadonlyMap<string, ReadonlySet<string>>,
  k: number,
  concurrency: number,
  tick: () => void,
) {
  return mapConcurrent(queries, concurrency, async (query) => {
    const input =
      query.kind === 'text' ? { text: query.text, limit: k } : { imageId: query.imageId, limit: k + 1 };
    const { search } = await client.request<{
      search: { modelVersion: string; hits: { image: { id: string } }[] };
    }>(SEARCH, { input });
    tick();
    const category = members.get(query.category)!;
    // leave-one-out: the query image itself is neither a hit nor a relevant answer
    const hits = search.hits.map((h) => h.image.id).filter((id) => id !== query.imageId);
    const relevant = query.imageId ? new Set([...category].filter((id) => id !== query.imageId)) : category;
    return { query, modelVersion: search.modelVersion, score: atK(hits, relevant, k) };
  });
}

/** Uploads (if needed) and scores a labelled directory; see EVAL_USAGE. */
export async function evaluate(
  client: ServerClient,
  root: string,
  options: { k: number; concurrency: number; waitMs: number; io: CliIo },
): Promise<EvalReport> {
  const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    throw new CliFailure(`Cannot read ${root}: ${error.code ?? error}`);
  });
  const categories = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const files = (
    await Promise.all(
      categories.map(async (category) =>
        (await listImageFiles([path.join(root, category)])).map((file) => ({ ...file, category })),
      ),
    )
  ).flat();
  if (files.length === 0) throw new CliFailure(`No images in folders of ${root}`);

  const { io } = options;
  io.err(`${categories.length} categories, ${files.length} images`);
  let progress = startProgress(io.progress, files.length, 'upload');
  const outcomes = await ingestFiles(client, files, {
    concurrency: options.concurrency,
    tagsFromFolders: false,
    waitMs: options.waitMs,
    onFileDone: progress.tick,
  }).finally(progress.stop);

  const members = new Map(categories.map((c) => [c, new Set<string>()]));
  const owner = new Map<string, string>();
  const skipped: EvalReport['skipped'] = [];
  outcomes.forEach((outcome, i) => {
    const category = files[i]!.category;
    if (!outcome.imageId || outcome.status !== 'INDEXED') {
      skipped.push({
        path: outcome.file.path,
        reason: outcome.reason ?? `status ${outcome.status ?? 'none'}`,
      });
      return;
    }
    const first = owner.get(outcome.imageId);
    if (first && first !== category) {
      skipped.push({ path: outcome.file.path, reason: `the same bytes are in ${first}` });
      return;
    }
    owner.set(outcome.imageId, category);
    members.get(category)!.add(outcome.imageId);
  });

  const queries: Query[] = [];
  for (const [category, ids] of members) {
    if (ids.size === 0) continue;
    queries.push({ category, kind: 'text', text: queryTextOf(category) });
    // an image alone in its category has nothing to find
    if (ids.size > 1) for (const imageId of ids) queries.push({ category, kind: 'image', imageId });
  }
  progress = startProgress(io.progress, queries.length, 'search');
  const results = await runQueries(
    client,
    queries,
    members,
    options.k,
    options.concurrency,
    progress.tick,
  ).finally(progress.stop);

  const versions = [...new Set(results.map((r) => r.modelVersion))].sort();
  return {
    k: options.k,
    skipped,
    models: versions.map((modelVersion) => {
      const mine = results.filter((r) => r.modelVersion === modelVersion);
      const scoresOf = (kind: Query['kind'], category?: string) =>
        mean(
          mine
            .filter((r) => r.query.kind === kind && (category === undefined || r.query.category === category))
            .map((r) => r.score),
        );
      const scored: Scores = {};
      for (const [category, ids] of members) {
        if (ids.size === 0) continue;
        scored[category] = {
          images: ids.size,
          text: scoresOf('text', category),
          image: scoresOf('image', category),
        };
      }
      return {
        modelVersion,
        categories: scored,
        overall: { text: scoresOf('text'), image: scoresOf('image') },
      };
    }),
  };
}

const fixed = (value: number | null) => (value === null ? '-' : value.toFixed(3));

export async function evalCommand(args: string[], io: CliIo): Promise<void> {
  const { positionals, values } = parseCommandArgs(args, OPTIONS, EVAL_USAGE);
  if (values.help) {
    io.out(EVAL_USAGE);
    return;
  }
  if (positionals.length !== 1) throw new CliUsageError(`Expected one labelled directory\n${EVAL_USAGE}`);
  const k = positiveFlag('k', values.k, 5, 100);
  const concurrency = positiveFlag('concurrency', values.concurrency, 4, 64);
  const waitS = positiveFlag('wait-timeout', values['wait-timeout'], 600, 86_400);
  const cli = loadCliConfig(io.env, { url: values.url, key: values.key });
  const client = createServerClient(cli.url, cli.apiKey);
  const report = await evaluate(client, positionals[0]!, { k, concurrency, waitMs: waitS * 1000, io });

  if (values.json) {
    io.out(JSON.stringify(report, null, 2));
    return;
  }
  for (const skip of report.skipped) io.err(`not scored: ${skip.path}: ${skip.reason}`);
  for (const model of report.models) {
    io.out(`model ${model.modelVersion}, k = ${k}`);
    const row = (name: string, images: string, s: { text: MeanScores; image: MeanScores }) => [
      name,
      images,
      fixed(s.text.precision),
      fixed(s.text.recall),
      fixed(s.image.precision),
      fixed(s.image.recall),
    ];
    const rows = Object.entries(model.categories).map(([name, s]) => row(name, String(s.images), s));
    const total = Object.values(model.categories).reduce((n, s) => n + s.images, 0);
    rows.push(row('(overall)', String(total), model.overall));
    for (const line of table(
      ['CATEGORY', 'IMAGES', `TEXT P@${k}`, `TEXT R@${k}`, `IMAGE P@${k}`, `IMAGE R@${k}`],
      rows,
    ))
      io.out(line);
  }
}
