import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics } from '../metrics/worker-metrics.ts';
import { createWorkerHttpServer, type WorkerHttpOptions } from './worker-http.ts';

describe("the worker's health and metrics listener", () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  const start = async (options: Partial<WorkerHttpOptions> = {}) => {
    const metrics = createWorkerMetrics();
    const server = createWorkerHttpServer({
      metrics,
      access: { token: null, open: false },
      checks: {},
      ...options,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, metrics };
  };

  it('keeps /metrics behind METRICS_TOKEN (404 without it in cluster mode), health open', async () => {
    const { url } = await start({ access: { token: 'scrape-secret', open: false } });
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(404);
    const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toContain('# TYPE pixelfind_upload_to_indexed_seconds histogram');
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const closed = await start();
    expect((await fetch(`${closed.url}/metrics`)).status).toBe(404);
  });

  it('answers /readyz 503 naming the failing dependency, and while draining', async () => {
    let draining = false;
    const { url } = await start({
      checks: {
        database: async () => {},
        shards: async () => {
          throw new Error('no serving replica for shard 1');
        },
      },
      isDraining: () => draining,
    });
    const failing = await fetch(`${url}/readyz`);
    expect(failing.status).toBe(503);
    expect(await failing.json()).toEqual({
      status: 'not ready',
      checks: { database: 'ok', shards: 'no serving replica for shard 1' },
    });
    draining = true;
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'draining' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('counts its requests under fixed routes: unknown paths are "other"', async () => {
    const { url, metrics } = await start();
    for (const path of ['/healthz', '/x/1', '/y/2', '/healthz?probe=1']) await fetch(`${url}${path}`);
    const values = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'pixelfind_http_request_duration_seconds',
    )!.values as { labels: Record<string, string>; value: number; metricName?: string }[];
    const counts = Object.fromEntries(
      values
        .filter((v) => v.metricName === 'pixelfind_http_request_duration_seconds_count')
        .map((v) => [`${v.labels.route} ${v.labels.status}`, v.value]),
    );
    expect(counts).toEqual({ '/healthz 2xx': 2, 'other 4xx': 2 });
  });
});
