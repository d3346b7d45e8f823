import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { badRequest, HTTP_STATUS, isClusterError } from '../errors.ts';
import { AUTH_HEADER, bearerMatches, isLoopbackHost, MIN_AUTH_TOKEN_LENGTH } from '../protocol/auth.ts';
import { PATHS } from '../protocol/client.ts';
import {
  BINARY_CONTENT_TYPE,
  decodeDeleteRequest,
  decodeSearchRequest,
  decodeUpsertRequest,
  encodeSearchResponse,
  toJson,
} from '../protocol/wire.ts';
import { type Logger, silentLogger } from '../shard/options.ts';
import type { Shard } from '../shard/shard.ts';
import { createShardServerMetrics, type ShardServerMetrics } from './shard-server-metrics.ts';

export interface ShardServerOptions {
  shard: Shard;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Interface to listen on. Default '127.0.0.1'. Any other (e.g. '0.0.0.0' in a container)
   * requires `authToken`: anyone who reaches the port could otherwise rewrite the index.
   */
  host?: string;
  /**
   * Shared secret (SHARD_AUTH_TOKEN, at least 32 characters) every call but GET /healthz must
   * carry as `authorization: Bearer <token>`; otherwise 401. Default: none, loopback only.
   */
  authToken?: string | null;
  /** Largest request body accepted. Default 512 MiB (an upsert batch of ~250k 512-d vectors). */
  maxBodyBytes?: number;
  log?: Logger;
  /** The registry `/metrics` serves (HTTP durations are recorded on it). Default: a new one tracking `shard`. */
  metrics?: ShardServerMetrics;
}

export interface ShardServer {
  /** Base URL, e.g. http://127.0.0.1:7001 */
  url: string;
  port: number;
  server: Server;
  metrics: ShardServerMetrics;
  /** Stops accepting connections and waits for requests in flight; does not close the shard. */
  close(): Promise<void>;
}

class PayloadTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new PayloadTooLarge(`Request body of ${declared} bytes exceeds the ${limit} byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new PayloadTooLarge(`Request body exceeds the ${limit} byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = toJson(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendBinary(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'content-type': BINARY_CONTENT_TYPE, 'content-length': body.byteLength });
  res.end(body);
}

function parseJson(body: Buffer): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {}
  throw badRequest('Expected a JSON object body');
}

/**
 * The shard server: a Shard behind node:http speaking the binary protocol of ../protocol/wire.ts.
 *
 *   GET  /healthz            liveness: 200 {status: 'ok' | 'loading' | 'closed', ...} while the process runs
 *   GET  /readyz             readiness: 200 {status: 'ok', ...} once every model version serves, 503 before
 *   GET  /metrics            Prometheus text format (shard-metrics.ts, plus process and HTTP metrics)
 *   GET  /v1/stats           JSON ShardStats
 *   POST /v1/search          binary SEARCH_REQUEST -> binary SEARCH_RESPONSE
 *   POST /v1/upsert          binary UPSERT_REQUEST -> {upserted, unchanged}
 *   POST /v1/delete          binary DELETE_REQUEST -> {deleted}
 *   POST /v1/rebuild         {modelVersion} -> RebuildOutcome (answers when the swap is done)
 *   GET  /v1/model-versions  [{name, dimension}]
 *   POST /v1/model-versions  {name, dimension} -> 201
 *   POST /v1/model-versions/drop {name} -> 200 (frees a retired version's memory and snapshots)
 *
 * With an auth token, every route but /healthz and /readyz answers 401 UNAUTHENTICATED without it.
 * Errors are JSON {code, message} with the status of HTTP_STATUS[code]; an unexpected fault is a
 * 500 and is logged, never a crash.
 */
export async function startShardServer(options: ShardServerOptions): Promise<ShardServer> {
  const { shard } = options;
  const log = options.log ?? silentLogger;
  const limit = options.maxBodyBytes ?? 512 * 1024 * 1024;
  const host = options.host ?? '127.0.0.1';
  const authToken = options.authToken || null;
  if (authToken !== null && authToken.length < MIN_AUTH_TOKEN_LENGTH) {
    throw new Error(`SHARD_AUTH_TOKEN must be at least ${MIN_AUTH_TOKEN_LENGTH} characters`);
  }
  if (authToken === null && !isLoopbackHost(host)) {
    throw new Error(
      `Refusing to listen on ${host} without SHARD_AUTH_TOKEN: anyone reaching the port could rewrite the index`,
    );
  }

  const metrics = options.metrics ?? createShardServerMetrics();
  if (!options.metrics) metrics.shards.track(shard);
  const openRoutes = new Set([`GET ${PATHS.health}`, `GET ${PATHS.ready}`]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    // health stays open for probes and load balancers; it reveals nothing an attacker can use
    if (authToken !== null && !openRoutes.has(route)) {
      const header = req.headers[AUTH_HEADER];
      if (!bearerMatches(typeof header === 'string' ? header : undefined, authToken)) {
        req.resume();
        res.setHeader('www-authenticate', 'Bearer');
        sendJson(res, 401, {
          code: 'UNAUTHENTICATED',
          message: 'Expected authorization: Bearer <SHARD_AUTH_TOKEN>',
        });
        return;
      }
    }
    switch (route) {
      case `GET ${PATHS.health}`:
        // alive while loading: a liveness probe failing here would restart a loading shard forever
        sendJson(res, 200, shard.health());
        return;
      case `GET ${PATHS.ready}`: {
        const health = shard.health();
        sendJson(res, health.status === 'ok' ? 200 : 503, health);
        return;
      }
      case `GET ${PATHS.metrics}`: {
        const text = await metrics.registry.metrics();
        res.writeHead(200, {
          'content-type': metrics.registry.contentType,
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      case `GET ${PATHS.stats}`:
        sendJson(res, 200, shard.stats());
        return;
      case `POST ${PATHS.search}`: {
        const m = decodeSearchRequest(await readBody(req, limit));
        const results = await shard.search(m);
        sendBinary(res, encodeSearchResponse(results, m.k));
        return;
      }
      case `POST ${PATHS.upsert}`: {
        const m = decodeUpsertRequest(await readBody(req, limit));
        sendJson(res, 200, await shard.upsert(m.modelVersion, m.ids, m.vectors));
        return;
      }
      case `POST ${PATHS.delete}`: {
        const m = decodeDeleteRequest(await readBody(req, limit));
        sendJson(res, 200, await shard.delete(m.modelVersion, m.ids));
        return;
      }
      case `POST ${PATHS.rebuild}`: {
        const { modelVersion } = parseJson(await readBody(req, 1 << 16));
        sendJson(res, 200, await shard.rebuild(modelVersion as string));
        return;
      }
      case `GET ${PATHS.modelVersions}`:
        sendJson(res, 200, shard.modelVersions);
        return;
      case `POST ${PATHS.modelVersions}`: {
        const { name, dimension } = parseJson(await readBody(req, 1 << 16));
        await shard.addModelVersion(name as string, dimension as number);
        sendJson(res, 201, { name, dimension });
        return;
      }
      case `POST ${PATHS.dropModelVersion}`: {
        const { name } = parseJson(await readBody(req, 1 << 16));
        await shard.dropModelVersion(name as string);
        sendJson(res, 200, { name });
        return;
      }
      default:
        sendJson(res, 404, { code: 'NOT_FOUND', message: `No route ${route}` });
    }
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    res.once('finish', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      metrics.observeHttp(path, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000);
    });
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof PayloadTooLarge) {
        sendJson(res, 413, { code: 'BAD_REQUEST', message: error.message });
      } else if (isClusterError(error)) {
        sendJson(res, HTTP_STATUS[error.code], { code: error.code, message: error.message });
      } else {
        log.error('request failed', { url: req.url, error: (error as Error).stack ?? String(error) });
        sendJson(res, 500, { code: 'INTERNAL', message: (error as Error).message ?? 'Internal error' });
      }
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const urlHost = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    server,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // requests in flight get a grace period, then their connections are cut
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}
