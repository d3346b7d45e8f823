import cliProgress from 'cli-progress';
import { loadCliConfig } from '../../config/config.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { type CliIo, table } from '../io.ts';
import { createServerClient, type ServerClient } from '../server-client.ts';

export const REINDEX_USAGE = `usage:
  pixelfind reindex start <model> [--wait]    shadow re-index to a model version (progress bar with --wait)
  pixelfind reindex status [--watch] [--json] every version: state, progress, evaluation, traffic
  pixelfind reindex promote <model> [--force] make a READY version ACTIVE (the gate decides unless --force)
  pixelfind reindex rollback                  back to the PREVIOUS version
  pixelfind reindex traffic <model> <fraction> send a fraction of searches to a READY version
  pixelfind reindex cancel <model>            stop a re-index in progress
options: --url <server> (PIXELFIND_URL), --key <admin key> (PIXELFIND_API_KEY)`;

const OPTIONS = {
  ...SERVER_FLAGS,
  wait: { type: 'boolean' },
  watch: { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

interface VersionView {
  modelVersion: string;
  state: string;
  trafficFraction: number;
  progress: { done: number; total: number; etaSeconds: number | null };
  evaluation: {
    goldenRecallAt10: number | null;
    ndcgAt10: number | null;
    annRecallText: number | null;
    annRecallImage: number | null;
    goldenQueries: number;
  } | null;
  lastError: string | null;
}

const FIELDS = `modelVersion state trafficFraction lastError progress { done total etaSeconds }
  evaluation { goldenRecallAt10 ndcgAt10 annRecallText annRecallImage goldenQueries }`;

const num = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(3));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function list(client: ServerClient): Promise<VersionView[]> {
  return (
    await client.request<{ indexVersions: VersionView[] }>(
      `query CliIndexVersions { indexVersions { ${FIELDS} } }`,
    )
  ).indexVersions;
}

function printStatus(io: CliIo, versions: VersionView[]): void {
  for (const line of table(
    ['MODEL', 'STATE', 'PROGRESS', 'TRAFFIC', 'GOLDEN R@10', 'NDCG@10', 'ANN TEXT', 'ANN IMAGE', 'GOLDEN Q'],
    versions.map((v) => [
      v.modelVersion,
      v.state,
      `${v.progress.done}/${v.progress.total}`,
      v.trafficFraction ? v.trafficFraction.toFixed(2) : '-',
      num(v.evaluation?.goldenRecallAt10),
      num(v.evaluation?.ndcgAt10),
      num(v.evaluation?.annRecallText),
      num(v.evaluation?.annRecallImage),
      String(v.evaluation?.goldenQueries ?? '-'),
    ]),
  ))
    io.out(line);
}

/** A progress bar over one version until it leaves BUILDING; returns its final view. */
async function watchBuild(client: ServerClient, model: string): Promise<VersionView | null> {
  const bar = new cliProgress.SingleBar(
    { format: `${model} [{bar}] {value}/{total} images | ETA {eta_formatted}`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  try {
    for (;;) {
      const v = (await list(client)).find((x) => x.modelVersion === model) ?? null;
      if (v?.state !== 'BUILDING') return v;
      if (!started) {
        bar.start(Math.max(1, v.progress.total), v.progress.done);
        started = true;
      }
      bar.setTotal(Math.max(1, v.progress.total));
      bar.update(v.progress.done);
      await sleep(500);
    }
  } finally {
    if (started) bar.stop();
  }
}

/** `pixelfind reindex ...` against the running server's admin GraphQL. */
export async function reindexCommand(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, REINDEX_USAGE);
  const [action, model, fraction] = positionals;
  const config = loadCliConfig(io.env, {
    ...(values.url ? { url: values.url } : {}),
    ...(values.key ? { key: values.key } : {}),
  });
  const client = createServerClient(config.url, config.apiKey);
  const needModel = () => {
    if (!model)
      throw new CliUsageError(`pixelfind reindex ${action} needs a model version\n${REINDEX_USAGE}`);
    return model;
  };
  switch (action) {
    case 'start': {
      const m = needModel();
      const data = await client.request<{ startReindex: { indexVersion: VersionView } }>(
        `mutation CliStartReindex($m: String!) { startReindex(modelVersion: $m) { indexVersion { ${FIELDS} } } }`,
        { m },
      );
      io.err(`re-index to ${m} started (${data.startReindex.indexVersion.progress.total} images)`);
      if (values.wait) {
        const end = await watchBuild(client, m);
        if (end) printStatus(io, [end]);
        if (end?.state !== 'READY')
          throw new CliFailure(
            `${m} ended ${end?.state ?? 'missing'}${end?.lastError ? `: ${end.lastError}` : ''}`,
          );
      }
      return;
    }
    case 'status': {
      for (;;) {
        const versions = await list(client);
        if (values.json) io.out(JSON.stringify(versions, null, 2));
        else printStatus(io, versions);
        const building = versions.find((v) => v.state === 'BUILDING');
        if (!values.watch || !building) return;
        await watchBuild(client, building.modelVersion);
      }
    }
    case 'promote': {
      const m = needModel();
      const data = await client.request<{ promoteIndex: { indexVersion: VersionView } }>(
        `mutation CliPromoteIndex($m: String!, $f: Boolean) { promoteIndex(modelVersion: $m, force: $f) { indexVersion { ${FIELDS} } } }`,
        { m, f: values.force ?? false },
      );
      printStatus(io, [data.promoteIndex.indexVersion]);
      return;
    }
    case 'rollback': {
      const data = await client.request<{ rollbackIndex: { indexVersion: VersionView } }>(
        `mutation CliRollbackIndex { rollbackIndex { indexVersion { ${FIELDS} } } }`,
      );
      printStatus(io, [data.rollbackIndex.indexVersion]);
      return;
    }
    case 'traffic': {
      const m = needModel();
      const f = Number(fraction);
      if (fraction === undefined || !Number.isFinite(f)) {
        throw new CliUsageError(`Expected a fraction between 0 and 1\n${REINDEX_USAGE}`);
      }
      const data = await client.request<{ setIndexTraffic: { indexVersion: VersionView } }>(
        `mutation CliSetIndexTraffic($m: String!, $f: Float!) { setIndexTraffic(modelVersion: $m, fraction: $f) { indexVersion { ${FIELDS} } } }`,
        { m, f },
      );
      printStatus(io, [data.setIndexTraffic.indexVersion]);
      return;
    }
    case 'cancel': {
      const m = needModel();
      const data = await client.request<{ cancelReindex: { indexVersion: VersionView } }>(
        `mutation CliCancelReindex($m: String!) { cancelReindex(modelVersion: $m) { indexVersion { ${FIELDS} } } }`,
        { m },
      );
      printStatus(io, [data.cancelReindex.indexVersion]);
      return;
    }
    default:
      throw new CliUsageError(REINDEX_USAGE);
  }
}
