import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mapConcurrent } from '../../../../search-cluster/src/index.ts';
import { CliFailure } from '../errors.ts';
import { type ServerClient, ServerError, ServerUnreachable } from '../server-client.ts';
import { type ImageFile, sha256OfFile } from './image-files.ts';

export type ImageStatus = 'PENDING' | 'INDEXED' | 'REJECTED' | 'FAILED' | 'DELETED';

/** What happened to one file. */
export interface FileOutcome {
  file: ImageFile;
  sha256: string | null;
  imageId: string | null;
  /** The image's status as last seen; null when the file never became an image. */
  status: ImageStatus | null;
  /** uploaded now; already uploaded (found by its sha256, or the API answered the existing image); repeated in this run; failed. */
  kind: 'uploaded' | 'already-uploaded' | 'repeated' | 'failed';
  reason?: string;
}

export interface IngestOptions {
  /** Uploads in flight at once. */
  concurrency: number;
  /** Folder names (below the directory given) become tag hints. */
  tagsFromFolders: boolean;
  /** Until every image left PENDING, or this many milliseconds passed; 0 does not wait. */
  waitMs: number;
  /** Called once per file finished (skipped, uploaded or failed). */
  onFileDone?: () => void;
  /** Milliseconds between status polls while waiting. Default 1000. */
  pollMs?: number;
}

const LOOKUP = `query CliIngestLookup($sha256: [String!]!) { imagesBySha256(sha256: $sha256) { id status } }`;
const UPLOAD = `mutation CliIngestUpload($input: UploadImageInput!) {
  uploadImage(input: $input) { created image { id status } }
}`;
const STATUSES = `query CliIngestStatuses($ids: [ID!]!) { images(ids: $ids) { id status } }`;
const BATCH = 100;
const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 64;

const chunks = <T>(items: readonly T[], size: number) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Folder names as tag hints: lower case, within the API's bounds (longer ones are left out). */
export function folderTags(folders: readonly string[]): string[] {
  const tags = folders
    .map((folder) => folder.trim().toLowerCase())
    .filter((tag) => tag.length > 0 && tag.length <= MAX_TAG_LENGTH);
  return [...new Set(tags)].slice(-MAX_TAGS);
}

const reasonOf = (error: unknown) =>
  error instanceof ServerError || error instanceof Error ? error.message : String(error);

/**
 * Uploads files to the server as the caller, resumably: a file whose bytes (sha256) the caller
 * uploaded before is not sent again. Never throws for one file's fault: each outcome says what
 * happened, with the reason when it failed.
 */
export async function ingestFiles(
  client: ServerClient,
  files: readonly ImageFile[],
  options: IngestOptions,
): Promise<FileOutcome[]> {
  try {
    return await ingestAll(client, files, options);
  } catch (error) {
    // no server at all is the command's failure, not one file's
    if (error instanceof ServerUnreachable) throw new CliFailure(error.message);
    throw error;
  }
}

async function ingestAll(
  client: ServerClient,
  files: readonly ImageFile[],
  options: IngestOptions,
): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = await mapConcurrent(files, options.concurrency, async (file) => {
    try {
      return { file, sha256: await sha256OfFile(file.path), imageId: null, status: null, kind: 'uploaded' };
    } catch (error) {
      return { file, sha256: null, imageId: null, status: null, kind: 'failed', reason: reasonOf(error) };
    }
  });

  // the same bytes twice in one run: sent once, the copies follow the first
  const firstBySha = new Map<string, FileOutcome>();
  const repeats: FileOutcome[] = [];
  for (const outcome of outcomes) {
    if (!outcome.sha256) continue;
    if (firstBySha.has(outcome.sha256)) {
      outcome.kind = 'repeated';
      repeats.push(outcome);
    } else firstBySha.set(outcome.sha256, outcome);
  }

  // resumable: what the caller uploaded before, by hash (only its own uploads can match)
  for (const batch of chunks([...firstBySha.keys()], BATCH)) {
    const { imagesBySha256 } = await client.request<{
      imagesBySha256: ({ id: string; status: ImageStatus } | null)[];
    }>(LOOKUP, { sha256: batch });
    batch.forEach((sha, i) => {
      const found = imagesBySha256[i];
      if (!found) return;
      const outcome = firstBySha.get(sha)!;
      Object.assign(outcome, { kind: 'already-uploaded', imageId: found.id, status: found.status });
    });
  }
  for (const outcome of outcomes) if (outcome.kind !== 'uploaded') options.onFileDone?.();

  const toSend = outcomes.filter((outcome) => outcome.kind === 'uploaded');
  await mapConcurrent(toSend, options.concurrency, async (outcome) => {
    try {
      const bytes = await readFile(outcome.file.path);
      const tagsHint = options.tagsFromFolders ? folderTags(outcome.file.folders) : null;
      const { uploadImage } = await client.requestWithFile<{
        uploadImage: { created: boolean; image: { id: string; status: ImageStatus } };
      }>(
        UPLOAD,
        { input: { file: null, tagsHint } },
        { path: 'variables.input.file', bytes, name: path.basename(outcome.file.path) },
      );
      outcome.imageId = uploadImage.image.id;
      outcome.status = uploadImage.image.status;
      if (!uploadImage.created) outcome.kind = 'already-uploaded';
    } catch (error) {
      Object.assign(outcome, { kind: 'failed', reason: reasonOf(error) });
    } finally {
      options.onFileDone?.();
    }
  });

  if (options.waitMs > 0) await waitUntilSettled(client, outcomes, options.waitMs, options.pollMs ?? 1000);
  for (const repeat of repeats) {
    const first = firstBySha.get(repeat.sha256!)!;
    Object.assign(repeat, { imageId: first.imageId, status: first.status });
  }
  return outcomes;
}

/** Polls the images still PENDING until none is, or the time is up (they stay PENDING then). */
async function waitUntilSettled(
  client: ServerClient,
  outcomes: readonly FileOutcome[],
  waitMs: number,
  pollMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pending = outcomes.filter((o) => o.imageId && o.status === 'PENDING' && o.kind !== 'repeated');
    if (pending.length === 0 || Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    for (const batch of chunks(pending, BATCH)) {
      const { images } = await client.request<{ images: ({ id: string; status: ImageStatus } | null)[] }>(
        STATUSES,
        { ids: batch.map((o) => o.imageId) },
      );
      batch.forEach((outcome, i) => {
        const image = images[i];
        if (image) outcome.status = image.status;
        else Object.assign(outcome, { status: 'DELETED', reason: 'the image is gone (deleted)' });
      });
    }
  }
}

export interface IngestSummary {
  files: number;
  indexed: number;
  pending: number;
  rejected: number;
  duplicates: number;
  failed: number;
}

/** Counts by what a user asks: indexed, still pending, rejected, duplicates, failed. */
export function summarise(outcomes: readonly FileOutcome[]): IngestSummary {
  const summary: IngestSummary = {
    files: outcomes.length,
    indexed: 0,
    pending: 0,
    rejected: 0,
    duplicates: 0,
    failed: 0,
  };
  for (const outcome of outcomes) {
    if (outcome.kind === 'failed') summary.failed += 1;
    else if (outcome.kind !== 'uploaded') summary.duplicates += 1;
    else if (outcome.status === 'INDEXED') summary.indexed += 1;
    else if (outcome.status === 'REJECTED') summary.rejected += 1;
    else if (outcome.status === 'FAILED' || outcome.status === 'DELETED') summary.failed += 1;
    else summary.pending += 1;
  }
  return summary;
}
