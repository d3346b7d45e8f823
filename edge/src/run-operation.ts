import { EDGE_HEADERS } from '../../api/src/edge-trust/protocol.ts';
import { resultCacheKey } from './cache-key.ts';
import type { Caller } from './caller.ts';
import { cachedEmbeddingHeaders, storeReturnedEmbedding } from './embedding-cache.ts';
import { MAX_TEXT_BYTES, numberVar } from './limits.ts';
import { activeModelVersion, learnModelVersion } from './model-version.ts';
import { callOrigin, type OriginAnswer, reportImpression } from './origin.ts';
import type { ResolvedOperation } from './persisted-operations.ts';
import { cachedResult, reasonNotToStore, storeResult } from './result-cache.ts';
import {
  apiSafetyEpoch,
  bumpSafetyEpoch,
  followApiSafetyEpoch,
  mayRemoveImages,
  readSafetyEpoch,
} from './safety-epoch.ts';

export interface OperationCall {
  operation: ResolvedOperation;
  caller: Caller;
  /** The client asked by GET: only such answers may be shared through the cache. */
  viaGet: boolean;
  /** Upload parts (GraphQL multipart request: `map` and files), sent instead of a JSON body. */
  multipart?: { map: Record<string, string[]>; files: [string, File][] };
}

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

/**
 * Persisted queries whose anonymous answers are shared through the result cache. Search only:
 * an Image answer changes within seconds of an upload (PENDING, then INDEXED), and a cached
 * one would show the uploader a stale status for the whole TTL.
 */
const CACHED_OPERATIONS: ReadonlySet<string> = new Set(['Search']);

/** An answer to a GraphQL operation, with where it came from. */
export interface OperationAnswer extends Omit<OriginAnswer, 'edgeHeaders'> {
  cache: CacheStatus;
}

/** The search text whose embedding the edge can cache: the persisted Search op's `input.text`. */
function searchText(operation: ResolvedOperation): string | null {
  if (operation.persisted?.name !== 'Search') return null;
  const input = operation.variables.input as { text?: unknown } | undefined;
  const text = input?.text;
  return typeof text === 'string' && text.trim() !== '' && text.length <= MAX_TEXT_BYTES ? text : null;
}

function envelope(operation: ResolvedOperation): Record<string, unknown> {
  return {
    query: operation.query,
    variables: operation.variables,
    operationName: operation.operationName,
    // the API checks the same allow-list; naming the id lets it see the operation is persisted
    // an APQ registration goes on to the API, which registers it for clients that reach it directly
    ...((operation.hash ?? operation.registers)
      ? { extensions: { persistedQuery: { version: 1, sha256Hash: operation.hash ?? operation.registers } } }
      : {}),
  };
}

function bodyOf(call: OperationCall): string | FormData {
  if (!call.multipart) return JSON.stringify(envelope(call.operation));
  const form = new FormData();
  form.set('operations', JSON.stringify(envelope(call.operation)));
  form.set('map', JSON.stringify(call.multipart.map));
  for (const [name, file] of call.multipart.files) form.set(name, file, file.name);
  return form;
}

/**
 * Runs one operation through the caches and the API. Shared answers: anonymous GETs of the
 * persisted Search only, keyed by operation, canonical variables and the active model version;
 * never mutations, errors, partial answers or anything sent with credentials.
 */
export async function runOperation(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  call: OperationCall,
): Promise<OperationAnswer> {
  const { operation, caller } = call;
  const shareable =
    call.viaGet &&
    !caller.authenticated &&
    operation.persisted?.type === 'query' &&
    CACHED_OPERATIONS.has(operation.persisted.name);
  const modelVersion = await activeModelVersion(env);
  const origin = new URL(request.url).origin;
  // read before the API is asked: an answer older than a takedown is stored under the old epoch
  const epoch = shareable ? await readSafetyEpoch(origin) : null;
  const keyFor = (version: string, safetyEpoch: number) =>
    resultCacheKey({
      origin,
      operationHash: operation.hash!,
      variables: operation.variables,
      modelVersion: version,
      safetyEpoch,
    });

  if (epoch && modelVersion) {
    const hit = await cachedResult(await keyFor(modelVersion, epoch.local), modelVersion, ctx);
    if (hit) {
      const headers = new Headers(hit.headers);
      const body = withOwnQueryId(request, env, ctx, await hit.text());
      return { status: hit.status, headers, body, cache: 'HIT' };
    }
  }

  const text = searchText(operation);
  const embeddingHeaders =
    text && modelVersion ? await cachedEmbeddingHeaders(env, ctx, { modelVersion, text }) : {};
  const answer = await callOrigin(request, env, bodyOf(call), embeddingHeaders);

  const answeredBy = answer.headers.get(EDGE_HEADERS.modelVersion);
  if (answeredBy) learnModelVersion(env, ctx, answeredBy);
  if (text) storeReturnedEmbedding(env, ctx, text, answer.edgeHeaders);

  // awaited, not waitUntil: when the client has the mutation's answer, the epoch has moved
  let storeUnder = epoch?.local ?? null;
  if (mayRemoveImages(operation)) {
    await bumpSafetyEpoch(origin, apiSafetyEpoch(answer.headers));
    storeUnder = null;
  } else {
    // an answer reporting a newer API epoch is gated at that epoch: it may live under the new one
    const moved = await followApiSafetyEpoch(origin, answer.headers);
    if (moved) storeUnder = moved.local;
  }

  if (!shareable || !epoch) return { ...answer, cache: 'BYPASS' };
  if (answeredBy && storeUnder !== null && reasonNotToStore(answer) === null) {
    // keyed by the version that produced this answer, which may be newer than the one we knew
    storeResult(await keyFor(answeredBy, storeUnder), answer, numberVar(env.RESULT_TTL_SECONDS, 60), ctx);
  }
  return { ...answer, cache: 'MISS' };
}

/**
 * A cached answer gets its own queryId, reported to the API with the client it was served to, so
 * every impression is logged and only this client's clicks on it count. Without the signing key
 * the API could not trust the report: the answer keeps the queryId it was cached with.
 */
function withOwnQueryId(request: Request, env: Env, ctx: ExecutionContext, body: string): string {
  if (!env.EDGE_SIGNING_KEY) return body;
  let parsed: { data?: Record<string, { queryId?: unknown } | null> };
  try {
    parsed = JSON.parse(body);
  } catch {
    return body;
  }
  for (const field of Object.values(parsed.data ?? {})) {
    if (field && typeof field.queryId === 'string') {
      const queryId = crypto.randomUUID();
      reportImpression(request, env, ctx, { sourceQueryId: field.queryId, queryId });
      field.queryId = queryId;
    }
  }
  return JSON.stringify(parsed);
}

export function toResponse(answer: OperationAnswer): Response {
  const headers = new Headers(answer.headers);
  headers.set('x-cache', answer.cache);
  return new Response(answer.body, { status: answer.status, headers });
}
