import {
  base64ToBytes,
  bytesToBase64,
  bytesToEmbedding,
  EDGE_HEADERS,
  embeddingCacheKey,
  embeddingMessage,
  hexToBytes,
  isFresh,
  parseTimestamp,
  unixSeconds,
} from '../../api/src/edge-trust/protocol.ts';
import { hmacHex, hmacVerify } from './crypto.ts';
import { numberVar } from './limits.ts';

/** KV refuses keys over 512 bytes; longer texts are simply not cached. */
const MAX_KV_KEY_BYTES = 512;

function kvKey(modelVersion: string, text: string): string | null {
  const key = embeddingCacheKey(modelVersion, text);
  return new TextEncoder().encode(key).length <= MAX_KV_KEY_BYTES ? key : null;
}

/**
 * Signed headers carrying the cached embedding of `text` under `modelVersion`, or none. An
 * entry that is not a valid embedding is ignored and deleted, so the API encodes the text.
 */
export async function cachedEmbeddingHeaders(
  env: Env,
  ctx: ExecutionContext,
  { modelVersion, text }: { modelVersion: string; text: string },
): Promise<Record<string, string>> {
  const secret = env.EDGE_SIGNING_KEY;
  const key = kvKey(modelVersion, text);
  if (!secret || !key) return {};
  const stored = await env.EMBEDDINGS.get(key, 'arrayBuffer').catch(() => null);
  if (stored === null) return {};
  const bytes = new Uint8Array(stored);
  if (bytesToEmbedding(bytes) === null) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'invalid embedding in KV, deleted', key }));
    ctx.waitUntil(env.EMBEDDINGS.delete(key));
    return {};
  }
  const timestamp = unixSeconds();
  const signature = await hmacHex(secret, embeddingMessage({ modelVersion, text, timestamp, bytes }));
  return {
    [EDGE_HEADERS.embedding]: bytesToBase64(bytes),
    [EDGE_HEADERS.embeddingModel]: modelVersion,
    [EDGE_HEADERS.embeddingTimestamp]: String(timestamp),
    [EDGE_HEADERS.embeddingSignature]: signature,
  };
}

/**
 * Stores the embedding the API returned for `text` (on its cache miss), once its signature
 * checks out for this text: a KV entry always holds what the API itself encoded.
 */
export function storeReturnedEmbedding(
  env: Env,
  ctx: ExecutionContext,
  text: string,
  returned: Headers,
): void {
  const secret = env.EDGE_SIGNING_KEY;
  const encoded = returned.get(EDGE_HEADERS.embedding);
  const modelVersion = returned.get(EDGE_HEADERS.embeddingModel);
  if (!secret || encoded === null || modelVersion === null) return;
  ctx.waitUntil(
    (async () => {
      const timestamp = parseTimestamp(returned.get(EDGE_HEADERS.embeddingTimestamp));
      const signature = hexToBytes(returned.get(EDGE_HEADERS.embeddingSignature) ?? '');
      const bytes = base64ToBytes(encoded);
      const key = kvKey(modelVersion, text);
      if (timestamp === null || signature === null || bytes === null || key === null) return;
      if (!isFresh(timestamp, unixSeconds(), 300) || bytesToEmbedding(bytes) === null) return;
      const message = embeddingMessage({ modelVersion, text, timestamp, bytes });
      if (!(await hmacVerify(secret, message, signature))) return;
      const expirationTtl = Math.max(60, numberVar(env.EMBEDDING_TTL_SECONDS, 604_800));
      await env.EMBEDDINGS.put(key, bytes, { expirationTtl });
    })().catch((error) =>
      console.error(JSON.stringify({ level: 'error', msg: 'embedding store', error: String(error) })),
    ),
  );
}
