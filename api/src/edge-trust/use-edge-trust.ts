import type { Plugin } from 'graphql-yoga';
import { resolveClientAddress } from './client-address.ts';
import { type EdgeKey, signEmbedding, verifyEdgeEmbedding, verifyEdgeRequest } from './edge-trust.ts';
import { EDGE_HEADERS, EDGE_PRIVATE_HEADERS } from './protocol.ts';

export interface EdgeTrustOptions {
  /** `EDGE_SIGNING_KEY`, shared with the Worker. Unset: no embedding is accepted or returned. */
  key: EdgeKey | undefined;
  /** The model_version now answering searches; sent on every response as x-pixelfind-model-version. Default: no header. */
  activeModelVersion?: () => string | null | undefined;
  /** Oldest edge signature accepted, in seconds. Default 300. */
  maxAgeSeconds?: number;
  /**
   * The safety epoch (grows with every flag and delete), sent on every response as
   * x-pixelfind-safety-epoch; the edge drops its cached results when it grows. Default: no header.
   */
  safetyEpoch?: () => number | bigint | null | undefined;
  /** RATE_LIMIT_TRUST_FORWARDED_FOR: believe the last X-Forwarded-For hop (see client-address.ts). Default false. */
  trustForwardedFor?: boolean;
}

interface EdgeRequestState {
  key: EdgeKey | undefined;
  maxAgeSeconds: number;
  /** The request carries a valid edge signature over its method, path, body and client. */
  fromEdge: boolean;
  /** The caller's address (resolveClientAddress). Null when unknown (in-process). */
  clientAddress: string | null;
  /** Set by the search path on an embedding-cache miss; returned only to the edge. */
  outgoing?: { modelVersion: string; text: string; embedding: Float32Array };
}

const states = new WeakMap<Request, EdgeRequestState>();

/**
 * Yoga plugin for the edge contract: marks requests signed by the edge, lets the search path
 * take a signed query embedding from them (`edgeEmbeddingFor`) and hand a freshly encoded one
 * back (`returnEmbeddingToEdge`), and reports the active model version on every response.
 */
export function useEdgeTrust({
  key,
  activeModelVersion,
  maxAgeSeconds = 300,
  safetyEpoch,
  trustForwardedFor = false,
}: EdgeTrustOptions): Plugin {
  return {
    async onRequest({ request, serverContext }) {
      let fromEdge = false;
      if (key !== undefined && request.headers.has(EDGE_HEADERS.edgeSignature)) {
        // the signature covers the body: hash the exact bytes (a clone; yoga reads the original)
        const body = new Uint8Array(await request.clone().arrayBuffer());
        fromEdge = verifyEdgeRequest(request.headers, {
          key,
          maxAgeSeconds,
          method: request.method,
          path: new URL(request.url).pathname,
          body,
        });
      }
      const peer = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req
        ?.socket?.remoteAddress;
      const clientAddress = resolveClientAddress({
        fromEdge,
        headers: request.headers,
        socketAddress: peer ?? null,
        trustForwardedFor,
      });
      states.set(request, { key, maxAgeSeconds, fromEdge, clientAddress });
    },
    onResponse({ request, response }) {
      // the API may sit behind something that echoes headers: never leak edge-only ones
      for (const name of EDGE_PRIVATE_HEADERS) response.headers.delete(name);
      const modelVersion = activeModelVersion?.();
      if (modelVersion) response.headers.set(EDGE_HEADERS.modelVersion, modelVersion);
      const epoch = safetyEpoch?.();
      if (epoch !== null && epoch !== undefined)
        response.headers.set(EDGE_HEADERS.safetyEpoch, String(epoch));
      const state = states.get(request);
      if (state?.fromEdge && state.key !== undefined && state.outgoing) {
        const { embedding, modelVersion: model, text } = state.outgoing;
        const headers = signEmbedding(embedding, { key: state.key, modelVersion: model, text });
        for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
      }
    },
  };
}

/**
 * The query embedding the edge sent with this request, when it is signed for this model and
 * text; null otherwise (then encode the text). Call from the search path with `context.request`.
 */
export function edgeEmbeddingFor(
  request: Request,
  { modelVersion, text, dimensions }: { modelVersion: string; text: string; dimensions?: number },
): Float32Array | null {
  const state = states.get(request);
  if (!state || state.key === undefined) return null;
  return verifyEdgeEmbedding(request.headers, {
    key: state.key,
    maxAgeSeconds: state.maxAgeSeconds,
    modelVersion,
    text,
    dimensions,
  });
}

/**
 * Offers the embedding just encoded for `text` to the edge's KV cache. It is sent (signed) in
 * the response headers only when the request itself was signed by the edge; the first offer
 * per request wins.
 */
export function returnEmbeddingToEdge(
  request: Request,
  outgoing: { modelVersion: string; text: string; embedding: Float32Array },
): void {
  const state = states.get(request);
  if (state?.fromEdge && !state.outgoing) state.outgoing = outgoing;
}

/**
 * The caller's address as far as it can be trusted (the rule: resolveClientAddress). Null when
 * unknown (an in-process call). The only source for rate limits and anonymous identities.
 */
export function clientAddressOf(request: Request): string | null {
  return states.get(request)?.clientAddress ?? null;
}

/** The edge's side of one request, for services that must not see the Request itself. */
export interface EdgeChannel {
  /** The signed text embedding the edge sent for this model and text, or null. */
  embeddingFor(query: { modelVersion: string; text: string; dimensions?: number }): Float32Array | null;
  /** Offers an embedding just encoded to the edge's KV cache (see returnEmbeddingToEdge). */
  offer(outgoing: { modelVersion: string; text: string; embedding: Float32Array }): void;
}

export const edgeChannel = (request: Request): EdgeChannel => ({
  embeddingFor: (query) => edgeEmbeddingFor(request, query),
  offer: (outgoing) => returnEmbeddingToEdge(request, outgoing),
});

/** True when the request carries a valid edge signature (for metrics and logs). */
export function isEdgeRequest(request: Request): boolean {
  return states.get(request)?.fromEdge ?? false;
}
