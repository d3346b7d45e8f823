// The wire contract between the edge Worker and the API, shared by both sides. Web-standard
// code only (no node:, no Workers globals): the Worker bundles this file too, so both sides
// normalise text and build signed messages byte for byte the same way.

/** Headers of the edge <-> API contract. */
export const EDGE_HEADERS = {
  /** API -> edge, every response: the model_version that answered. */
  modelVersion: 'x-pixelfind-model-version',
  /**
   * API -> edge, every response when known: a non-negative integer that grows with every flag
   * or delete anywhere. The edge drops its cached results when it sees it grow.
   */
  safetyEpoch: 'x-pixelfind-safety-epoch',
  /**
   * API -> edge: the answer is degraded (a store was down, a fallback answered); never cached.
   * Any value counts.
   */
  degraded: 'x-pixelfind-degraded',
  /** edge -> API: unix seconds and HMAC over the request, proving it came through the edge. */
  edgeTimestamp: 'x-pixelfind-edge-ts',
  edgeSignature: 'x-pixelfind-edge-sig',
  /** edge -> API, signed with the request: the client's address as Cloudflare saw it (CF-Connecting-IP). */
  edgeClient: 'x-pixelfind-edge-client',
  /** Both ways: a text query embedding (base64 float32 little-endian) and what it is signed for. */
  embedding: 'x-pixelfind-embedding',
  embeddingModel: 'x-pixelfind-embedding-model',
  embeddingTimestamp: 'x-pixelfind-embedding-ts',
  embeddingSignature: 'x-pixelfind-embedding-sig',
} as const;

/**
 * edge -> API, signed: `{ sourceQueryId, queryId }`, a cached answer of sourceQueryId was served
 * under the new queryId (its impression and the client who may click it).
 */
export const EDGE_IMPRESSIONS_PATH = '/edge/impressions';

/** Every header a client must never be able to set or read through the edge. */
export const EDGE_PRIVATE_HEADERS = [
  EDGE_HEADERS.edgeTimestamp,
  EDGE_HEADERS.edgeSignature,
  EDGE_HEADERS.edgeClient,
  EDGE_HEADERS.embedding,
  EDGE_HEADERS.embeddingModel,
  EDGE_HEADERS.embeddingTimestamp,
  EDGE_HEADERS.embeddingSignature,
] as const;

/** Largest embedding accepted on the wire (floats); ViT-L/14 has 768, headroom for bigger towers. */
export const MAX_EMBEDDING_DIMENSIONS = 4096;

/**
 * The text key of the embedding caches. Mirrors the CLIP tokenizer's own normaliser (NFC,
 * whitespace runs to one space, lowercase), so two texts with one key encode to one vector.
 */
export function normaliseQueryText(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * The key of a query embedding in the API's cache and the edge's KV, one format for both:
 * `emb:<model_version>:<normalised text>`. Same text, same model: same embedding.
 */
export const embeddingCacheKey = (modelVersion: string, text: string): string =>
  `emb:${modelVersion}:${normaliseQueryText(text)}`;

const utf8 = new TextEncoder();

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

/** Bytes signed for an embedding: a JSON header (unambiguous for any text) then the raw floats. */
export function embeddingMessage(input: {
  modelVersion: string;
  text: string;
  timestamp: number;
  bytes: Uint8Array;
}): Uint8Array {
  const head = JSON.stringify([
    'pixelfind-embedding-v1',
    input.timestamp,
    input.modelVersion,
    normaliseQueryText(input.text),
    input.bytes.length,
  ]);
  return concat(utf8.encode(`${head}\n`), input.bytes);
}

/**
 * Bytes signed for an edge -> API request: method, path, the sha256 of the exact body bytes and
 * the client address the edge vouches for. A captured signature replays only the same body, from
 * the same client, for the signature's lifetime.
 */
export function edgeRequestMessage(input: {
  timestamp: number;
  method: string;
  path: string;
  /** sha256 of the request body in lowercase hex (of zero bytes when there is none). */
  bodySha256: string;
  /** The client address (CF-Connecting-IP); '' when unknown. */
  client: string;
}): Uint8Array {
  return utf8.encode(
    JSON.stringify([
      'pixelfind-edge-request-v2',
      input.timestamp,
      input.method.toUpperCase(),
      input.path,
      input.bodySha256,
      input.client,
    ]),
  );
}

/** Float32 little-endian bytes, whatever the platform's byte order. */
export function embeddingToBytes(embedding: Float32Array): Uint8Array {
  const bytes = new Uint8Array(embedding.length * 4);
  const view = new DataView(bytes.buffer);
  embedding.forEach((value, i) => {
    view.setFloat32(i * 4, value, true);
  });
  return bytes;
}

/** The embedding in `bytes`, or null when they are not a plausible embedding (empty, ragged, NaN, huge). */
export function bytesToEmbedding(bytes: Uint8Array, dimensions?: number): Float32Array | null {
  if (bytes.length === 0 || bytes.length % 4 !== 0) return null;
  const length = bytes.length / 4;
  if (length > MAX_EMBEDDING_DIMENSIONS || (dimensions !== undefined && length !== dimensions)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const value = view.getFloat32(i * 4, true);
    if (!Number.isFinite(value)) return null;
    out[i] = value;
  }
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decoded bytes, or null for anything that is not strict base64. */
export function base64ToBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function hexToBytes(text: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/.test(text)) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Unix seconds from a header, or null when absent or not a plain integer. */
export function parseTimestamp(value: string | null): number | null {
  if (value === null || !/^\d{1,12}$/.test(value)) return null;
  return Number(value);
}

/** A signature is fresh when at most `maxAgeSeconds` old and at most 60 s in the future (clock skew). */
export function isFresh(timestamp: number, nowSeconds: number, maxAgeSeconds: number): boolean {
  return timestamp <= nowSeconds + 60 && nowSeconds - timestamp <= maxAgeSeconds;
}

export const unixSeconds = (nowMs: number = Date.now()) => Math.floor(nowMs / 1000);
