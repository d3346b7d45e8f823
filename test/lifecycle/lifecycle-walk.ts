import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { ensureTinyModels } from '../fixtures/tiny-clip/generate.ts';
import type { Backend } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

/**
 * The model lifecycle walked end to end (issue 11, "Test models"), shared by the in-process
 * backends and cluster mode: v1 active with uploads, clicks and a curated golden set; re-index
 * to another version while uploading, under a concurrent search load; traffic slice; gate;
 * promote; rollback; retire. Every step asserts what a user or an admin would see.
 */

/** Settings that keep the walk short on a shared 2-core machine. */
export const WALK_ENV = {
  PIXELFIND_MODEL: 'tiny-clip-v1',
  LIFECYCLE_AUTO_REINDEX: 'false',
  LIFECYCLE_POLL_MS: '100',
  ALLOW_ANONYMOUS_UPLOADS: 'false',
  // the machine is shared: a shard late under load is not what this test is about
  SHARD_DEADLINE_MS: '3000',
};
export const WALK_OVERRIDES = {
  nsfw: false,
  worker: { batchSize: 8, pollMs: 20, backoffBaseSeconds: 0 },
  reindex: { batchSize: 4, pollMs: 50, maxYieldMs: 500 },
};

export const V1 = 'tiny-clip-v1';
export const V2 = 'tiny-clip-v2';
export const BROKEN = 'tiny-clip-broken';

const COLOURS = ['red', 'green', 'blue', 'yellow', 'cyan', 'orange'] as const;
type Colour = (typeof COLOURS)[number];

interface Gql {
  data?: Record<string, unknown>;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface Library {
  admin: Record<string, string>;
  users: Record<string, string>[];
  /** image ids per dominant colour */
  byColour: Map<Colour, string[]>;
  worker: IndexingWorker;
}

export const VERSION_FIELDS = `modelVersion state trafficFraction progress { done total etaSeconds }
  evaluation { goldenRecallAt10 ndcgAt10 annRecallText annRecallImage goldenQueries similarityFloor }
  startedAt readyAt promotedAt demotedAt retiredAt`;

export async function gql(
  t: TestApp,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) {
  const { body } = await t.gql(query, variables, headers);
  return body as Gql;
}

async function ok<T>(
  t: TestApp,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) {
  const body = await gql(t, query, variables, headers);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

/** A solid image of `colour`; sizes make distinct bytes (distinct images) of one colour. */
async function uploadColour(t: TestApp, lib: Pick<Library, 'admin'>, colour: Colour, size: number) {
  const { body } = await t.upload(await makeColourImage({ colour, size }), {}, { headers: lib.admin });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
}

export async function drain(worker: IndexingWorker): Promise<void> {
  while ((await worker.runBatch()).length > 0) {}
}

/** v1 ACTIVE over a small library, two clicked searches and a curated golden set per colour. */
export async function seedLibrary(t: TestApp): Promise<Library> {
  const adminKey = (await t.services.apiKeys.create('admin', 'ops')).key;
  const admin = { authorization: `Bearer ${adminKey}` };
  const users: Record<string, string>[] = [];
  for (let i = 0; i < 8; i++) {
    users.push({ authorization: `Bearer ${(await t.services.apiKeys.create('user', `u${i}`)).key}` });
  }
  const worker = await t.services.createWorker();
  const byColour = new Map<Colour, string[]>();
  for (const colour of COLOURS) {
    for (const size of [48, 56]) {
      const id = await uploadColour(t, { admin }, colour, size);
      byColour.set(colour, [...(byColour.get(colour) ?? []), id]);
    }
  }
  await drain(worker);
  for (const colour of COLOURS) {
    await ok(
      t,
      'mutation($t: String!, $r: [ID!]!) { addGoldenQuery(text: $t, relevantIds: $r) { goldenQuery { id } } }',
      { t: colour, r: byColour.get(colour)! },
      admin,
    );
  }
  // an image golden query and a mined one: searched and clicked
  await ok(
    t,
    'mutation($i: ID!, $r: [ID!]!) { addGoldenQuery(imageId: $i, relevantIds: $r) { goldenQuery { id } } }',
    { i: byColour.get('red')![0], r: byColour.get('red')!.slice(1) },
    admin,
  );
  for (const colour of ['blue', 'green'] as const) {
    const found = await search(t, colour, users[0]!);
    const hit = found.hits.find((h) => byColour.get(colour)!.includes(h.image.id))!;
    await ok(
      t,
      'mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { position } }',
      { q: found.queryId, i: hit.image.id },
      users[0]!,
    );
  }
  return { admin, users, byColour, worker };
}

export interface Answer {
  queryId: string;
  modelVersion: string;
  hits: { image: { id: string } }[];
}

export async function search(t: TestApp, text: string, headers: Record<string, string>): Promise<Answer> {
  const data = await ok<{ search: Answer }>(
    t,
    'query($t: String!) { search(input: { text: $t, limit: 5 }) { queryId modelVersion hits { image { id } } } }',
    { t: text },
    headers,
  );
  return data.search;
}

/** Searches in a loop from every user until stopped: what failed, what each version answered. */
export function searchLoad(t: TestApp, lib: Library) {
  let running = true;
  const failures: string[] = [];
  const answers: { colour: Colour; answer: Answer }[] = [];
  const loops = [0, 1].map(async (lane) => {
    let n = lane;
    while (running) {
      const colour = COLOURS[n % COLOURS.length]!;
      const user = lib.users[n % lib.users.length]!;
      n += 2;
      try {
        answers.push({ colour, answer: await search(t, colour, user) });
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  return {
    answers,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { answers, failures };
    },
  };
}

export async function versions(t: TestApp, lib: Library) {
  const data = await ok<{ indexVersions: Record<string, unknown>[] }>(
    t,
    `{ indexVersions { ${VERSION_FIELDS} } }`,
    {},
    lib.admin,
  );
  return new Map(data.indexVersions.map((v) => [v.modelVersion as string, v]));
}

export async function waitForState(
  t: TestApp,
  lib: Library,
  modelVersion: string,
  state: string,
  ms = 40_000,
) {
  const until = Date.now() + ms;
  for (;;) {
    const v = (await versions(t, lib)).get(modelVersion);
    if (v?.state === state) return v;
    if (Date.now() > until) throw new Error(`${modelVersion} is ${JSON.stringify(v)}, expected ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every answer: its query log row names the version it reported, and its best hit is right. */
export async function expectConsistent(
  backend: Backend,
  t: TestApp,
  lib: Library,
  answers: { colour: Colour; answer: Answer }[],
) {
  await t.services.queryLog.flush();
  const { rows } = await backend.db.query<{ id: string; model_version: string }>(
    'SELECT id::text AS id, model_version FROM search_queries WHERE id = ANY($1::uuid[])',
    [answers.map((a) => a.answer.queryId)],
  );
  const logged = new Map(rows.map((r) => [r.id, r.model_version]));
  for (const { colour, answer } of answers) {
    expect(logged.get(answer.queryId)).toBe(answer.modelVersion);
    // one model's query vector in its own index: the colour's images come first
    expect(lib.byColour.get(colour)).toContain(answer.hits[0]?.image.id);
  }
}

export async function liveImages(backend: Backend): Promise<number> {
  const { rows } = await backend.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM images WHERE status = 'INDEXED' AND deleted_at IS NULL AND duplicate_of IS NULL`,
  );
  return rows[0]!.n;
}

export async function embeddingsOf(backend: Backend, modelVersion: string): Promise<number> {
  const { rows } = await backend.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM embeddings WHERE model_version = $1 AND deleted_at IS NULL',
    [modelVersion],
  );
  return rows[0]!.n;
}

/** The walk itself. */
export async function walkToV2(backend: Backend, t: TestApp, lib: Library): Promise<void> {
  const load = searchLoad(t, lib);
  try {
    await walkUnderLoad(backend, t, lib, load);
  } finally {
    await load.stop();
    await lib.worker.stop();
    await t.services.reindex.stop();
  }
}

async function walkUnderLoad(
  backend: Backend,
  t: TestApp,
  lib: Library,
  load: ReturnType<typeof searchLoad>,
): Promise<void> {
  const { admin } = lib;

  // re-index while uploading: the uploads land in both versions
  const started = await ok<{ startReindex: { indexVersion: { state: string } } }>(
    t,
    'mutation($m: String!) { startReindex(modelVersion: $m) { indexVersion { state } } }',
    { m: V2 },
    admin,
  );
  expect(started.startReindex.indexVersion.state).toBe('BUILDING');
  t.services.reindex.start();
  lib.worker.start();
  for (const colour of COLOURS) {
    const id = await uploadColour(t, lib, colour, 72);
    lib.byColour.set(colour, [...lib.byColour.get(colour)!, id]);
  }
  const ready = await waitForState(t, lib, V2, 'READY').catch((error) => {
    throw new Error(`${error}; load failures: ${load.failures.slice(0, 3).join(' | ')}`);
  });
  await lib.worker.stop();
  await drain(lib.worker);
  // every live image, those uploaded during the walk included, has its v2 vector
  expect(await embeddingsOf(backend, V2)).toBe(await liveImages(backend));
  const evaluation = ready.evaluation as Record<string, number>;
  expect(evaluation.goldenQueries).toBeGreaterThanOrEqual(8);
  expect(evaluation.annRecallText).toBeGreaterThanOrEqual(0.95);
  expect(evaluation.annRecallImage).toBeGreaterThanOrEqual(0.95);
  expect(evaluation.goldenRecallAt10).toBeGreaterThan(0.5);
  expect(evaluation.similarityFloor).toBeGreaterThan(0);

  // traffic slice: half of the callers, each always on the same side
  await ok(
    t,
    'mutation($m: String!) { setIndexTraffic(modelVersion: $m, fraction: 0.5) { indexVersion { trafficFraction } } }',
    { m: V2 },
    admin,
  );
  const sides = new Map<number, Set<string>>();
  for (let round = 0; round < 2; round++) {
    for (const [i, user] of lib.users.entries()) {
      const answer = await search(t, 'red', user);
      sides.set(i, (sides.get(i) ?? new Set()).add(answer.modelVersion));
    }
  }
  expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
  const served = new Set([...sides.values()].flatMap((s) => [...s]));
  expect(served).toEqual(new Set([V1, V2]));
  // a slice's answer is the caller's own: never shared by the edge's result cache
  const slicedUser = lib.users[[...sides.entries()].find(([, s]) => s.has(V2))![0]]!;
  const slicedResponse = await t.app.fetch('http://pixelfind.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...slicedUser },
    body: JSON.stringify({ query: '{ search(input: { text: "red" }) { modelVersion } }' }),
  });
  expect((await slicedResponse.json()).data.search.modelVersion).toBe(V2);
  expect(slicedResponse.headers.get('cache-control')).toMatch(/no-store/);
  await t.services.queryLog.flush();
  const report = await ok<{
    relevanceReport: { totals: { modelVersion: string; queries: number; clickThroughRate: number }[] };
  }>(
    t,
    '{ relevanceReport(window: "1h") { totals { modelVersion rankerVersion queries clickThroughRate saveRate } hourly { start modelVersion } daily { start } } }',
    {},
    admin,
  );
  expect(new Set(report.relevanceReport.totals.map((r) => r.modelVersion))).toEqual(new Set([V1, V2]));
  expect(report.relevanceReport.totals.find((r) => r.modelVersion === V1)!.clickThroughRate).toBeGreaterThan(
    0,
  );

  // promote under load: the gate passes, and the next queries run on v2
  const promoted = await ok<{ promoteIndex: { indexVersion: { state: string }; gate: { passed: boolean } } }>(
    t,
    'mutation($m: String!) { promoteIndex(modelVersion: $m) { indexVersion { state } gate { passed failures goldenRecallAt10 requiredGoldenRecallAt10 } } }',
    { m: V2 },
    admin,
  );
  expect(promoted.promoteIndex).toMatchObject({ indexVersion: { state: 'ACTIVE' }, gate: { passed: true } });
  expect((await search(t, 'cyan', lib.users[0]!)).modelVersion).toBe(V2);
  const { status, body, headers } = await (async () => {
    const res = await t.app.fetch('http://pixelfind.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...lib.users[1]! },
      body: JSON.stringify({ query: '{ search(input: { text: "blue" }) { modelVersion } }' }),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  })();
  expect(status).toBe(200);
  expect(body.data.search.modelVersion).toBe(V2);
  // the edge learns the serving version from every response
  expect(headers.get('x-pixelfind-model-version')).toBe(V2);
  expect((await versions(t, lib)).get(V1)?.state).toBe('PREVIOUS');

  // rollback: v1 at once (it is warm), v2 READY again
  const rolled = await ok<{ rollbackIndex: { indexVersion: { modelVersion: string; state: string } } }>(
    t,
    'mutation { rollbackIndex { indexVersion { modelVersion state } } }',
    {},
    admin,
  );
  expect(rolled.rollbackIndex.indexVersion).toEqual({ modelVersion: V1, state: 'ACTIVE' });
  expect((await search(t, 'cyan', lib.users[0]!)).modelVersion).toBe(V1);
  expect((await versions(t, lib)).get(V2)?.state).toBe('READY');

  // promote again, then the rollback window passes: v1 is retired and its shard memory freed
  await ok(
    t,
    'mutation($m: String!) { promoteIndex(modelVersion: $m) { indexVersion { state } } }',
    { m: V2 },
    admin,
  );
  const { answers, failures } = await load.stop();
  expect(failures).toEqual([]);
  expect(answers.length).toBeGreaterThan(10);
  expect(new Set(answers.map((a) => a.answer.modelVersion))).toEqual(new Set([V1, V2]));
  await expectConsistent(backend, t, lib, answers);

  await backend.db.query(
    `UPDATE index_versions SET demoted_at = now() - interval '2 days' WHERE model_version = $1`,
    [V1],
  );
  expect(await t.services.lifecycle.retireCold()).toEqual([V1]);
  expect((await versions(t, lib)).get(V1)?.state).toBe('RETIRED');
  const stats = await t.services.cluster.stats();
  const served2 = stats.shards.flatMap((s) =>
    s.replicas.flatMap((r) => (r.stats?.modelVersions ?? []).map((m) => m.modelVersion)),
  );
  expect(served2).toContain(V2);
  expect(served2).not.toContain(V1);
  // rollback is refused now: nothing PREVIOUS
  const late = await gql(t, 'mutation { rollbackIndex { indexVersion { state } } }', {}, admin);
  expect(late.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  // embeddings of a retired version are kept by default
  expect(await embeddingsOf(backend, V1)).toBeGreaterThan(0);
}

/** The same walk to the broken model: built, evaluated, refused by the gate with the numbers. */
export async function walkToBroken(t: TestApp, lib: Library): Promise<void> {
  const active = [...(await versions(t, lib)).values()].find((v) => v.state === 'ACTIVE')!.modelVersion;
  await ok(
    t,
    'mutation($m: String!) { startReindex(modelVersion: $m) { indexVersion { state } } }',
    { m: BROKEN },
    lib.admin,
  );
  t.services.reindex.start();
  await waitForState(t, lib, BROKEN, 'READY').finally(() => t.services.reindex.stop());
  const refused = await gql(
    t,
    'mutation($m: String!) { promoteIndex(modelVersion: $m) { indexVersion { state } } }',
    { m: BROKEN },
    lib.admin,
  );
  const error = refused.errors?.[0];
  expect(error?.extensions?.code).toBe('GATE_FAILED');
  const gate = error!.extensions!.gate as { numbers: Record<string, number>; failures: string[] };
  expect(gate.numbers.goldenRecallAt10).toBeLessThan(gate.numbers.requiredGoldenRecallAt10!);
  expect(gate.failures.join(' ')).toMatch(/golden recall@10/);
  expect(error!.message).toMatch(/golden recall@10 0\.\d+ < 0\.\d+/);
  const after = await versions(t, lib);
  expect(after.get(BROKEN)?.state).toBe('READY');
  expect([...after.values()].find((v) => v.state === 'ACTIVE')!.modelVersion).toBe(active);
  expect((await search(t, 'red', lib.users[0]!)).modelVersion).toBe(active);
}

/**
 * Registers the walk in the current describe block: `open` makes the backend and returns any
 * settings on top of WALK_ENV (cluster mode's shard servers) and what to close after the block;
 * the app is seeded, then walked to tiny-clip-v2 and to tiny-clip-broken.
 */
export function itWalksTheLifecycle(
  open: () => Promise<{ backend: Backend; env?: Record<string, string>; close?: () => Promise<void> }>,
  timeouts: { setup: number; walk: number },
): void {
  let backend: Backend;
  let t: TestApp;
  let lib: Library;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    await ensureTinyModels();
    const opened = await open();
    backend = opened.backend;
    close = opened.close;
    t = await createTestApp(backend, { ...WALK_ENV, ...opened.env }, WALK_OVERRIDES);
    lib = await seedLibrary(t);
  }, timeouts.setup);
  afterAll(async () => {
    await t?.close();
    await close?.();
    await backend?.dispose();
  });

  it(
    're-indexes to tiny-clip-v2 under search load, slices traffic, promotes, rolls back and retires with no failed query',
    async () => {
      await walkToV2(backend, t, lib);
    },
    timeouts.walk,
  );

  it('refuses the same walk to tiny-clip-broken at the gate with the numbers', async () => {
    await walkToBroken(t, lib);
  }, 120_000);
}
