import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { embeddingCacheKey } from '../../api/src/edge-trust/protocol.ts';
import { catchUpImageStats } from '../../api/src/feedback/stats-aggregation.ts';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage, syntheticImageSet } from '../fixtures/images/make-images.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const SEARCH = `query Search($input: SearchInput!) {
  search(input: $input) { queryId modelVersion partial tookMs hasNextPage nextOffset nothingRelevant minSimilarity
    hits { score similarity signals { similarity engagement recency } image { id status tags { label source } } } }
}`;

interface Hit {
  score: number;
  similarity: number;
  image: { id: string; tags: { label: string; source: string }[] };
}
interface SearchData {
  search: {
    queryId: string;
    modelVersion: string;
    partial: boolean;
    hasNextPage: boolean;
    nextOffset: number | null;
    nothingRelevant: boolean;
    minSimilarity: number;
    hits: Hit[];
  };
}

describe.each(backends)('search end to end with the tiny model ($name)', ({ create }) => {
  let backend: Backend;
  let t: TestApp;
  let worker: IndexingWorker;
  let server: Server;
  let serverUrl = '';
  const ids = new Map<string, string>(); // synthetic image name -> image id
  const nameOf = (id: string) => [...ids].find(([, v]) => v === id)?.[0] ?? `#${id}`;

  const search = async (input: Record<string, unknown>, headers?: Record<string, string>) => {
    const { body } = await t.gql<SearchData>(SEARCH, { input }, headers);
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!.search;
  };
  const names = async (input: Record<string, unknown>) =>
    (await search(input)).hits.map((h) => nameOf(h.image.id));
  let uploaderKey: string;
  const upload = async (name: string, bytes: Buffer, tagsHint: string[] = []) => {
    // a user key: anonymous uploads cannot name their uploader (issue 10 item 13)
    uploaderKey ??= (await t.services.apiKeys.create('user', 'e2e')).key;
    const { body } = await t.upload(
      bytes,
      { tagsHint },
      { type: 'image/png', headers: { 'x-api-key': uploaderKey } },
    );
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    const id = (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
    ids.set(name, id);
    return id;
  };
  const drain = async () => {
    for (let i = 0; i < 50; i++) if ((await worker.runBatch()).length === 0) return;
  };

  beforeAll(async () => {
    await ensureTinyClip();
    server = createServer(async (req, res) => {
      const colour = new URL(req.url ?? '/', 'http://x').searchParams.get('colour') ?? 'green';
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(await makeColourImage({ colour: colour as 'green' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    backend = await create();
    t = await createTestApp(
      backend,
      { IMAGE_FETCH_ALLOW_HOSTS: '127.0.0.1' },
      { worker: { batchSize: 8, leaseSeconds: 10, backoffBaseSeconds: 0 } },
    );
    worker = await t.services.createWorker();
    for (const image of syntheticImageSet()) {
      await upload(
        image.name,
        await makeColourImage({ ...image.spec, format: 'png' }),
        image.name === 'cyan' ? ['sky'] : [],
      );
    }
    await upload('magenta', await makeColourImage({ colour: 'magenta' }));
    await drain();
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
    server?.close();
  });

  it('indexes every safe upload and rejects the unsafe (magenta) one', async () => {
    const { rows } = await backend.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM images GROUP BY status ORDER BY status',
    );
    // a REJECTED image is visible to moderators only (visibility.ts)
    const asModerator = {
      authorization: `Bearer ${(await t.services.apiKeys.create('moderator', 'm')).key}`,
    };
    const statusOf = async (name: string) =>
      (
        await t.gql<{ image: { status: string } }>(
          'query($id: ID!) { image(id: $id) { status } }',
          { id: ids.get(name) },
          asModerator,
        )
      ).body.data?.image.status;
    expect(await statusOf('magenta')).toBe('REJECTED');
    expect(await statusOf('red')).toBe('INDEXED');
    expect(rows.find((r) => r.status === 'INDEXED')?.n).toBe(syntheticImageSet().length - 1); // magenta is in the set too
  });

  it('finds by text: "red" puts the red image first, "red top blue bottom" its layout first', async () => {
    expect((await names({ text: 'red' }))[0]).toBe('red');
    expect((await names({ text: 'red top blue bottom' }))[0]).toBe('red-top-blue-bottom');
    expect((await names({ text: 'green left yellow right' }))[0]).toBe('green-left-yellow-right');
  });

  it('pages with hasNextPage and nextOffset until the last page, with no image twice', async () => {
    const seen: string[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null && pages < 20) {
      const page = await search({ text: 'red', limit: 3, offset });
      seen.push(...page.hits.map((h) => h.image.id));
      expect(page.nextOffset).toBe(page.hasNextPage ? offset + 3 : null);
      if (page.hasNextPage) expect(page.hits).toHaveLength(3);
      offset = page.nextOffset;
      pages += 1;
    }
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    // everything the one big page finds, the small pages found too
    const all = await search({ text: 'red', limit: 100 });
    expect(all.hasNextPage).toBe(false);
    expect(all.nextOffset).toBeNull();
    expect(new Set(seen)).toEqual(new Set(all.hits.map((h) => h.image.id)));
  });

  it('never returns the rejected magenta image, even for "magenta"', async () => {
    const found = await names({ text: 'magenta', limit: 100, minSimilarity: -1 });
    expect(found).not.toContain('magenta');
    // with no floor at all, everything else comes back at similarity ~0
    expect(found.length).toBe(syntheticImageSet().length - 1);
  });

  it('"magenta" (nothing magenta is searchable) returns nothing and says so', async () => {
    const answer = await search({ text: 'magenta', limit: 100 });
    expect(answer.hits).toEqual([]);
    expect(answer.nothingRelevant).toBe(true);
    // the tiny model's manifest floor
    expect(answer.minSimilarity).toBe(0.3);
    // a word the model does not know is as irrelevant as an absent colour
    expect((await search({ text: 'nothing known' })).nothingRelevant).toBe(true);
  });

  it('"red" still finds red: the red image, then the four holding red, and nothing else', async () => {
    const answer = await search({ text: 'red', limit: 100 });
    expect(answer.nothingRelevant).toBe(false);
    const found = answer.hits.map((h) => nameOf(h.image.id));
    expect(found[0]).toBe('red');
    expect(found.slice(1).sort()).toEqual([
      'blue-left-red-right',
      'blue-top-red-bottom',
      'red-left-blue-right',
      'red-top-blue-bottom',
    ]);
    // the adaptive cut: within the margin of the best hit (1.0 - 0.5), above the floor
    expect(answer.minSimilarity).toBeCloseTo(0.5, 5);
    for (const hit of answer.hits) expect(hit.similarity).toBeGreaterThanOrEqual(answer.minSimilarity);
  });

  it('minSimilarity overrides the floor and the adaptive cut, and must lie in [-1, 1]', async () => {
    const strict = await search({ text: 'red', minSimilarity: 0.9 });
    expect(strict.hits.map((h) => nameOf(h.image.id))).toEqual(['red']);
    expect(strict.minSimilarity).toBe(0.9);
    const loose = await search({ text: 'red', minSimilarity: 0, limit: 100 });
    expect(loose.hits.length).toBe(syntheticImageSet().length - 1);
    const { body } = await t.gql(SEARCH, { input: { text: 'red', minSimilarity: 1.5 } });
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/minSimilarity between -1 and 1/);
  });

  it('finds by uploaded image, by URL and by imageId', async () => {
    const form = new FormData();
    form.set(
      'operations',
      JSON.stringify({ query: SEARCH, variables: { input: { image: null, limit: 3 } } }),
    );
    form.set('map', JSON.stringify({ 0: ['variables.input.image'] }));
    const blue = await makeColourImage({ colour: 'blue', format: 'jpeg', size: 96 });
    form.set('0', new Blob([new Uint8Array(blue)], { type: 'image/jpeg' }), 'q.jpg');
    const response = await t.app.fetch('http://pixelfind.test/graphql', {
      method: 'POST',
      headers: { 'x-graphql-yoga-csrf': '1' },
      body: form,
    });
    const byUpload = (await response.json()) as { data: SearchData };
    expect(nameOf(byUpload.data.search.hits[0]!.image.id)).toBe('blue');

    expect((await names({ imageUrl: `${serverUrl}/img.png?colour=yellow` }))[0]).toBe('yellow');
    expect((await names({ imageId: ids.get('white-top-black-bottom') }))[0]).toBe('white-top-black-bottom');
  });

  it('combines text and image in both fusion modes', async () => {
    for (const fusion of ['EARLY', 'LATE']) {
      const top = await names({ text: 'red', imageId: ids.get('blue'), fusion, textWeight: 0.5, limit: 6 });
      // red with blue: the four images holding both colours beat the solid ones
      expect(top.slice(0, 4).sort(), fusion).toEqual([
        'blue-left-red-right',
        'blue-top-red-bottom',
        'red-left-blue-right',
        'red-top-blue-bottom',
      ]);
      // all text: plain text search
      expect((await names({ text: 'red', imageId: ids.get('blue'), fusion, textWeight: 1 }))[0]).toBe('red');
    }
  });

  it('caches query embeddings by model version and normalised text', async () => {
    const spy = vi.spyOn(t.services.encoder, 'encodeText');
    try {
      await search({ text: 'Cyan   Left black RIGHT' });
      await search({ text: 'cyan left black right', limit: 3 });
      expect(spy).toHaveBeenCalledTimes(1);
      const key = embeddingCacheKey(t.services.encoder.modelVersion, 'cyan left black right');
      expect(key).toContain(t.services.encoder.modelVersion);
      expect((await t.services.cache.getBuffer(key))?.byteLength).toBe(t.services.encoder.dimension * 4);
    } finally {
      spy.mockRestore();
    }
  });

  it('asks the relevance port for the version floor: a calibrated floor replaces the manifest one', async () => {
    const asked: string[] = [];
    const calibrated = await createTestApp(
      backend,
      {},
      {
        relevance: {
          similarityFloorFor: async (modelVersion) => {
            asked.push(modelVersion);
            return 0.95;
          },
          adaptiveMarginFor: () => 2,
        },
      },
    );
    try {
      const { body } = await calibrated.gql<SearchData>(SEARCH, { input: { text: 'red', limit: 100 } });
      expect(body.data!.search.hits.map((h) => nameOf(h.image.id))).toEqual(['red']);
      expect(body.data!.search.minSimilarity).toBe(0.95);
      expect(asked).toEqual(['tiny-clip-v1']);
    } finally {
      await calibrated.close();
    }
  });

  it('filters by labels', async () => {
    expect(await names({ text: 'cyan', labels: ['sky'] })).toEqual(['cyan']);
    // the only sky image is not red: nothing relevant, unless the floor is lifted
    const redSky = await search({ text: 'red', labels: ['sky'] });
    expect(redSky.hits).toEqual([]);
    expect(redSky.nothingRelevant).toBe(true);
    expect(await names({ text: 'red', labels: ['sky'], minSimilarity: -1 })).toEqual(['cyan']);
    const none = await search({ text: 'red', labels: ['no-such-label'] });
    expect(none.hits).toEqual([]);
    expect(none.nothingRelevant).toBe(true);
  });

  it('hides a flagged image from the next query', async () => {
    const { key } = await t.services.apiKeys.create('moderator', 'mod');
    expect((await names({ text: 'orange' }))[0]).toBe('orange');
    const flag = await t.gql(
      'mutation($id: ID!) { flagImage(input: { imageId: $id, reason: "test" }) { imageId } }',
      { id: ids.get('orange') },
      { authorization: `Bearer ${key}` },
    );
    expect(flag.body.errors).toBeUndefined();
    expect(await names({ text: 'orange', limit: 100 })).not.toContain('orange');
  });

  it('raises an image that gets clicks when the engagement weight is on', async () => {
    const before = await search({ text: 'green', limit: 5 });
    const second = before.hits[1]!;
    const first = before.hits[0]!;
    for (let i = 0; i < 20; i++) {
      const shown = await search({ text: 'green', limit: 5 });
      const click = await t.gql(
        'mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { ok } }',
        {
          q: shown.queryId,
          i: second.image.id,
        },
      );
      expect(click.body.errors).toBeUndefined();
    }
    await t.services.queryLog.flush();
    await catchUpImageStats(backend.db);
    // the default ranker weighs engagement lightly; a ranker that weighs it more lets clicks win
    const weighted = await createTestApp(
      backend,
      {},
      {
        ranker: {
          version: 'test-eng',
          weights: { similarity: 1, engagement: 2, recency: 0 },
          recencyHalfLifeDays: 30,
        },
      },
    );
    try {
      const { body } = await weighted.gql<SearchData>(SEARCH, { input: { text: 'green', limit: 5 } });
      const after = body.data!.search.hits.map((h) => h.image.id);
      expect(after.indexOf(second.image.id)).toBeLessThan(after.indexOf(first.image.id));
    } finally {
      await weighted.close();
    }
  });

  it('never returns a deleted image', async () => {
    const id = ids.get('purple')!;
    expect((await names({ text: 'purple' }))[0]).toBe('purple');
    const { body: before } = await t.gql<{ image: { storageUrl: string } }>(
      'query($id: ID!) { image(id: $id) { storageUrl } }',
      {
        id,
      },
    );
    const blobPath = new URL(before.data!.image.storageUrl).pathname;
    expect((await t.app.fetch(`http://pixelfind.test${blobPath}`)).status).toBe(200);
    const deleted = await t.gql(
      'mutation($id: ID!) { deleteImage(input: { imageId: $id }) { deleted } }',
      { id },
      { authorization: `Bearer ${uploaderKey}` },
    );
    expect(deleted.body.errors).toBeUndefined();
    expect(await names({ text: 'purple', limit: 100 })).not.toContain('purple');
    const read = await t.gql('query($id: ID!) { image(id: $id) { id } }', { id });
    expect(read.body).toEqual({ data: { image: null } });
    // gone from the blob store too, and from the shards
    expect((await t.app.fetch(`http://pixelfind.test${blobPath}`)).status).toBe(404);
    const inShards = await t.services.cluster.search(
      t.services.encoder.modelVersion,
      await t.services.encoder.encodeText('purple'),
      100,
    );
    expect(inShards.hits.map((h) => h.id.toString())).not.toContain(id);
  });

  describe('bad input gets a coded error and changes nothing', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['no query at all', {}, 'BAD_USER_INPUT'],
      ['empty text and nothing else', { text: '   ' }, 'BAD_USER_INPUT'],
      ['textWeight outside [0, 1]', { text: 'red', textWeight: 1.5 }, 'BAD_USER_INPUT'],
      ['limit 0', { text: 'red', limit: 0 }, 'BAD_USER_INPUT'],
      ['limit 500', { text: 'red', limit: 500 }, 'BAD_USER_INPUT'],
      ['an unknown imageId', { imageId: '99999999' }, 'NOT_FOUND'],
      ['a URL to 127.0.0.1 (not allow-listed)', { imageUrl: 'http://127.0.0.2:9/x.png' }, 'BAD_USER_INPUT'],
      [
        'a URL to the metadata address',
        { imageUrl: 'http://169.254.169.254/latest/meta-data' },
        'BAD_USER_INPUT',
      ],
      ['a host that resolves to loopback', { imageUrl: 'http://localhost:9/x.png' }, 'BAD_USER_INPUT'],
    ];
    it.each(cases)('%s', async (_name, input, code) => {
      await t.services.queryLog.flush();
      const before = (await backend.db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_queries'))
        .rows[0]!.n;
      const { body } = await t.gql(SEARCH, { input });
      expect(body.errors?.[0]?.extensions?.code).toBe(code);
      await t.services.queryLog.flush();
      const after = (await backend.db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_queries'))
        .rows[0]!.n;
      expect(after).toBe(before);
    });

    it('a click for an image the query did not show, and for an unknown query', async () => {
      const shown = await search({ text: 'red', limit: 2 });
      const notShown = ids.get('black')!;
      const wrong = await t.gql(
        'mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { ok } }',
        {
          q: shown.queryId,
          i: shown.hits.some((h) => h.image.id === notShown) ? ids.get('white')! : notShown,
        },
      );
      expect(wrong.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const unknown = await t.gql(
        'mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { ok } }',
        {
          q: '00000000-0000-4000-8000-000000000000',
          i: notShown,
        },
      );
      expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });
});
