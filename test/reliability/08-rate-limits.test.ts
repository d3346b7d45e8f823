import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends, TEST_REDIS_URL } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { startHttp } from './support.ts';

const QUERY = JSON.stringify({ query: '{ __typename }' });

describe.each(backends)('item 8: rate limits per address and per API key ($name)', ({ name, create }) => {
  let backend: Backend;
  let a: TestApp;
  let b: TestApp;
  let http: Awaited<ReturnType<typeof startHttp>>;
  let httpB: Awaited<ReturnType<typeof startHttp>>;

  beforeAll(async () => {
    await ensureTinyClip();
    backend = await create();
    const env = {
      RATE_LIMIT_PER_ADDRESS: '5',
      RATE_LIMIT_PER_KEY: '3',
      RATE_LIMIT_EXEMPT_LOOPBACK: 'false',
      // with Redis the budgets are shared by every API process: two apps here
      ...(name === 'postgres+redis'
        ? { REDIS_URL: TEST_REDIS_URL, RATE_LIMIT_PREFIX: `pf-test-rl-${randomBytes(4).toString('hex')}:` }
        : {}),
    };
    a = await createTestApp(backend, env);
    b = await createTestApp(backend, env);
    http = await startHttp(a);
    httpB = await startHttp(b);
  }, 60_000);

  afterAll(async () => {
    await http?.close();
    await httpB?.close();
    await a?.close();
    await b?.close();
    await backend?.dispose();
  });

  const post = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: QUERY,
    });

  it('answers 429 RATE_LIMITED with Retry-After once an address spends its budget', async () => {
    for (let i = 0; i < 5; i++) expect((await post(http.url)).status).toBe(200);
    const refused = await post(http.url);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('RATE_LIMITED');
    // health checks are not GraphQL requests and stay reachable
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
  });

  it(
    name === 'postgres+redis'
      ? 'shares the address budget across API processes through Redis'
      : 'keeps each single-mode process its own in-memory budget',
    async () => {
      const status = (await post(httpB.url)).status;
      expect(status).toBe(name === 'postgres+redis' ? 429 : 200);
    },
  );

  it('limits each API key on its own budget, even without an address (in-process)', async () => {
    const { key } = await a.services.apiKeys.create('user', `rl-${randomBytes(3).toString('hex')}`);
    const { key: other } = await a.services.apiKeys.create('user', `rl-${randomBytes(3).toString('hex')}`);
    const call = (k: string) => a.gql('{ __typename }', {}, { authorization: `Bearer ${k}` });
    for (let i = 0; i < 3; i++) expect((await call(key)).status).toBe(200);
    const refused = await call(key);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await call(other)).status).toBe(200);
  });
});

describe('item 8: the defaults leave loopback clients of a single-mode server alone', () => {
  it('does not limit 30 loopback requests with the default settings', async () => {
    const backend = await backends[0]!.create();
    const t = await createTestApp(backend);
    const http = await startHttp(t);
    try {
      const statuses = new Set<number>();
      for (let i = 0; i < 30; i++)
        statuses.add(
          (
            await fetch(`${http.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: QUERY,
            })
          ).status,
        );
      expect([...statuses]).toEqual([200]);
    } finally {
      await http.close();
      await t.close();
      await backend.dispose();
    }
  }, 60_000);
});
