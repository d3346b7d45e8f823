import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { signEdgeRequest, signEmbedding, verifyEdgeEmbedding, verifyEdgeRequest } from './edge-trust.ts';
import { bytesToBase64, EDGE_HEADERS, embeddingToBytes, normaliseQueryText } from './protocol.ts';
import { edgeEmbeddingFor, returnEmbeddingToEdge, useEdgeTrust } from './use-edge-trust.ts';

const key = 'test-edge-signing-key';
const vector = new Float32Array([0.25, -0.5, 0.125, 1]);
const signed = (overrides: Record<string, string> = {}, text = 'red car', modelVersion = 'clip-v1') =>
  new Headers({ ...signEmbedding(vector, { key, modelVersion, text }), ...overrides });
const verify = (headers: Headers, options: Partial<Parameters<typeof verifyEdgeEmbedding>[1]> = {}) =>
  verifyEdgeEmbedding(headers, { key, modelVersion: 'clip-v1', text: 'red car', ...options });

describe('verifyEdgeEmbedding', () => {
  it('returns the embedding the edge signed for this model and text', () => {
    expect(verify(signed())).toEqual(vector);
  });

  it('matches on the normalised text, as the cache keys do', () => {
    expect(normaliseQueryText('  Red \n\t CAR ')).toBe('red car');
    expect(verify(signed({}, '  Red \n\t CAR '))).toEqual(vector);
  });

  it('ignores a header signed with another key (a client forging one)', () => {
    const forged = new Headers(
      signEmbedding(new Float32Array([9, 9, 9, 9]), {
        key: 'guess',
        modelVersion: 'clip-v1',
        text: 'red car',
      }),
    );
    expect(verify(forged)).toBeNull();
  });

  it('ignores an embedding swapped under a valid signature', () => {
    const swapped = signed({
      [EDGE_HEADERS.embedding]: bytesToBase64(embeddingToBytes(new Float32Array([1, 1, 1, 1]))),
    });
    expect(verify(swapped)).toBeNull();
  });

  it('ignores a signature for another text or another model version', () => {
    expect(verify(signed(), { text: 'blue car' })).toBeNull();
    expect(verify(signed({}, 'red car', 'clip-v0'))).toBeNull();
    expect(verify(signed({ [EDGE_HEADERS.embeddingModel]: 'clip-v1' }, 'red car', 'clip-v0'))).toBeNull();
  });

  it('ignores a stale signature, and one from the far future', () => {
    const headers = signed();
    expect(verify(headers, { now: Date.now() + 301_000 })).toBeNull();
    expect(verify(headers, { now: Date.now() - 120_000 })).toBeNull();
    expect(verify(headers, { now: Date.now() + 200_000, maxAgeSeconds: 600 })).toEqual(vector);
  });

  it('ignores missing, garbled or non-finite embeddings and the wrong dimension', () => {
    expect(verify(new Headers())).toBeNull();
    expect(verify(signed({ [EDGE_HEADERS.embeddingSignature]: 'zz' }))).toBeNull();
    expect(verify(signed({ [EDGE_HEADERS.embeddingTimestamp]: 'soon' }))).toBeNull();
    expect(verify(signed(), { dimensions: 512 })).toBeNull();
    const nan = new Headers(
      signEmbedding(new Float32Array([Number.NaN, 1]), { key, modelVersion: 'clip-v1', text: 'red car' }),
    );
    expect(verify(nan)).toBeNull();
    const empty = new Headers(
      signEmbedding(new Float32Array(0), { key, modelVersion: 'clip-v1', text: 'red car' }),
    );
    expect(verify(empty)).toBeNull();
  });
});

describe('verifyEdgeRequest', () => {
  it('accepts its own signature over method and path, nothing else', () => {
    const body = '{"query":"{ a }"}';
    const headers = new Headers(signEdgeRequest({ key, method: 'POST', path: '/graphql', body }));
    expect(verifyEdgeRequest(headers, { key, method: 'POST', path: '/graphql', body })).toBe(true);
    expect(verifyEdgeRequest(headers, { key, method: 'GET', path: '/graphql', body })).toBe(false);
    expect(verifyEdgeRequest(headers, { key, method: 'POST', path: '/admin', body })).toBe(false);
    expect(verifyEdgeRequest(headers, { key: 'other', method: 'POST', path: '/graphql', body })).toBe(false);
    expect(verifyEdgeRequest(new Headers(), { key, method: 'POST', path: '/graphql', body })).toBe(false);
  });
});

describe('useEdgeTrust', () => {
  // a stand-in for the search path: take the edge's embedding or "encode" the text itself
  function server() {
    const encoded: string[] = [];
    const yoga = createYoga<{ request: Request }>({
      logging: false,
      schema: createSchema<{ request: Request }>({
        typeDefs: 'type Query { embed(text: String!): [Float!]! }',
        resolvers: {
          Query: {
            embed: (_: unknown, { text }: { text: string }, { request }) => {
              const fromEdge = edgeEmbeddingFor(request, { modelVersion: 'clip-v1', text });
              if (fromEdge) return [...fromEdge];
              encoded.push(text);
              const embedding = new Float32Array([text.length, 0, 0, 1]);
              returnEmbeddingToEdge(request, { modelVersion: 'clip-v1', text, embedding });
              return [...embedding];
            },
          },
        },
      }),
      plugins: [useEdgeTrust({ key, activeModelVersion: () => 'clip-v1' })],
    });
    const bodyOf = (text: string) =>
      JSON.stringify({ query: 'query ($t: String!) { embed(text: $t) }', variables: { t: text } });
    const search = (text: string, headers: Record<string, string> = {}) =>
      yoga.fetch('http://api/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: bodyOf(text),
      });
    const fromEdge = (text: string) =>
      signEdgeRequest({ key, method: 'POST', path: '/graphql', body: bodyOf(text) });
    return { search, encoded, fromEdge };
  }

  it('uses a signed edge embedding instead of encoding', async () => {
    const { search, encoded } = server();
    const res = await search(
      'red car',
      signEmbedding(vector, { key, modelVersion: 'clip-v1', text: 'red car' }),
    );
    expect(((await res.json()) as { data: { embed: number[] } }).data.embed).toEqual([...vector]);
    expect(encoded).toEqual([]);
    expect(res.headers.get(EDGE_HEADERS.modelVersion)).toBe('clip-v1');
  });

  it('encodes the text itself when the embedding header is forged or stale', async () => {
    const { search, encoded } = server();
    await search(
      'red car',
      signEmbedding(vector, { key: 'forged', modelVersion: 'clip-v1', text: 'red car' }),
    );
    await search(
      'red car',
      signEmbedding(vector, { key, modelVersion: 'clip-v1', text: 'red car', now: Date.now() - 3_600_000 }),
    );
    await search('red car', {
      [EDGE_HEADERS.embedding]: bytesToBase64(embeddingToBytes(vector)),
      [EDGE_HEADERS.embeddingModel]: 'clip-v1',
    });
    expect(encoded).toEqual(['red car', 'red car', 'red car']);
  });

  it('returns a fresh embedding, signed, only to a request signed by the edge', async () => {
    const { search, fromEdge } = server();
    const plain = await search('blue sky');
    expect(plain.headers.get(EDGE_HEADERS.embedding)).toBeNull();
    const forgedEdge = await search('blue sky', {
      [EDGE_HEADERS.edgeTimestamp]: '1',
      [EDGE_HEADERS.edgeSignature]: '00',
    });
    expect(forgedEdge.headers.get(EDGE_HEADERS.embedding)).toBeNull();
    // a signature captured for one body does not vouch for another
    const replayed = await search('blue sky', fromEdge('red car'));
    expect(replayed.headers.get(EDGE_HEADERS.embedding)).toBeNull();
    const edge = await search('blue sky', fromEdge('blue sky'));
    expect(verifyEdgeEmbedding(edge.headers, { key, modelVersion: 'clip-v1', text: 'blue sky' })).toEqual(
      new Float32Array([8, 0, 0, 1]),
    );
  });
});
