import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToEmbedding,
  bytesToHex,
  EDGE_HEADERS,
  edgeRequestMessage,
  embeddingMessage,
  embeddingToBytes,
  hexToBytes,
  isFresh,
  parseTimestamp,
  unixSeconds,
} from './protocol.ts';

/** The shared secret (`EDGE_SIGNING_KEY` on both sides). */
export type EdgeKey = string | Uint8Array;

type HeaderSource = Pick<Headers, 'get'>;

interface SignOptions {
  key: EdgeKey;
  /** Clock in milliseconds. Default Date.now(). */
  now?: number;
}

interface VerifyOptions {
  key: EdgeKey;
  /** Oldest signature accepted, in seconds. Default 300. */
  maxAgeSeconds?: number;
  /** Clock in milliseconds. Default Date.now(). */
  now?: number;
}

export interface VerifyEmbeddingOptions extends VerifyOptions {
  /** The model that will search with the vector; the header must be signed for it. */
  modelVersion: string;
  /** The query text as received; normalised before checking. */
  text: string;
  /** Expected number of floats. Default: any up to MAX_EMBEDDING_DIMENSIONS. */
  dimensions?: number;
}

function hmac(key: EdgeKey, message: Uint8Array): Buffer {
  return createHmac('sha256', key).update(message).digest();
}

function sameSignature(expected: Buffer, hex: string | null): boolean {
  const given = hex === null ? null : hexToBytes(hex);
  return given !== null && given.length === expected.length && timingSafeEqual(given, expected);
}

/** Headers carrying `embedding` for `text` under `modelVersion`, signed with the shared key. */
export function signEmbedding(
  embedding: Float32Array,
  { key, modelVersion, text, now = Date.now() }: SignOptions & { modelVersion: string; text: string },
): Record<string, string> {
  const timestamp = unixSeconds(now);
  const bytes = embeddingToBytes(embedding);
  const signature = hmac(key, embeddingMessage({ modelVersion, text, timestamp, bytes }));
  return {
    [EDGE_HEADERS.embedding]: bytesToBase64(bytes),
    [EDGE_HEADERS.embeddingModel]: modelVersion,
    [EDGE_HEADERS.embeddingTimestamp]: String(timestamp),
    [EDGE_HEADERS.embeddingSignature]: bytesToHex(signature),
  };
}

/**
 * The embedding the edge sent for `text`, or null unless the signature checks out for this
 * key, this model version and this (normalised) text, is fresh, and the bytes are a valid
 * embedding. On null the caller encodes the text itself: a forged, stale or other-model
 * header never changes an answer.
 */
export function verifyEdgeEmbedding(
  headers: HeaderSource,
  { key, modelVersion, text, dimensions, maxAgeSeconds = 300, now = Date.now() }: VerifyEmbeddingOptions,
): Float32Array | null {
  const encoded = headers.get(EDGE_HEADERS.embedding);
  const signedModel = headers.get(EDGE_HEADERS.embeddingModel);
  const timestamp = parseTimestamp(headers.get(EDGE_HEADERS.embeddingTimestamp));
  if (encoded === null || timestamp === null) return null;
  // skip: the vector was encoded by another model than the one that will search with it
  if (signedModel !== modelVersion) return null;
  if (!isFresh(timestamp, unixSeconds(now), maxAgeSeconds)) return null;
  const bytes = base64ToBytes(encoded);
  if (bytes === null) return null;
  const expected = hmac(key, embeddingMessage({ modelVersion, text, timestamp, bytes }));
  if (!sameSignature(expected, headers.get(EDGE_HEADERS.embeddingSignature))) return null;
  return bytesToEmbedding(bytes, dimensions);
}

export const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

interface EdgeRequestParts {
  method: string;
  /** URL pathname, e.g. /graphql. */
  path: string;
  /** The exact body bytes (empty for none). */
  body: Uint8Array | string;
  /** The client address the edge vouches for; '' or absent when unknown. */
  client?: string | null;
}

/** Headers proving a request came from the edge (the Worker signs with Web Crypto, same bytes). */
export function signEdgeRequest({
  key,
  method,
  path,
  body,
  client,
  now = Date.now(),
}: SignOptions & EdgeRequestParts): Record<string, string> {
  const timestamp = unixSeconds(now);
  const message = edgeRequestMessage({
    timestamp,
    method,
    path,
    bodySha256: sha256Hex(body),
    client: client ?? '',
  });
  return {
    [EDGE_HEADERS.edgeTimestamp]: String(timestamp),
    [EDGE_HEADERS.edgeSignature]: bytesToHex(hmac(key, message)),
    ...(client ? { [EDGE_HEADERS.edgeClient]: client } : {}),
  };
}

/**
 * True when the request carries a fresh edge signature over its method, path, body and the
 * client address in x-pixelfind-edge-client.
 */
export function verifyEdgeRequest(
  headers: HeaderSource,
  {
    key,
    method,
    path,
    body,
    maxAgeSeconds = 300,
    now = Date.now(),
  }: VerifyOptions & Omit<EdgeRequestParts, 'client'>,
): boolean {
  const timestamp = parseTimestamp(headers.get(EDGE_HEADERS.edgeTimestamp));
  if (timestamp === null || !isFresh(timestamp, unixSeconds(now), maxAgeSeconds)) return false;
  const client = headers.get(EDGE_HEADERS.edgeClient) ?? '';
  const expected = hmac(
    key,
    edgeRequestMessage({ timestamp, method, path, bodySha256: sha256Hex(body), client }),
  );
  return sameSignature(expected, headers.get(EDGE_HEADERS.edgeSignature));
}
