// The Worker in front of a real API process (`node --import tsx api/src/main.ts`, PGlite, the
// tiny model, the in-process indexer). Between them sits a counting proxy, which shows what
// crossed the wire (the signed embedding headers); the API's own /metrics counters must agree.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  EDGE_HEADERS,
  EDGE_IMPRESSIONS_PATH,
  EDGE_PRIVATE_HEADERS,
} from '../../api/src/edge-trust/protocol.ts';
import manifest from '../../schema/persisted-operations.json' with { type: 'json' };
import { type ColourName, makeColourImage } from '../../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../../test/fixtures/tiny-clip/generate.ts';
import { resultCacheKey } from '../src/cache-key.ts';
import { buildEdgeBundle, type RunningEdge, startEdge } from './edge-harness.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODEL = 'tiny-clip-v1';
const COLOURS = ['red', 'green', 'blue', 'yellow'] as const satisfies readonly ColourName[];
const ids = Object.fromEntries(Object.entries(manifest).map(([hash, op]) => [op.name, hash])) as Record<
  'Search' | 'Image' | 'UploadImage' | 'RecordClick',
  string
>;

interface SearchAnswer {
  queryId: string;
  modelVersion: string;
  partial: boolean;
  hits: { score: number; similarity: number; image: { id: string } }[];
}
/** The REST shape of GET /search (api/src/edge-trust/rest-mapping.ts). */
interface RestSearch {
  query_id: string;
  results: { image_id: string; score: number; storage_url: string; tags: unknown[] }[];
}
interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

// ---- child processes: gone when the test process ends, however it ends

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

// The children read nothing from stdin; this preload stops one when our end of the pipe closes,
// which happens however this process dies (SIGKILL included), so no API outlives a crashed run.
// unref: the pipe alone does not keep a child alive (the keys CLI exits when done). Preloads
// run in worker threads too (the API's nsfwjs worker), which have no such stdin.
const EXIT_WITH_PARENT = `data:text/javascript,${encodeURIComponent(`
  import { isMainThread } from 'node:worker_threads';
  if (isMainThread) process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM')).resume().unref();
`)}`;

function startNode(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, '--import', 'tsx', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  // drain both pipes (a full pipe would block the child); keep the tail for error messages
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** `npm run keys -- create --role partner`, before the API starts: PGlite is single-process. */
async function createPartnerKey(dataDir: string): Promise<string> {
  const { child, output } = startNode(
    ['api/src/cli/keys.ts', 'create', '--role', 'partner', '--owner', 'acme'],
    {
      DATA_DIR: dataDir,
      DATABASE_URL: '',
    },
  );
  const [code] = await once(child, 'exit');
  const key = /pf_partner_\S+/.exec(output())?.[0];
  if (code !== 0 || !key) throw new Error(`keys CLI exited with ${code}:\n${output()}`);
  return key;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startApi(options: { dataDir: string; signingKey: string }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, output } = startNode(['api/src/main.ts'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: options.dataDir,
    EDGE_SIGNING_KEY: options.signingKey,
    PIXELFIND_MODEL: MODEL,
    PIXELFIND_MODE: 'single',
    INDEXER_IN_PROCESS: 'true',
    // whatever the CI machine has configured, this API is self-contained
    DATABASE_URL: '',
    REDIS_URL: '',
    S3_BUCKET: '',
    SHARDS: '',
  });
  const deadline = Date.now() + 90_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}:\n${output()}`);
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the API was not ready within 90 s:\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { url, child, output, stop: () => stopChild(child) };
}

// ---- the counting proxy between the Worker and the API

interface Exchange {
  method: string;
  path: string;
  requestHeaders: IncomingHttpHeaders;
  status?: number;
  responseHeaders?: IncomingHttpHeaders;
}

async function startCountingProxy(target: string) {
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const seen: Exchange = { method: req.method ?? '', path: req.url ?? '/', requestHeaders: req.headers };
    exchanges.push(seen);
    const upstream = httpRequest(
      new URL(seen.path, target),
      { method: req.method, headers: req.headers },
      (answer) => {
        seen.status = answer.statusCode;
        seen.responseHeaders = answer.headers;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exchanges,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ----

describe('edge in front of the real API with the tiny model', () => {
  const signingKey = randomBytes(32).toString('hex');
  let dataDir = '';
  let partnerKey = '';
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>> | undefined;
  let edge: RunningEdge | undefined;
  const imageIds = new Map<string, string>(); // colour -> image id

  /** Requests that reached the API through the Worker. */
  /** GraphQL calls that reached the API (impression reports are counted apart). */
  const originCount = () => proxy!.exchanges.filter((e) => e.path.startsWith('/graphql')).length;
  const impressionReports = () => proxy!.exchanges.filter((e) => e.path === EDGE_IMPRESSIONS_PATH);
  const withoutQueryId = ({ queryId: _, ...rest }: SearchAnswer) => rest;
  const withoutRestQueryId = ({ query_id: _, ...rest }: RestSearch) => rest;
  const lastExchange = () => proxy!.exchanges.at(-1)!;

  /** Straight to the API, around the Worker and the proxy. */
  const apiGraphQL = async <T>(
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${api!.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as GraphQLBody<T> };
  };

  /** Sum of a counter in the API's own /metrics, over the series whose labels include `labels`. */
  const apiCounter = async (name: string, labels: Record<string, string> = {}) => {
    const text = await (await fetch(`${api!.url}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const series = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += Number(match[3]);
    }
    return sum;
  };

  /** This location's safety epoch, as the Worker keeps it in the Cache API (part of every key). */
  const safetyEpoch = async () => {
    const caches = await edge!.miniflare.getCaches();
    const stored = await caches.default.match('http://edge.test/__pixelfind-edge-cache/safety-epoch/v1');
    if (!stored) throw new Error('the Worker has no safety epoch yet');
    return ((await stored.json()) as { local: number }).local;
  };

  /** Waits for the Worker's background cache write (ctx.waitUntil) of this Search. */
  const cachedSearch = async (input: Record<string, unknown>) => {
    const key = await resultCacheKey({
      origin: 'http://edge.test',
      operationHash: ids.Search,
      variables: { input },
      modelVersion: MODEL,
      safetyEpoch: await safetyEpoch(),
    });
    const caches = await edge!.miniflare.getCaches();
    await vi.waitFor(async () => expect(await caches.default.match(key)).toBeTruthy(), { timeout: 5000 });
  };

  const expectNoEdgeHeaders = (response: Response) => {
    for (const name of EDGE_PRIVATE_HEADERS) expect(response.headers.get(name)).toBeNull();
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-edge-integration-'));
    [partnerKey] = await Promise.all([createPartnerKey(dataDir), ensureTinyClip(), buildEdgeBundle()]);
    api = await startApi({ dataDir, signingKey });
    proxy = await startCountingProxy(api.url);
    edge = await startEdge({ originUrl: proxy.url, signingKey });

    // uploads through the edge's REST shape, as a client would send them
    for (const colour of COLOURS) {
      const form = new FormData();
      const png = await makeColourImage({ colour, format: 'png' });
      form.set('file', new File([new Uint8Array(png)], `${colour}.png`, { type: 'image/png' }));
      form.set('metadata', JSON.stringify({ uploader_id: 'edge-integration' }));
      const response = await edge.fetch('/images', { method: 'POST', body: form });
      const body = (await response.json()) as { image_id?: string; status: string };
      if (response.status !== 201 || !body.image_id) {
        throw new Error(`upload of ${colour}: ${response.status} ${JSON.stringify(body)}`);
      }
      expect(response.headers.get('x-cache')).toBe('BYPASS');
      imageIds.set(colour, body.image_id);
    }
    // the in-process indexer encodes them; ask the API directly, so no answer is edge-cached
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(
          [...imageIds.values()].map(async (id) => {
            const { body } = await apiGraphQL<{ image: { status: string } }>(
              'query ($id: ID!) { image(id: $id) { status } }',
              { id },
            );
            return body.data?.image.status;
          }),
        );
        expect(statuses).toEqual(COLOURS.map(() => 'INDEXED'));
      },
      { timeout: 60_000, interval: 250 },
    );
  }, 120_000);

  afterAll(async () => {
    await edge?.dispose();
    await proxy?.close();
    await api?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves a repeated GET /search with x-cache: HIT while the API request counter does not move', async () => {
    const first = await edge!.fetch('/search?q=red&limit=3');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get(EDGE_HEADERS.modelVersion)).toBe(MODEL);
    expectNoEdgeHeaders(first);
    const answer = (await first.json()) as RestSearch;
    expect(answer.results[0]?.image_id).toBe(imageIds.get('red'));
    await cachedSearch({ text: 'red', limit: 3 });

    const before = originCount();
    const apiBefore = await apiCounter('pixelfind_http_request_duration_seconds_count');
    expect(apiBefore).toBeGreaterThan(0);
    const reportsBefore = impressionReports().length;
    const second = await edge!.fetch('/search?q=red&limit=3');
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toBe('HIT');
    const cachedAnswer = (await second.json()) as RestSearch;
    expect(withoutRestQueryId(cachedAnswer)).toEqual(withoutRestQueryId(answer));
    // its own queryId, whose impression the Worker reports in the background: no search ran
    expect(cachedAnswer.query_id).not.toBe(answer.query_id);
    await vi.waitFor(
      () => {
        expect(impressionReports().length).toBe(reportsBefore + 1);
        expect(impressionReports().at(-1)?.status).toBe(202);
      },
      { timeout: 5000 },
    );
    expect(originCount()).toBe(before);
    expect(await apiCounter('pixelfind_http_request_duration_seconds_count')).toBe(apiBefore + 1);
  });

  it('serves a repeated persisted GraphQL GET from the cache too', async () => {
    const input = { text: 'blue', limit: 2 };
    const url = `/graphql?id=${ids.Search}&variables=${encodeURIComponent(JSON.stringify({ input }))}`;
    const first = await edge!.fetch(url);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const body = (await first.json()) as GraphQLBody<{ search: SearchAnswer }>;
    expect(body.errors).toBeUndefined();
    expect(body.data?.search.hits[0]?.image.id).toBe(imageIds.get('blue'));
    await cachedSearch(input);

    const before = originCount();
    const second = await edge!.fetch(url);
    expect(second.headers.get('x-cache')).toBe('HIT');
    const cachedBody = (await second.json()) as GraphQLBody<{ search: SearchAnswer }>;
    expect(withoutQueryId(cachedBody.data!.search)).toEqual(withoutQueryId(body.data!.search));
    expect(originCount()).toBe(before);
  });

  it('sends the API the embedding it returned on the first search, and the API searches with it', async () => {
    // min_similarity=-1: no relevance floor, so the near-zero hits come back too (the comparison below wants several)
    const first = await edge!.fetch('/search?q=green&limit=4&min_similarity=-1');
    expect(first.headers.get('x-cache')).toBe('MISS');
    const full = (await first.json()) as RestSearch;
    expect(full.results[0]?.image_id).toBe(imageIds.get('green'));
    // the API encoded the text and handed the edge the vector, signed
    const encoded = lastExchange();
    expect(encoded.requestHeaders[EDGE_HEADERS.embedding]).toBeUndefined();
    expect(encoded.responseHeaders?.[EDGE_HEADERS.embedding]).toBeTruthy();
    expectNoEdgeHeaders(first);
    const kv = await edge!.miniflare.getKVNamespace('EMBEDDINGS');
    await vi.waitFor(async () => expect(await kv.get(`emb:${MODEL}:green`, 'arrayBuffer')).toBeTruthy(), {
      timeout: 5000,
    });

    // same text, other limit: a result-cache miss, but an embedding-cache hit
    const fromEdge = await apiCounter('pixelfind_query_embedding_cache_total', { source: 'edge' });
    const second = await edge!.fetch('/search?q=%20Green%20&limit=2&min_similarity=-1');
    expect(second.headers.get('x-cache')).toBe('MISS');
    const top = (await second.json()) as RestSearch;
    const sent = lastExchange();
    expect(sent.status).toBe(200);
    expect(sent.requestHeaders[EDGE_HEADERS.embedding]).toBeTruthy();
    expect(sent.requestHeaders[EDGE_HEADERS.embeddingModel]).toBe(MODEL);
    expect(sent.requestHeaders[EDGE_HEADERS.embeddingSignature]).toMatch(/^[0-9a-f]{64}$/);
    // the API returns a vector only when it encoded one itself: none here, it took the edge's
    expect(sent.responseHeaders?.[EDGE_HEADERS.embedding]).toBeUndefined();
    expect(await apiCounter('pixelfind_query_embedding_cache_total', { source: 'edge' })).toBe(fromEdge + 1);
    // the same vector searched: the same top hit with the same similarity, and the same relevant
    // hits; the order of near-zero ties (0.00077 vs 0.00076) is not something to pin
    expect(top.results).toHaveLength(2);
    expect(top.results[0]?.image_id).toBe(full.results[0]?.image_id);
    expect(top.results[0]?.score).toBeCloseTo(full.results[0]?.score ?? Number.NaN, 5);
    const relevant = (a: RestSearch) =>
      new Map(a.results.filter((h) => h.score >= 0.05).map((h) => [h.image_id, h.score]));
    const fullRelevant = relevant(full);
    for (const [id, similarity] of relevant(top)) {
      expect(fullRelevant.get(id)).toBeCloseTo(similarity, 5);
    }
  });

  it('refuses a partner key plain query with PERSISTED_QUERY_ONLY, at the edge and at the API', async () => {
    const query = 'query { search(input: { text: "red", limit: 1 }) { modelVersion } }';
    const before = originCount();
    const atEdge = await edge!.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': partnerKey },
      body: JSON.stringify({ query }),
    });
    expect(atEdge.status).toBe(403);
    const edgeBody = (await atEdge.json()) as GraphQLBody<unknown>;
    expect(edgeBody.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(originCount()).toBe(before); // refused at the edge, never forwarded

    const atApi = await apiGraphQL<unknown>(query, {}, { 'x-api-key': partnerKey });
    expect(atApi.status).toBe(403);
    expect(atApi.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(atApi.body.data ?? null).toBeNull();

    // the same key may run the persisted Search; its answer is personal, so never cached
    const persisted = await edge!.fetch('/search?q=yellow&limit=1', { headers: { 'x-api-key': partnerKey } });
    expect(persisted.status).toBe(200);
    expect(persisted.headers.get('x-cache')).toBe('BYPASS');
    expect(((await persisted.json()) as RestSearch).results[0]?.image_id).toBe(imageIds.get('yellow'));
    expect(originCount()).toBe(before + 1);
  });

  it('shows an upload going from PENDING to INDEXED through GET /images/:id, never a cached status', async () => {
    const form = new FormData();
    const png = await makeColourImage({ top: 'red', bottom: 'blue', format: 'png' });
    form.set('file', new File([new Uint8Array(png)], 'halves.png', { type: 'image/png' }));
    form.set('metadata', JSON.stringify({ uploader_id: 'edge-integration' }));
    const upload = await edge!.fetch('/images', { method: 'POST', body: form });
    expect(upload.status).toBe(201);
    const image = (await upload.json()) as { image_id: string; status: string };
    expect(image.status).toBe('pending');

    const right = await edge!.fetch(`/images/${image.image_id}`);
    expect(right.headers.get('x-cache')).toBe('BYPASS');
    expect(((await right.json()) as { image_id: string }).image_id).toBe(image.image_id);
    await vi.waitFor(
      async () => {
        const later = await edge!.fetch(`/images/${image.image_id}`);
        expect(((await later.json()) as { status: string }).status).toBe('indexed');
      },
      { timeout: 20_000, interval: 250 },
    );
  });

  it('records a click on a search result through POST /search/:queryId/click', async () => {
    const search = (await (await edge!.fetch('/search?q=yellow&limit=2')).json()) as RestSearch;
    const imageId = search.results[0]!.image_id;
    const click = await edge!.fetch(`/search/${search.query_id}/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clicked_id: imageId }),
    });
    expect(click.headers.get('x-cache')).toBe('BYPASS');
    expect(await click.json()).toEqual({ ok: true });
    expect(click.status).toBe(200);
  });

  it('gives each cached answer its own queryId: only the client it was served to can click it, once (issue 10 item 9)', async () => {
    const as = (ip: string) => ({ headers: { 'cf-connecting-ip': ip } });
    const first = await edge!.fetch('/search?q=yellow&limit=4', as('192.0.2.50'));
    expect(first.headers.get('x-cache')).toBe('MISS');
    const original = (await first.json()) as RestSearch;
    await cachedSearch({ text: 'yellow', limit: 4 });
    const reports = impressionReports().length;
    const served = await Promise.all(
      ['192.0.2.51', '192.0.2.52'].map(async (ip) => {
        const response = await edge!.fetch('/search?q=yellow&limit=4', as(ip));
        expect(response.headers.get('x-cache')).toBe('HIT');
        return (await response.json()) as RestSearch;
      }),
    );
    const queryIds = new Set([original.query_id, ...served.map((a) => a.query_id)]);
    expect(queryIds.size).toBe(3);
    await vi.waitFor(() => expect(impressionReports().length).toBe(reports + 2), { timeout: 5000 });

    const click = (queryId: string, ip: string) =>
      edge!.fetch(`/search/${queryId}/click`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
        body: JSON.stringify({ clicked_id: original.results[0]!.image_id }),
      });
    // the client the cached answer went to may click it, and it counts once
    await vi.waitFor(async () => expect((await click(served[0]!.query_id, '192.0.2.51')).status).toBe(200), {
      timeout: 5000,
    });
    expect((await click(served[0]!.query_id, '192.0.2.51')).status).toBe(200);
    // another client (the one who ran the original, or anyone) cannot click someone else's answer
    const forged = await click(served[0]!.query_id, '192.0.2.99');
    expect(forged.status).toBe(404);
    expect((await click(original.query_id, '192.0.2.51')).status).toBe(404);
  });
});
