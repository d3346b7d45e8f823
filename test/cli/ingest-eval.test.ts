import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProgress } from '../../api/src/cli/commands/progress-bar.ts';
import { runCli } from '../../api/src/cli/run.ts';
import { writeColourFolders } from '../fixtures/images/colour-folders.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import type { Backend } from '../support/backends.ts';
import { type ServedTestApp, serveTestApp } from '../support/served-app.ts';
import type { TestApp } from '../support/test-app.ts';

/** `pixelfind ingest` and `pixelfind eval` against a real server over HTTP, with the tiny model. */
describe('pixelfind ingest and eval', { timeout: 240_000 }, () => {
  let served: ServedTestApp;
  let backend: Backend;
  let t: TestApp;
  let url: string;
  let work: string;
  const keys = new Map<string, string>();

  const cli = async (args: string[], owner = 'ingest-user') => {
    if (!keys.has(owner)) keys.set(owner, (await t.services.apiKeys.create('user', owner)).key);
    const out: string[] = [];
    const err: string[] = [];
    const env = { PIXELFIND_URL: url, PIXELFIND_API_KEY: keys.get(owner) };
    const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  };
  const imageCount = async () =>
    (await backend.db.query<{ n: number }>('SELECT count(*)::int AS n FROM images')).rows[0]!.n;

  beforeAll(async () => {
    served = await serveTestApp();
    ({ backend, t, url } = served);
    work = await mkdtemp(path.join(tmpdir(), 'pf-ingest-'));
  });

  afterAll(async () => {
    await served?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('uploads a tree with folder tags, waits until searchable, counts duplicates and names failures', async () => {
    const dir = path.join(work, 'photos');
    await mkdir(path.join(dir, 'Fruit', 'apples'), { recursive: true });
    await mkdir(path.join(dir, 'sky'), { recursive: true });
    await writeFile(path.join(dir, 'Fruit', 'apples', 'red.png'), await makeColourImage({ colour: 'red' }));
    await copyFile(path.join(dir, 'Fruit', 'apples', 'red.png'), path.join(dir, 'sky', 'copy-of-red.png'));
    await writeFile(
      path.join(dir, 'sky', 'blue.jpg'),
      await makeColourImage({ colour: 'blue', format: 'jpeg' }),
    );
    await writeFile(path.join(dir, 'sky', 'broken.png'), 'this is text, not pixels');
    await writeFile(path.join(dir, 'notes.txt'), 'not an image file name: not sent');

    const first = await cli(['ingest', dir, '--wait', '--tags-from-folders', '--concurrency', '2']);
    // a failed file makes the exit status 1, after the summary
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(
      'indexed 2, rejected 0, duplicates 1 (0 uploaded before, 1 repeated here), failed 1',
    );
    expect(first.stdout).toMatch(/broken\.png: .*UNSUPPORTED_MEDIA_TYPE/);
    expect(first.stderr).toContain('4 image files found');

    const red = await t.gql<{
      search: { hits: { image: { id: string; tags: { label: string; source: string }[] } }[] };
    }>(
      '{ search(input: { text: "red", labels: ["apples"] }) { hits { image { id tags { label source } } } } }',
    );
    const tags = red.body
      .data!.search.hits[0]!.image.tags.filter((tag) => tag.source === 'USER')
      .map((tag) => tag.label);
    expect(tags.sort()).toEqual(['apples', 'fruit']);

    // resumable: a second run sends nothing it sent before
    const before = await imageCount();
    const again = await cli(['ingest', dir, '--json']);
    const report = JSON.parse(again.stdout) as {
      summary: Record<string, number>;
      files: { path: string; kind: string }[];
    };
    expect(report.summary).toMatchObject({ indexed: 0, duplicates: 3, failed: 1 });
    expect(report.files.filter((f) => f.kind === 'already-uploaded')).toHaveLength(2);
    expect(await imageCount()).toBe(before);

    // another user's run is not skipped by this user's uploads: lookups are per owner
    const other = await cli(['ingest', path.join(dir, 'sky', 'blue.jpg'), '--wait'], 'someone-else');
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('indexed 1,');
    expect(await imageCount()).toBe(before + 1);
  });

  it('refuses bad flags as usage errors', async () => {
    expect((await cli(['ingest'])).code).toBe(2);
    expect((await cli(['ingest', work, '--concurrency', '0'])).code).toBe(2);
    expect((await cli(['eval', work, '--k', 'x'])).code).toBe(2);
  });

  it('eval scores generated colour folders per category and overall, for text and leave-one-out image queries', async () => {
    const dir = path.join(work, 'colours');
    await writeColourFolders(dir, ['red', 'green', 'blue', 'yellow'], 3);
    const { code, stdout } = await cli(['eval', dir, '--k', '3', '--json'], 'evaluator');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      k: number;
      skipped: unknown[];
      models: {
        modelVersion: string;
        categories: Record<
          string,
          {
            images: number;
            text: { precision: number; recall: number };
            image: { queries: number; precision: number; recall: number };
          }
        >;
        overall: {
          text: { queries: number; precision: number; recall: number };
          image: { queries: number; precision: number; recall: number };
        };
      }[];
    };
    expect(report.skipped).toEqual([]);
    expect(report.models).toHaveLength(1);
    const [model] = report.models;
    expect(model!.modelVersion).toBe(t.services.encoder.modelVersion);
    expect(Object.keys(model!.categories).sort()).toEqual(['blue', 'green', 'red', 'yellow']);
    expect(model!.overall.text.queries).toBe(4);
    expect(model!.overall.image.queries).toBe(12);
    // the tiny model tells these colours apart: the folder name finds its folder, and each image
    // finds its two siblings (2 of k = 3 relevant at best, since the query image is left out)
    for (const scores of Object.values(model!.categories)) {
      expect(scores.images).toBe(3);
      expect(scores.text.recall).toBe(1);
      expect(scores.image.recall).toBe(1);
      expect(scores.image.precision).toBeCloseTo(2 / 3, 5);
    }

    // the readable table: a row per category and the overall row
    const table = await cli(['eval', dir, '--k', '3'], 'evaluator');
    expect(table.stdout).toMatch(/^model \S+, k = 3$/m);
    expect(table.stdout).toMatch(/^CATEGORY\s+IMAGES\s+TEXT P@3\s+TEXT R@3\s+IMAGE P@3\s+IMAGE R@3$/m);
    expect(table.stdout).toMatch(/^red\s+3\s+1\.000\s+1\.000\s+0\.667\s+1\.000$/m);
    expect(table.stdout).toMatch(/^\(overall\)\s+12\s/m);
  });

  it('draws a progress bar with rate and ETA where a terminal is', async () => {
    const stream = new PassThrough();
    let drawn = '';
    stream.on('data', (chunk) => {
      drawn += chunk;
    });
    const progress = startProgress(stream, 4, 'ingest', { noTTYOutput: true });
    for (let i = 0; i < 4; i++) progress.tick();
    progress.stop();
    expect(drawn).toMatch(/ingest \[.*\] 100% \| 4\/4 \| \d+(\.\d)?\/s \| ETA \S+/);
  });
});
