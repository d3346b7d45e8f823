import { loadCliConfig } from '../../config/config.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { createServerClient } from '../server-client.ts';
import { listImageFiles } from './image-files.ts';
import { type FileOutcome, ingestFiles, summarise } from './ingest-run.ts';
import { startProgress } from './progress-bar.ts';

export const INGEST_USAGE = `usage:
  pixelfind ingest <dir|file>... [--concurrency n] [--wait] [--wait-timeout s] [--tags-from-folders] [--json]
  (uploads every .jpg .jpeg .png .webp .gif below the directories, as the key's owner; files
  uploaded before, by their sha256, are skipped; --wait waits until they are searchable)`;

const OPTIONS = {
  ...SERVER_FLAGS,
  concurrency: { type: 'string' },
  wait: { type: 'boolean' },
  'wait-timeout': { type: 'string' },
  'tags-from-folders': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A positive integer flag within [1, max], or its default. */
export function positiveFlag(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw new CliUsageError(`Expected an integer from 1 to ${max} for --${name} but received ${raw}`);
  return Number(raw);
}

const problem = (outcome: FileOutcome): string | null => {
  if (outcome.kind === 'failed') return outcome.reason ?? 'failed';
  if (outcome.kind !== 'uploaded') return null;
  if (outcome.status === 'REJECTED') return 'rejected (safety check or blocked content)';
  if (outcome.status === 'FAILED') return 'indexing failed after its retries';
  if (outcome.status === 'DELETED') return outcome.reason ?? 'deleted';
  return null;
};

export async function ingestCommand(args: string[], io: CliIo): Promise<void> {
  const { positionals, values } = parseCommandArgs(args, OPTIONS, INGEST_USAGE);
  if (values.help) {
    io.out(INGEST_USAGE);
    return;
  }
  if (positionals.length === 0) throw new CliUsageError(`Expected a directory or files\n${INGEST_USAGE}`);
  const concurrency = positiveFlag('concurrency', values.concurrency, 4, 64);
  const waitS = positiveFlag('wait-timeout', values['wait-timeout'], 600, 86_400);
  const cli = loadCliConfig(io.env, { url: values.url, key: values.key });
  const client = createServerClient(cli.url, cli.apiKey);

  const files = await listImageFiles(positionals);
  io.err(`${files.length} image file${files.length === 1 ? '' : 's'} found`);
  const progress = startProgress(io.progress, files.length, 'ingest');
  let outcomes: FileOutcome[];
  try {
    outcomes = await ingestFiles(client, files, {
      concurrency,
      tagsFromFolders: values['tags-from-folders'] ?? false,
      waitMs: values.wait ? waitS * 1000 : 0,
      onFileDone: progress.tick,
    });
  } finally {
    progress.stop();
  }
  const summary = summarise(outcomes);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          summary,
          files: outcomes.map((o) => ({
            path: o.file.path,
            sha256: o.sha256,
            imageId: o.imageId,
            status: o.status,
            kind: o.kind,
            reason: problem(o) ?? undefined,
          })),
        },
        null,
        2,
      ),
    );
  } else {
    for (const outcome of outcomes) {
      const why = problem(outcome);
      if (why) io.out(`${outcome.file.path}: ${why}`);
    }
    const already = outcomes.filter((o) => o.kind === 'already-uploaded').length;
    io.out(
      [
        `indexed ${summary.indexed}`,
        ...(summary.pending ? [`pending ${summary.pending}`] : []),
        `rejected ${summary.rejected}`,
        `duplicates ${summary.duplicates} (${already} uploaded before, ${summary.duplicates - already} repeated here)`,
        `failed ${summary.failed}`,
      ].join(', '),
    );
    if (summary.pending && values.wait) io.err(`${summary.pending} still PENDING after ${waitS} s`);
  }
  if (summary.failed > 0) throw new CliFailure(`${summary.failed} of ${summary.files} files failed`);
}
