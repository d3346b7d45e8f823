import { Agent, request } from 'node:http';
import { ClusterError, type ClusterErrorCode, HTTP_STATUS } from '../errors.ts';
import type { RebuildOutcome } from '../shard/model-index.ts';
import type { ShardHealth, ShardSearchRequest, ShardStats } from '../shard/shard.ts';
import type { Hit } from '../shard/topk.ts';
import { AUTH_HEADER } from './auth.ts';
import {
  BINARY_CONTENT_TYPE,
  decodeSearchResponse,
  encodeDeleteRequest,
  encodeSearchRequest,
  encodeUpsertRequest,
  toJson,
} from './wire.ts';

/** Paths of the shard server; the client and server share them. */
export const PATHS = {
  /** Liveness: 200 while the process runs, loading included (the body says which). */
  health: '/healthz',
  /** Readiness: 200 once every model version serves, 503 before. */
  ready: '/readyz',
  /** Prometheus text format (behind SHARD_AUTH_TOKEN like every route but the two above). */
  metrics: '/metrics',
  stats: '/v1/stats',
  search: '/v1/search',
  upsert: '/v1/upsert',
  delete: '/v1/delete',
  rebuild: '/v1/rebuild',
  modelVersions: '/v1/model-versions',
  dropModelVersion: '/v1/model-versions/drop',
} as const;

interface RawResponse {
  status: number;
  body: Buffer;
}

const KNOWN_CODES = new Set(Object.keys(HTTP_STATUS));

/**
 * Talks to one shard server replica. Errors the server reports come back as the ClusterError it
 * raised; a connection failure is ClusterError('SHARD_UNAVAILABLE'); an aborted call rejects with
 * the signal's reason (AbortSignal.timeout gives a TimeoutError).
 */
export interface ShardClientOptions {
  /** Most sockets kept open to this replica. Default 64. */
  maxSockets?: number;
  /** The shard servers' SHARD_AUTH_TOKEN, sent on every call. Default: none (loopback servers only). */
  authToken?: string | null;
}

export class ShardClient {
  private readonly agent: Agent;
  private readonly authToken: string | null;
  readonly url: URL;

  constructor(baseUrl: string, options: ShardClientOptions = {}) {
    this.url = new URL(baseUrl);
    if (this.url.protocol !== 'http:') throw new Error(`Shard URL ${baseUrl} must use http:`);
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
    this.authToken = options.authToken || null;
  }

  async search(req: ShardSearchRequest, signal?: AbortSignal): Promise<Hit[][]> {
    // a single query is its own dimension; batches must say it
    const dimension = req.dimension ?? req.queries.length;
    const body = encodeSearchRequest({ ...req, dimension });
    const res = await this.send('POST', PATHS.search, body, BINARY_CONTENT_TYPE, signal);
    return decodeSearchResponse(res.body);
  }

  async upsert(
    modelVersion: string,
    ids: BigInt64Array,
    vectors: Float32Array,
    signal?: AbortSignal,
  ): Promise<{ upserted: number; unchanged: number }> {
    const dimension = ids.length === 0 ? 1 : vectors.length / ids.length;
    if (!Number.isInteger(dimension)) {
      throw new ClusterError(
        'BAD_REQUEST',
        `Expected one vector per id but received ${vectors.length} values for ${ids.length} ids`,
      );
    }
    const body = encodeUpsertRequest({ modelVersion, dimension, ids, vectors });
    return this.json(await this.send('POST', PATHS.upsert, body, BINARY_CONTENT_TYPE, signal));
  }

  async delete(modelVersion: string, ids: BigInt64Array, signal?: AbortSignal): Promise<{ deleted: number }> {
    const body = encodeDeleteRequest({ modelVersion, ids });
    return this.json(await this.send('POST', PATHS.delete, body, BINARY_CONTENT_TYPE, signal));
  }

  async rebuild(modelVersion: string, signal?: AbortSignal): Promise<RebuildOutcome> {
    const body = Buffer.from(toJson({ modelVersion }));
    return this.json(await this.send('POST', PATHS.rebuild, body, 'application/json', signal));
  }

  async addModelVersion(name: string, dimension: number, signal?: AbortSignal): Promise<void> {
    const body = Buffer.from(toJson({ name, dimension }));
    await this.send('POST', PATHS.modelVersions, body, 'application/json', signal);
  }

  async dropModelVersion(name: string, signal?: AbortSignal): Promise<void> {
    const body = Buffer.from(toJson({ name }));
    await this.send('POST', PATHS.dropModelVersion, body, 'application/json', signal);
  }

  /** The body says loading or ok (older servers answer 503 while loading: still a report). */
  async health(signal?: AbortSignal): Promise<ShardHealth> {
    return this.json(await this.send('GET', PATHS.health, null, null, signal, [503]));
  }

  async stats(signal?: AbortSignal): Promise<ShardStats> {
    return this.json(await this.send('GET', PATHS.stats, null, null, signal));
  }

  close(): void {
    this.agent.destroy();
  }

  private json<T>(res: RawResponse): T {
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  private send(
    method: 'GET' | 'POST',
    path: string,
    body: Buffer | null,
    contentType: string | null,
    signal?: AbortSignal,
    alsoOk: number[] = [],
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const headers: Record<string, string | number> = {};
      if (this.authToken) headers[AUTH_HEADER] = `Bearer ${this.authToken}`;
      if (body) {
        headers['content-type'] = contentType ?? 'application/octet-stream';
        headers['content-length'] = body.byteLength;
      }
      const req = request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname.replace(/\/$/, '') + path,
          method,
          headers,
          agent: this.agent,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => reject(this.unavailable(error, signal)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const data = Buffer.concat(chunks);
            if ((status >= 200 && status < 300) || alsoOk.includes(status)) resolve({ status, body: data });
            else reject(this.remoteError(status, data));
          });
        },
      );
      req.on('error', (error) => reject(this.unavailable(error, signal)));
      req.end(body ?? undefined);
    });
  }

  private unavailable(error: Error, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    return new ClusterError(
      'SHARD_UNAVAILABLE',
      `Shard ${this.url.origin} is unreachable: ${error.message}`,
      {
        cause: error,
      },
    );
  }

  private remoteError(status: number, body: Buffer): ClusterError {
    // a configuration fault of this client, not of the request: fail over like an outage
    if (status === 401) {
      return new ClusterError(
        'SHARD_UNAVAILABLE',
        `Shard ${this.url.origin} refused the call: missing or wrong SHARD_AUTH_TOKEN`,
      );
    }
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { code?: string; message?: string };
      if (parsed.code && KNOWN_CODES.has(parsed.code)) {
        return new ClusterError(
          parsed.code as ClusterErrorCode,
          parsed.message ?? `Shard answered ${status}`,
        );
      }
      return new ClusterError(
        'SHARD_UNAVAILABLE',
        `Shard ${this.url.origin} failed (${status}): ${parsed.message ?? ''}`,
      );
    } catch {
      return new ClusterError('SHARD_UNAVAILABLE', `Shard ${this.url.origin} answered ${status}`);
    }
  }
}
