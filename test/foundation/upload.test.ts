import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { type Backend, backends } from '../support/backends.ts';
import { keyFor } from '../support/keys.ts';
import { NO_BACKGROUND_JOBS, type TestApp } from '../support/test-app.ts';
import { UPLOAD_MUTATION } from '../support/upload-form.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const jpeg = (r: number, g: number, b: number, width = 64, height = 48) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .jpeg()
    .toBuffer();

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

/** A 30000x30000 PNG header: claims 900 Mpx in a few hundred bytes (a decompression bomb). */
async function pngBomb(): Promise<Buffer> {
  const small = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  const bomb = Buffer.from(small);
  bomb.writeUInt32BE(30000, 16);
  bomb.writeUInt32BE(30000, 20);
  // IHDR's CRC covers its type and data (bytes 12..29)
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  return bomb;
}

describe.each(backends)('upload and image metadata ($name)', ({ create }) => {
  let backend: Backend;
  let t: TestApp;
  // PENDING images are visible to their uploader and moderators only (visibility.ts)
  let asModerator: Record<string, string>;

  useTestApps(create, async (open, own) => {
    backend = own;
    // the statement-count test below counts a window no background job may write into
    t = await open(NO_BACKGROUND_JOBS);
    asModerator = await keyFor(t, 'moderator', 'mod');
  });

  const imageCount = async () =>
    (await backend.db.query<{ n: number }>('SELECT count(*)::int AS n FROM images')).rows[0]!.n;

  /** A user key's headers: the uploader id is the key's owner (anonymous callers cannot choose one). */
  const asUser = async (ownerId: string) => ({
    headers: { 'x-api-key': (await t.services.apiKeys.create('user', ownerId)).key },
  });

  it('stores a JPEG as PENDING with its size, tags hint and a readable blob', async () => {
    const bytes = await jpeg(200, 10, 10, 80, 60);
    const { status, body } = await t.upload(
      bytes,
      { tagsHint: ['Sunset', ' beach ', 'sunset'] },
      await asUser('alice'),
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const uploaded = (body.data as { uploadImage: { image: Record<string, unknown> } }).uploadImage.image;
    expect(uploaded.status).toBe('PENDING');
    expect(uploaded).toMatchObject({ width: 80, height: 60 });

    const read = await t.gql<{ image: Record<string, unknown> }>(
      'query($id: ID!) { image(id: $id) { id width height status uploaderId createdAt storageUrl tags { label confidence source } } }',
      { id: uploaded.id },
      asModerator,
    );
    expect(read.body.data?.image).toMatchObject({
      id: uploaded.id,
      width: 80,
      height: 60,
      status: 'PENDING',
    });
    const tags = (read.body.data!.image.tags as { label: string; source: string }[]).map(
      (tag) => `${tag.label}/${tag.source}`,
    );
    expect(tags.sort()).toEqual(['beach/USER', 'sunset/USER']);

    const blobPath = new URL(String(read.body.data?.image.storageUrl)).pathname;
    const blob = await t.app.fetch(`http://pixelfind.test${blobPath}`, { headers: asModerator });
    expect(blob.status).toBe(200);
    expect(blob.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);

    const jobs = await backend.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM index_jobs WHERE image_id = $1 AND state = 'queued'",
      [uploaded.id],
    );
    expect(jobs.rows[0]!.n).toBe(1);
  });

  it('returns the existing image when the same uploader sends the same bytes again', async () => {
    const bytes = await jpeg(1, 2, 3);
    const bob = await asUser('bob');
    const first = await t.upload(bytes, {}, bob);
    const second = await t.upload(bytes, {}, bob);
    const other = await t.upload(bytes, {}, await asUser('carol'));
    const id = (r: typeof first) =>
      (r.body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
    expect(id(second)).toBe(id(first));
    expect(id(other)).not.toBe(id(first));
  });

  it("imagesBySha256 finds the caller's own uploads only, in the order asked", async () => {
    const bytes = await jpeg(44, 55, 66);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const missing = 'f'.repeat(64);
    const gina = await asUser('gina');
    const up = await t.upload(bytes, {}, gina);
    const id = (up.body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
    const lookup = (headers: Record<string, string>, sha256: string[]) =>
      t.gql<{ imagesBySha256: ({ id: string } | null)[] }>(
        'query($s: [String!]!) { imagesBySha256(sha256: $s) { id } }',
        { s: sha256 },
        headers,
      );
    const own = await lookup(gina.headers, [missing, sha.toUpperCase()]);
    expect(own.body.data?.imagesBySha256).toEqual([null, { id }]);
    // another user, an admin and an anonymous caller learn nothing about gina's upload
    const admin = { 'x-api-key': (await t.services.apiKeys.create('admin', 'root')).key };
    for (const headers of [(await asUser('hank')).headers, admin, {}]) {
      expect((await lookup(headers, [sha])).body.data?.imagesBySha256).toEqual([null]);
    }
    const bad = await lookup(gina.headers, ['not-a-hash']);
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  describe('bad input gets a coded error and leaves no row and no blob behind', () => {
    const cases: [string, () => Promise<Buffer>, Record<string, unknown>, string][] = [
      ['not an image', async () => Buffer.from('hello, I am text, not pixels'), {}, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a zero-byte file', async () => Buffer.alloc(0), {}, 'BAD_USER_INPUT'],
      [
        'a truncated JPEG',
        async () => (await jpeg(9, 9, 9, 300, 300)).subarray(0, 400),
        {},
        'BAD_USER_INPUT',
      ],
      ['a 30000x30000 PNG', pngBomb, {}, 'PAYLOAD_TOO_LARGE'],
      [
        'an SVG',
        async () =>
          Buffer.from(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
          ),
        {},
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'more than 50 tags',
        () => jpeg(6, 6, 6),
        { tagsHint: Array.from({ length: 51 }, (_, i) => `t${i}`) },
        'BAD_USER_INPUT',
      ],
      ['a 1 kB tag', () => jpeg(7, 7, 7), { tagsHint: ['x'.repeat(1024)] }, 'BAD_USER_INPUT'],
    ];
    it.each(cases)('%s', async (_name, makeBytes, variables, code) => {
      const rowsBefore = await imageCount();
      const blobsBefore = await countFiles(t.blobDir);
      const { body } = await t.upload(await makeBytes(), { ...variables });
      expect(body.errors?.[0]?.extensions?.code).toBe(code);
      expect(await imageCount()).toBe(rowsBefore);
      expect(await countFiles(t.blobDir)).toBe(blobsBefore);
      // and the server keeps serving
      const health = await t.app.fetch('http://pixelfind.test/healthz');
      expect(health.status).toBe(200);
    });

    it('a 100 MB upload', async () => {
      const rowsBefore = await imageCount();
      const { status, body } = await t.upload(Buffer.alloc(100 * 1024 * 1024, 1), {});
      expect(body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
      expect(status).toBe(413);
      expect(await imageCount()).toBe(rowsBefore);
    });

    it('an uploaderId the caller names (the uploader is the caller, never an argument)', async () => {
      const rowsBefore = await imageCount();
      const form = new FormData();
      form.set(
        'operations',
        JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { file: null, uploaderId: 'alice' } } }),
      );
      form.set('map', JSON.stringify({ 0: ['variables.input.file'] }));
      form.set('0', new Blob([new Uint8Array(await jpeg(8, 8, 8))]), 'image');
      const response = await t.app.fetch('http://pixelfind.test/graphql', {
        method: 'POST',
        headers: { 'x-graphql-yoga-csrf': '1', accept: 'application/graphql-response+json' },
        body: form,
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(
        /uploaderId/,
      );
      expect(await imageCount()).toBe(rowsBefore);
    });

    it('an unknown id and a malformed id', async () => {
      const unknown = await t.gql('{ image(id: "987654321") { id } }');
      expect(unknown.status).toBe(200);
      expect(unknown.body).toEqual({ data: { image: null } });
      const malformed = await t.gql('{ image(id: "not-an-id") { id } }');
      expect(malformed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const many = await t.gql('{ images(ids: ["1", "x"]) { id } }');
      expect(many.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });

  it('hydrates images(ids:) for 50 ids with their tags in a constant number of statements', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { body } = await t.upload(await jpeg(i, 100, 200 - i, 16, 16), {
        tagsHint: [`tag${i}`, 'common'],
      });
      ids.push((body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
    }
    const query = 'query($ids: [ID!]!) { images(ids: $ids) { id width tags { label source } } }';
    // the fewest of three tries: anything else on the database (a poller the settings above
    // slowed, not stopped) only ever adds statements to a window, and nothing caches across requests
    const cost = async (some: string[]) => {
      let fewest = Number.POSITIVE_INFINITY;
      for (let attempt = 0; attempt < 3; attempt++) {
        const before = backend.db.statementCount;
        const { body } = await t.gql<{ images: { id: string; tags: unknown[] }[] }>(
          query,
          { ids: some },
          asModerator,
        );
        expect(body.data?.images.map((image) => image.id)).toEqual(some);
        expect(body.data?.images.every((image) => image.tags.length === 2)).toBe(true);
        fewest = Math.min(fewest, backend.db.statementCount - before);
      }
      return fewest;
    };
    const forFive = await cost(ids.slice(0, 5));
    const forFifty = await cost(ids);
    // the request reads Postgres: a count of 0 would mean a cache answered and proves nothing
    expect(forFive).toBeGreaterThan(0);
    expect(forFifty).toBe(forFive);
    expect(forFifty).toBeLessThanOrEqual(2); // one for images, one for tags
  });
});
