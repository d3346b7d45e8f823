import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCliConfig } from '../../config/config.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { type CliIo, table } from '../io.ts';
import { createServerClient } from '../server-client.ts';

export const SEARCH_USAGE = `usage:
  pixelfind search "text" [--image <file|url>] [--labels a,b] [--limit n] [--offset n] [--json]
  (text, an image, or both; --labels keeps only images carrying every label)`;

const OPTIONS = {
  ...SERVER_FLAGS,
  image: { type: 'string' },
  labels: { type: 'string', multiple: true },
  limit: { type: 'string' },
  offset: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SEARCH = `query CliSearch($input: SearchInput!) {
  search(input: $input) {
    queryId modelVersion partial tookMs hasNextPage nextOffset nothingRelevant
    hits { score similarity image { id storageUrl width height tags { label } } }
  }
}`;

interface SearchAnswer {
  search: {
    queryId: string;
    modelVersion: string;
    partial: boolean;
    tookMs: number;
    hasNextPage: boolean;
    nextOffset: number | null;
    nothingRelevant: boolean;
    hits: {
      score: number;
      similarity: number;
      image: { id: string; storageUrl: string; width: number; height: number; tags: { label: string }[] };
    }[];
  };
}

function count(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new CliUsageError(`Expected a non-negative integer for --${name} but received ${raw}`);
  return Number(raw);
}

export async function searchCommand(args: string[], io: CliIo): Promise<void> {
  const { positionals, values } = parseCommandArgs(args, OPTIONS, SEARCH_USAGE);
  if (values.help) {
    io.out(SEARCH_USAGE);
    return;
  }
  if (positionals.length > 1) throw new CliUsageError(`Expected one quoted text\n${SEARCH_USAGE}`);
  const text = positionals[0]?.trim() || null;
  if (!text && !values.image) throw new CliUsageError(`Expected a text, --image, or both\n${SEARCH_USAGE}`);
  const labels = (values.labels ?? [])
    .flatMap((l) => l.split(','))
    .map((l) => l.trim())
    .filter(Boolean);
  const input: Record<string, unknown> = {
    text,
    labels: labels.length ? labels : null,
    limit: count('limit', values.limit),
    offset: count('offset', values.offset),
  };
  const cli = loadCliConfig(io.env, { url: values.url, key: values.key });
  const client = createServerClient(cli.url, cli.apiKey);

  let answer: SearchAnswer;
  if (values.image && /^https?:\/\//i.test(values.image)) {
    answer = await client.request<SearchAnswer>(SEARCH, { input: { ...input, imageUrl: values.image } });
  } else if (values.image) {
    let bytes: Buffer;
    try {
      bytes = await readFile(values.image);
    } catch (error) {
      throw new CliFailure(
        `Cannot read --image ${values.image}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    answer = await client.requestWithFile<SearchAnswer>(
      SEARCH,
      { input: { ...input, image: null } },
      { path: 'variables.input.image', bytes, name: path.basename(values.image) },
    );
  } else {
    answer = await client.request<SearchAnswer>(SEARCH, { input });
  }

  const result = answer.search;
  if (values.json) {
    io.out(JSON.stringify(result, null, 2));
    return;
  }
  if (result.nothingRelevant) {
    io.out('Nothing relevant found.');
  } else if (result.hits.length === 0) {
    io.out('No matching images.');
  } else {
    const rows = result.hits.map((hit, i) => [
      String(i + 1),
      hit.score.toFixed(3),
      hit.image.id,
      `${hit.image.width}x${hit.image.height}`,
      hit.image.tags.map((t) => t.label).join(', '),
      hit.image.storageUrl,
    ]);
    for (const line of table(['#', 'SCORE', 'ID', 'SIZE', 'TAGS', 'URL'], rows)) io.out(line);
  }
  io.err(
    `query ${result.queryId}, model ${result.modelVersion}, ${result.tookMs.toFixed(0)} ms${result.partial ? ', partial: a shard did not answer in time' : ''}${result.hasNextPage ? `; more with --offset ${result.nextOffset}` : ''}`,
  );
}
