import { Writable } from 'node:stream';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLogger, wrapLogger } from '../../../search-cluster/src/index.ts';
import { useAccessLog } from './use-access-log.ts';
import { useHealth } from './use-health.ts';

function setUp() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = wrapLogger(createLogger({ level: 'info', destination: sink })).child({ component: 'api' });
  const accessLog = useAccessLog({ log });
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Query { hello: String }',
      resolvers: { Query: { hello: () => 'hi' } },
    }),
    logging: false,
    // the health plugin answers before GraphQL runs: its requests are logged all the same
    plugins: [accessLog.plugin, useHealth({ checks: {} })],
  });
  return { lines, yoga };
}

describe('access log', () => {
  it('logs one line per request with method, bounded route, status, duration and the id it echoes', async () => {
    const { lines, yoga } = setUp();
    const response = await yoga.fetch('http://pixelfind.test/graphql?query={hello}', {
      headers: { 'x-request-id': 'edge-42' },
    });
    expect(response.headers.get('x-request-id')).toBe('edge-42');
    await yoga.fetch('http://pixelfind.test/blobs/images/aa/bb.jpg');
    await yoga.fetch('http://pixelfind.test/healthz');
    await yoga.fetch('http://pixelfind.test/wp-admin/anything');
    const requests = lines.filter((line) => line.msg === 'request');
    expect(requests).toHaveLength(4);
    expect(requests[0]).toMatchObject({
      component: 'api',
      level: 'info',
      requestId: 'edge-42',
      method: 'GET',
      route: '/graphql',
      status: 200,
    });
    expect(typeof requests[0]!.durationMs).toBe('number');
    expect(requests.map((line) => line.route)).toEqual(['/graphql', '/blobs/*', '/healthz', 'other']);
  });

  it('takes the trace id of traceparent when no x-request-id is given, else mints one', async () => {
    const { yoga } = setUp();
    const traced = await yoga.fetch('http://pixelfind.test/healthz', {
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    expect(traced.headers.get('x-request-id')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    // an id a caller could use to forge log lines is replaced, not echoed
    const forged = await yoga.fetch('http://pixelfind.test/healthz', {
      headers: { 'x-request-id': 'x {"level":"error"}' },
    });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
