import { setTimeout as sleep } from 'node:timers/promises';
import { loadCliConfig } from '../../config/config.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { type CliIo, table } from '../io.ts';
import { createServerClient } from '../server-client.ts';

export const REBUILD_USAGE = `usage:
  pixelfind rebuild [--model <version>]... [--shard <index>]... [--wait] [--json]
  (rebuilds main tiers from the record, one replica at a time; --wait follows the run to its end)`;

const OPTIONS = {
  ...SERVER_FLAGS,
  model: { type: 'string', multiple: true },
  shard: { type: 'string', multiple: true },
  wait: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const REBUILD = `mutation CliRebuild($input: RebuildShardsInput) {
  rebuildShards(input: $input) {
    started runningIn
    run { id startedAt }
    targets { shard replica modelVersion }
  }
}`;

const RUNS = `query CliRebuildRuns { backgroundJobs(job: "rebuild", limit: 20) { runs { id outcome durationSeconds error details } } }`;

interface RebuildAnswer {
  rebuildShards: {
    started: boolean;
    runningIn: string | null;
    run: { id: string; startedAt: string } | null;
    targets: { shard: number; replica: string; modelVersion: string }[];
  };
}
interface RunsAnswer {
  backgroundJobs: {
    runs: {
      id: string;
      outcome: string;
      durationSeconds: number | null;
      error: string | null;
      details: string;
    }[];
  }[];
}

/** `pixelfind rebuild` (and `npm run rebuild`): Mutation.rebuildShards through the running server. */
export async function rebuildCommand(
  args: string[],
  io: CliIo,
  options: { pollMs?: number } = {},
): Promise<void> {
  const { positionals, values } = parseCommandArgs(args, OPTIONS, REBUILD_USAGE);
  if (values.help) {
    io.out(REBUILD_USAGE);
    return;
  }
  if (positionals.length > 0) throw new CliUsageError(`Unexpected ${positionals[0]}\n${REBUILD_USAGE}`);
  const shards = (values.shard ?? []).map((raw) => {
    if (!/^\d+$/.test(raw)) throw new CliUsageError(`Expected a shard index for --shard but received ${raw}`);
    return Number(raw);
  });
  const cli = loadCliConfig(io.env, { url: values.url, key: values.key });
  const client = createServerClient(cli.url, cli.apiKey);
  const input = {
    modelVersions: values.model?.length ? values.model : null,
    shards: shards.length ? shards : null,
  };
  const { rebuildShards: answer } = await client.request<RebuildAnswer>(REBUILD, { input });
  if (!answer.started)
    throw new CliFailure(`a rebuild is already running (in ${answer.runningIn ?? 'another process'})`);

  let final: RunsAnswer['backgroundJobs'][number]['runs'][number] | null = null;
  if (values.wait) {
    for (;;) {
      const { backgroundJobs } = await client.request<RunsAnswer>(RUNS);
      final = backgroundJobs[0]?.runs.find((r) => r.id === answer.run!.id) ?? null;
      if (final && final.outcome !== 'RUNNING') break;
      await sleep(options.pollMs ?? 2000);
    }
  }
  if (values.json) {
    io.out(
      JSON.stringify(
        { ...answer, ...(final ? { result: { ...final, details: JSON.parse(final.details) } } : {}) },
        null,
        2,
      ),
    );
  } else {
    const rows = answer.targets.map((t) => [String(t.shard), t.replica, t.modelVersion]);
    for (const line of table(['SHARD', 'REPLICA', 'MODEL'], rows)) io.out(line);
    io.err(
      `rebuild run ${answer.run!.id} started: ${answer.targets.length} replica main tiers, one at a time`,
    );
    if (final)
      io.err(`run ${final.id}: ${final.outcome.toLowerCase()} in ${final.durationSeconds?.toFixed(1)} s`);
  }
  if (final?.outcome === 'FAILED') throw new CliFailure(`rebuild failed: ${final.error}`);
}
