/**
 * Downloads a registry model's files from the Hugging Face hub, with a progress bar and
 * checksums: the sha256 pinned in the registry when there is one, else the one the hub
 * publishes for the file at that revision (sha256 for LFS files, the git blob sha1 for small
 * ones). Files already present with the right checksum are kept; a file is written to
 * `<name>.part` and renamed only once its checksum matched. The model's manifest is written
 * next to the files (pixelfind-model.json). Used by `npm run model:download`.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE } from './manifest.ts';
import type { ModelEntry } from './registry.ts';

export interface DownloadOptions {
  entry: ModelEntry;
  /** the model's directory */
  dir: string;
  /** the hub or a mirror (HF_ENDPOINT); default https://huggingface.co */
  endpoint?: string;
  /** HF_TOKEN; only needed for gated or private repos */
  token?: string;
  /** download again even when the checksum of a present file matches */
  force?: boolean;
  /** progress output; default process.stderr */
  output?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  fetch?: typeof fetch;
}

interface Expected {
  path: string;
  size: number | null;
  algorithm: 'sha256' | 'git-sha1';
  digest: string;
}

export interface DownloadedFile {
  path: string;
  bytes: number;
  sha256: string;
  status: 'downloaded' | 'present';
}

const MB = 1024 * 1024;

function hasher(algorithm: Expected['algorithm'], size: number | null) {
  if (algorithm === 'sha256') return createHash('sha256');
  const hash = createHash('sha1');
  // a git blob id is sha1("blob <size>\0" + content)
  hash.update(`blob ${size ?? 0}\0`);
  return hash;
}

async function digestOf(
  file: string,
  expected: Expected,
): Promise<{ ok: boolean; sha256: string; bytes: number }> {
  const bytes = await readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const check = hasher(expected.algorithm, bytes.length).update(bytes).digest('hex');
  return {
    ok: check === expected.digest && (expected.size === null || expected.size === bytes.length),
    sha256,
    bytes: bytes.length,
  };
}

class Progress {
  private lastDraw = 0;
  private lastPercent = -1;
  private readonly started = performance.now();
  constructor(
    private readonly out: NonNullable<DownloadOptions['output']>,
    private readonly label: string,
    private readonly total: number | null,
  ) {}

  update(done: number, final = false): void {
    const now = performance.now();
    const percent = this.total ? Math.floor((100 * done) / this.total) : 0;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = `${(done / MB / seconds).toFixed(1)} MB/s`;
    const amount = this.total
      ? `${(done / MB).toFixed(1)}/${(this.total / MB).toFixed(1)} MB`
      : `${(done / MB).toFixed(1)} MB`;
    if (this.out.isTTY) {
      if (!final && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const width = 30;
      const filled = this.total ? Math.round((width * done) / this.total) : 0;
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      this.out.write(
        `\r${this.label} [${bar}] ${String(percent).padStart(3)}% ${amount} ${rate}\x1b[K${final ? '\n' : ''}`,
      );
    } else if (final || percent >= this.lastPercent + 10) {
      this.lastPercent = percent - (percent % 10);
      this.out.write(`${this.label}: ${this.total ? `${percent}% ` : ''}${amount} ${rate}\n`);
    }
  }
}

async function expectedFiles(
  options: DownloadOptions,
  endpoint: string,
  headers: Record<string, string>,
): Promise<Expected[]> {
  const download = options.entry.download;
  if (!download)
    throw new Error(
      `Model ${options.entry.modelVersion} has no download source: ${options.entry.description}`,
    );
  const fetchFn = options.fetch ?? fetch;
  const folders = [...new Set(download.files.map((f) => path.posix.dirname(f.path)))];
  type TreeItem = { path: string; size?: number; oid?: string; lfs?: { oid?: string; size?: number } };
  const listed = new Map<string, TreeItem>();
  for (const folder of folders) {
    const suffix = folder === '.' ? '' : `/${folder}`;
    const url = `${endpoint}/api/models/${download.repo}/tree/${download.revision}${suffix}`;
    const response = await fetchFn(url, { headers });
    if (!response.ok) throw new Error(`Listing ${url} failed: HTTP ${response.status}`);
    for (const item of (await response.json()) as TreeItem[]) listed.set(item.path, item);
  }
  return download.files.map((file) => {
    const item = listed.get(file.path);
    if (file.sha256)
      return {
        path: file.path,
        size: item?.lfs?.size ?? item?.size ?? null,
        algorithm: 'sha256',
        digest: file.sha256,
      };
    if (!item) throw new Error(`${download.repo}@${download.revision} has no file ${file.path}`);
    if (item.lfs?.oid)
      return {
        path: file.path,
        size: item.lfs.size ?? item.size ?? null,
        algorithm: 'sha256',
        digest: item.lfs.oid,
      };
    if (item.oid)
      return { path: file.path, size: item.size ?? null, algorithm: 'git-sha1', digest: item.oid };
    throw new Error(`The hub gives no checksum for ${file.path}; pin its sha256 in the registry`);
  });
}

/** fetch, with network failures explained ("fetch failed" alone says little) */
function explainingFetch(fetchFn: typeof fetch, endpoint: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetchFn(input, init);
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new Error(
        `Could not reach ${endpoint} (${cause}). Is this machine online? HF_ENDPOINT selects a mirror.`,
      );
    }
  };
}

export async function downloadModel(options: DownloadOptions): Promise<DownloadedFile[]> {
  const { entry, dir } = options;
  const endpoint = (options.endpoint ?? 'https://huggingface.co').replace(/\/$/, '');
  const token = options.token;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const out = options.output ?? process.stderr;
  const fetchFn = explainingFetch(options.fetch ?? fetch, endpoint);
  const download = entry.download!;
  const files = await expectedFiles({ ...options, fetch: fetchFn }, endpoint, headers);
  const results: DownloadedFile[] = [];

  for (const expected of files) {
    const target = path.join(dir, expected.path);
    if (!options.force) {
      const present = await digestOf(target, expected).catch(() => null);
      if (present?.ok) {
        out.write(`${expected.path}: present, checksum ok\n`);
        results.push({
          path: expected.path,
          bytes: present.bytes,
          sha256: present.sha256,
          status: 'present',
        });
        continue;
      }
    }
    await mkdir(path.dirname(target), { recursive: true });
    const url = `${endpoint}/${download.repo}/resolve/${download.revision}/${expected.path}`;
    const response = await fetchFn(url, { headers, redirect: 'follow' });
    if (!response.ok || !response.body) throw new Error(`Downloading ${url} failed: HTTP ${response.status}`);
    const lengthHeader = Number(response.headers.get('content-length'));
    const total = expected.size ?? (Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : null);
    const progress = new Progress(out, expected.path, total);
    const check = hasher(expected.algorithm, expected.size);
    const sha256 = createHash('sha256');
    const partial = `${target}.part`;
    const sink = createWriteStream(partial);
    let done = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        check.update(chunk);
        sha256.update(chunk);
        done += chunk.length;
        progress.update(done);
        if (!sink.write(chunk)) await once(sink, 'drain');
      }
      sink.end();
      await once(sink, 'finish');
    } catch (error) {
      sink.destroy();
      await rm(partial, { force: true });
      throw error;
    }
    progress.update(done, true);
    const digest = check.digest('hex');
    if (digest !== expected.digest || (expected.size !== null && expected.size !== done)) {
      await rm(partial, { force: true });
      throw new Error(
        `Checksum mismatch for ${expected.path}: expected ${expected.algorithm} ${expected.digest} (${expected.size ?? '?'} bytes), got ${digest} (${done} bytes). Nothing was kept; try again.`,
      );
    }
    await rename(partial, target);
    results.push({ path: expected.path, bytes: done, sha256: sha256.digest('hex'), status: 'downloaded' });
  }
  // sha256sum -c compatible, so the files can be checked again offline
  await writeFile(
    path.join(dir, 'checksums.sha256'),
    results.map((r) => `${r.sha256}  ${r.path}\n`).join(''),
  );
  // the manifest next to the files: the directory is a model on its own (PIXELFIND_MODEL=<dir>)
  const { location: _location, ...manifest } = entry;
  await writeFile(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return results;
}
