import { EDGE_HEADERS } from './protocol.ts';

/** What the caller's address is decided from, for one request. */
export interface AddressEvidence {
  /** The request carries an edge signature that verified (over method, path, body and client). */
  fromEdge: boolean;
  headers: Headers;
  /** The TCP peer; null for an in-process call. */
  socketAddress: string | null;
  /**
   * RATE_LIMIT_TRUST_FORWARDED_FOR: the API sits behind a proxy that appends the client's
   * address to X-Forwarded-For. Its last hop is then the one that proxy saw (the hops before
   * it are whatever the client sent, so they are never believed).
   */
  trustForwardedFor: boolean;
}

/**
 * The one rule for "the caller's address" (rate limits, anonymous uploader ids, click and
 * impression identities): the address the edge signed for when the edge signature verified
 * (null if it signed none), else the last X-Forwarded-For hop behind a trusted proxy, else the
 * socket's. A client-set x-pixelfind-edge-client or X-Forwarded-For alone is never believed.
 */
export function resolveClientAddress({
  fromEdge,
  headers,
  socketAddress,
  trustForwardedFor,
}: AddressEvidence): string | null {
  if (fromEdge) return headers.get(EDGE_HEADERS.edgeClient) || null;
  if (trustForwardedFor) {
    const hops = (headers.get('x-forwarded-for') ?? '').split(',');
    const last = hops[hops.length - 1]?.trim();
    if (last) return last;
  }
  return socketAddress;
}
