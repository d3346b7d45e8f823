import { describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const CLUSTER = {
  PIXELFIND_MODE: 'cluster',
  PIXELFIND_CLUSTER_INCOMPLETE_OK: 'production-surface test: the cluster-mode surface over the test backend',
  HOST: '0.0.0.0',
};
const INTROSPECTION = '{ __schema { queryType { name } } }';

describe.each(backends)('item 11: the production surface in cluster mode ($name)', ({ create }) => {
  let single: TestApp;
  let cluster: TestApp;
  let enabled: TestApp;

  useTestApps(
    create,
    async (open) => {
      single = await open();
      cluster = await open(CLUSTER);
      enabled = await open({
        ...CLUSTER,
        GRAPHQL_INTROSPECTION: 'true',
        GRAPHIQL: 'true',
        GRAPHQL_FIELD_SUGGESTIONS: 'true',
        METRICS_TOKEN: 'scrape-secret',
      });
    },
    60_000,
  );

  const graphiql = async (t: TestApp) => {
    const r = await t.app.fetch('http://pixelfind.test/graphql', { headers: { accept: 'text/html' } });
    return {
      status: r.status,
      html:
        (r.headers.get('content-type') ?? '').includes('text/html') && (await r.text()).includes('GraphiQL'),
    };
  };
  const suggestion = async (t: TestApp) =>
    (await t.gql('{ serch(input: {text: "a"}) { queryId } }')).body.errors?.[0]?.message ?? '';
  const metrics = async (t: TestApp, headers: Record<string, string> = {}) =>
    (await t.app.fetch('http://pixelfind.test/metrics', { headers })).status;

  it('refuses introspection, GraphiQL, field suggestions and open /metrics by default', async () => {
    const introspection = await cluster.gql(INTROSPECTION);
    expect(introspection.status).toBe(400);
    expect(introspection.body.data).toBeUndefined();
    expect((await graphiql(cluster)).html).toBe(false);
    const message = await suggestion(cluster);
    expect(message).not.toMatch(/Did you mean/);
    expect(message).not.toContain('search');
    expect(await metrics(cluster)).toBe(404);
  });

  it('keeps all of it in single mode', async () => {
    expect((await single.gql(INTROSPECTION)).body.data).toEqual({
      __schema: { queryType: { name: 'Query' } },
    });
    expect((await graphiql(single)).html).toBe(true);
    expect(await suggestion(single)).toMatch(/Did you mean "search"/);
    expect(await metrics(single)).toBe(200);
  });

  it('turns each on by setting, and /metrics answers only with the token', async () => {
    expect((await enabled.gql(INTROSPECTION)).body.data).toBeTruthy();
    expect((await graphiql(enabled)).html).toBe(true);
    expect(await suggestion(enabled)).toMatch(/Did you mean/);
    expect(await metrics(enabled)).toBe(404);
    expect(await metrics(enabled, { authorization: 'Bearer wrong' })).toBe(404);
    expect(await metrics(enabled, { authorization: 'Bearer scrape-secret' })).toBe(200);
  });
});
