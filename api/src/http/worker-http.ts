import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ProcessMetrics } from '../../../search-cluster/src/index.ts';
import { type ScrapeAccess, scrapeAllowed } from '../metrics/scrape-access.ts';
import { type ReadinessChecks, runReadiness } from './readiness.ts';

export interface WorkerHttpOptions {
  metrics: ProcessMetrics;
  /** Who may read `/metrics` (METRICS_TOKEN; open without one only in single mode). */
  access: ScrapeAccess;
  /** What `/readyz` checks (database, blobs, shards). */
  checks: ReadinessChecks;
  /** While true, `/readyz` answers 503 `draining`. */
  isDraining?: () => boolean;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The worker process's small HTTP listener: `/healthz` (alive), `/readyz` (its dependencies
 * answer and it is not stopping), `/metrics` (Prometheus text). Nothing else: the worker takes
 * no requests, it claims jobs from the database.
 */
export function createWorkerHttpServer(options: WorkerHttpOptions): Server {
  const { metrics } = options;
  const handle = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      if (options.isDraining?.()) return sendJson(res, 503, { status: 'draining' });
      const { ready, checks } = await runReadiness(options.checks);
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    }
    if (path === '/metrics' && scrapeAllowed(req.headers.authorization ?? null, options.access)) {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  };
  return createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res.once('finish', () =>
      metrics.observeHttp(path, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000),
    );
    handle(req, res, path).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
}
