import {
  bytesToHex,
  EDGE_HEADERS,
  EDGE_IMPRESSIONS_PATH,
  EDGE_PRIVATE_HEADERS,
  edgeRequestMessage,
  unixSeconds,
} from '../../api/src/edge-trust/protocol.ts';
import { hmacHex } from './crypto.ts';
import { EdgeError } from './errors.ts';
import { numberVar } from './limits.ts';

/** The API's answer, read in full: small JSON documents that the caches inspect. */
export interface OriginAnswer {
  status: number;
  headers: Headers;
  body: string;
  /** The edge-only headers the API sent (a signed embedding on a miss), kept off `headers`. */
  edgeHeaders: Headers;
}

/** Client headers the API may need; everything else stays at the edge. */
const FORWARDED = [
  'authorization',
  'x-api-key',
  'accept-language',
  'user-agent',
  'x-request-id',
  'traceparent',
];
/** Never passed back: framing is redone, edge-only headers stay between edge and API. */
const DROPPED_FROM_ANSWER = [
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  ...EDGE_PRIVATE_HEADERS,
];

export function graphqlUrl(env: Env): URL {
  return new URL(`${env.ORIGIN_URL.replace(/\/+$/, '')}/graphql`);
}

/** Sets the edge signature over POST `path`, the exact body bytes and the client address. */
async function sign(headers: Headers, env: Env, path: string, bytes: Uint8Array, client: string | null) {
  if (!env.EDGE_SIGNING_KEY) return;
  const timestamp = unixSeconds();
  const bodySha256 = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  const message = edgeRequestMessage({ timestamp, method: 'POST', path, bodySha256, client: client ?? '' });
  headers.set(EDGE_HEADERS.edgeTimestamp, String(timestamp));
  headers.set(EDGE_HEADERS.edgeSignature, await hmacHex(env.EDGE_SIGNING_KEY, message));
  if (client) headers.set(EDGE_HEADERS.edgeClient, client);
}

/**
 * Tells the API, in the background, that a cached answer of `sourceQueryId` was served to this
 * client under the new `queryId`: its impression is logged and its clicks count for that client.
 */
export function reportImpression(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  impression: { sourceQueryId: string; queryId: string },
): void {
  const url = new URL(`${env.ORIGIN_URL.replace(/\/+$/, '')}${EDGE_IMPRESSIONS_PATH}`);
  const bytes = new TextEncoder().encode(JSON.stringify(impression));
  ctx.waitUntil(
    (async () => {
      const headers = new Headers({ 'content-type': 'application/json' });
      await sign(headers, env, url.pathname, bytes, request.headers.get('cf-connecting-ip'));
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: bytes,
        signal: AbortSignal.timeout(numberVar(env.ORIGIN_TIMEOUT_MS, 30_000)),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the API answered ${response.status}`);
    })().catch((error) =>
      console.error(JSON.stringify({ level: 'error', msg: 'impression report', error: String(error) })),
    ),
  );
}

/**
 * POSTs to the API's /graphql, signed as coming from the edge when a key is configured.
 * Failures become coded GraphQL errors: unreachable 503, timeout 504, a non-JSON 5xx 502.
 */
export async function callOrigin(
  request: Request,
  env: Env,
  body: string | FormData,
  extraHeaders: Record<string, string> = {},
): Promise<OriginAnswer> {
  const url = graphqlUrl(env);
  const headers = new Headers({ accept: 'application/graphql-response+json, application/json;q=0.9' });
  for (const name of FORWARDED) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const client = request.headers.get('cf-connecting-ip');
  if (client) headers.set('x-forwarded-for', client);
  // the exact bytes sent, so the signature can cover them (multipart gets its boundary here)
  const encoded = new Request(url, {
    method: 'POST',
    body,
    headers: typeof body === 'string' ? { 'content-type': 'application/json' } : {},
  });
  headers.set('content-type', encoded.headers.get('content-type') ?? 'application/json');
  // multipart is a CORS-simple type: the API's CSRF prevention wants a non-simple header on it
  if (typeof body !== 'string') headers.set('x-graphql-yoga-csrf', '1');
  const bytes = new Uint8Array(await encoded.arrayBuffer());
  if (env.EDGE_SIGNING_KEY) {
    const timestamp = unixSeconds();
    const bodySha256 = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
    const message = edgeRequestMessage({
      timestamp,
      method: 'POST',
      path: url.pathname,
      bodySha256,
      client: client ?? '',
    });
    headers.set(EDGE_HEADERS.edgeTimestamp, String(timestamp));
    headers.set(EDGE_HEADERS.edgeSignature, await hmacHex(env.EDGE_SIGNING_KEY, message));
    if (client) headers.set(EDGE_HEADERS.edgeClient, client);
  }
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);

  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: bytes,
      signal: AbortSignal.timeout(numberVar(env.ORIGIN_TIMEOUT_MS, 30_000)),
    });
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new EdgeError('TIMEOUT', 'The API did not answer in time');
    }
    console.error(JSON.stringify({ level: 'error', msg: 'origin unreachable', error: String(error) }));
    throw new EdgeError('SERVICE_UNAVAILABLE', 'The API is unreachable; try again shortly', {
      headers: { 'retry-after': '5' },
    });
  }
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  if (response.status >= 500 && !type.includes('json')) {
    throw new EdgeError('BAD_GATEWAY', `The API answered ${response.status} without a GraphQL response`);
  }
  const answerHeaders = new Headers(response.headers);
  const edgeHeaders = new Headers();
  for (const name of EDGE_PRIVATE_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) edgeHeaders.set(name, value);
  }
  for (const name of DROPPED_FROM_ANSWER) answerHeaders.delete(name);
  return { status: response.status, headers: answerHeaders, body: text, edgeHeaders };
}
