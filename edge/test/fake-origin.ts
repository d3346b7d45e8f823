// A small GraphQL API over node:http standing in for Pixelfind's: the schema of the persisted
// operations, and the real API-side edge modules (usePersistedOperations, useEdgeTrust), so the
// edge tests also prove both sides speak the same protocol. It counts what reaches it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import type { Role } from '../../api/src/auth/roles.ts';
import { EDGE_HEADERS, EDGE_IMPRESSIONS_PATH } from '../../api/src/edge-trust/protocol.ts';
import {
  edgeEmbeddingFor,
  returnEmbeddingToEdge,
  useEdgeTrust,
} from '../../api/src/edge-trust/use-edge-trust.ts';
import { AppError } from '../../api/src/errors.ts';
import { useEdgeImpressions } from '../../api/src/feedback/use-edge-impressions.ts';
import { usePersistedOperations } from '../../api/src/persisted/use-persisted-operations.ts';
import { maskError } from '../../api/src/plugins/mask-error.ts';

const typeDefs = /* GraphQL */ `
  scalar Upload
  type Tag { label: String! confidence: Float! source: String! }
  type Image { id: ID! storageUrl: String! width: Int! height: Int! status: String! createdAt: String! tags: [Tag!]! }
  type Hit { score: Float! similarity: Float! image: Image! }
  type SearchResult {
    queryId: ID! modelVersion: String! partial: Boolean! tookMs: Int! nothingRelevant: Boolean! hasNextPage: Boolean! nextOffset: Int hits: [Hit!]!
  }
  input SearchInput {
    text: String imageUrl: String imageId: ID textWeight: Float fusion: String labels: [String!] limit: Int offset: Int
    minSimilarity: Float
  }
  type UploadImagePayload { image: Image! created: Boolean }
  type RecordClickPayload { ok: Boolean! position: Int! }
  input UploadImageInput { file: Upload! tagsHint: [String!] }
  input RecordClickInput { queryId: ID! imageId: ID! }
  input FlagImageInput { imageId: ID! reason: String! }
  input DeleteImageInput { imageId: ID! }
  type Query { search(input: SearchInput!): SearchResult! image(id: ID!): Image }
  type Mutation {
    uploadImage(input: UploadImageInput!): UploadImagePayload!
    recordClick(input: RecordClickInput!): RecordClickPayload!
    flagImage(input: FlagImageInput!): TakedownPayload!
    deleteImage(input: DeleteImageInput!): TakedownPayload!
  }
  type TakedownPayload { imageId: ID! deleted: Boolean }
`;

export interface SeenRequest {
  method: string;
  path: string;
  headers: Headers;
  operationName?: string;
  /** For searches with text: where the query embedding came from. */
  embedding?: 'edge' | 'encoded';
}

export interface FakeOrigin {
  url: string;
  requests: SeenRequest[];
  /** The model_version the API reports; change it to simulate a swap. */
  modelVersion: string;
  /** Answer searches with `partial: true`. */
  partial: boolean;
  /** Answer with x-pixelfind-degraded (a store is down, a fallback answered). */
  degraded: boolean;
  /** Ids a search shows (those not taken down). Default ['1']. */
  corpus: string[];
  /** Ids flagged or deleted: never in a search answer from then on. */
  takenDown: Set<string>;
  /** Impression reports of cached answers the edge sent (signed), with the client address. */
  impressions: { sourceQueryId: string; queryId: string; callerRef: string }[];
  /** The safety epoch the API reports (x-pixelfind-safety-epoch); null: no header. */
  safetyEpoch: number | null;
  close(): Promise<void>;
}

const image = (id: string) => ({
  id,
  storageUrl: `/blobs/${id}`,
  width: 64,
  height: 48,
  status: 'INDEXED',
  createdAt: '2026-01-01T00:00:00.000Z',
  tags: [{ label: 'red', confidence: 0.9, source: 'CLIP_ZERO_SHOT' }],
});

/** A vector the fake "encoder" derives from the text. */
const encode = (text: string) => new Float32Array([text.length, 1, 0, 0.5]);

const roleOf = async (request: Request): Promise<Role> => {
  const key =
    request.headers.get('x-api-key') ??
    /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
  if (!key) return 'anonymous';
  return key.startsWith('pf_partner_') ? 'partner' : 'user';
};

export async function startFakeOrigin({ signingKey }: { signingKey?: string } = {}): Promise<FakeOrigin> {
  // the handlers read this object and the test flips its fields: it becomes the FakeOrigin
  const state: Omit<FakeOrigin, 'url' | 'close'> = {
    requests: [],
    modelVersion: 'clip-v1',
    partial: false,
    degraded: false,
    corpus: ['1'],
    takenDown: new Set<string>(),
    impressions: [],
    safetyEpoch: null,
  };
  const { requests, impressions } = state;
  const takeDown = (id: string) => {
    state.takenDown.add(id);
    if (state.safetyEpoch !== null) state.safetyEpoch += 1;
    return { imageId: id, deleted: true };
  };
  const seen = new WeakMap<Request, SeenRequest>();
  let queries = 0;
  const yoga = createYoga<{ request: Request }>({
    logging: false,
    maskedErrors: { maskError },
    schema: createSchema<{ request: Request }>({
      typeDefs,
      resolvers: {
        Query: {
          search: (_: unknown, { input }: { input: { text?: string } }, { request }) => {
            const { text } = input;
            if (text === 'boom') throw new AppError('BAD_USER_INPUT', 'boom is not a query');
            if (text) {
              const modelVersion = state.modelVersion;
              const fromEdge = edgeEmbeddingFor(request, { modelVersion, text });
              const record = seen.get(request);
              if (record) record.embedding = fromEdge ? 'edge' : 'encoded';
              if (!fromEdge) returnEmbeddingToEdge(request, { modelVersion, text, embedding: encode(text) });
            }
            queries += 1;
            const shown = state.corpus.filter((id) => !state.takenDown.has(id));
            return {
              queryId: `00000000-0000-4000-8000-${String(queries).padStart(12, '0')}`,
              modelVersion: state.modelVersion,
              partial: state.partial,
              tookMs: 1,
              hasNextPage: false,
              nextOffset: null,
              hits: shown.map((id) => ({ score: 0.9, similarity: 0.8, image: image(id) })),
              nothingRelevant: shown.length === 0,
            };
          },
          image: (_: unknown, { id }: { id: string }) => (id === '1' ? image('1') : null),
        },
        Mutation: {
          uploadImage: async (_: unknown, { input: { file } }: { input: { file: File } }) => ({
            image: { ...image(String(1000 + (await file.arrayBuffer()).byteLength)), status: 'PENDING' },
          }),
          recordClick: () => ({ ok: true, position: 0 }),
          flagImage: (_: unknown, { input }: { input: { imageId: string } }) => takeDown(input.imageId),
          deleteImage: (_: unknown, { input }: { input: { imageId: string } }) => takeDown(input.imageId),
        },
      },
    }),
    plugins: [
      {
        onRequest({ request }) {
          if (new URL(request.url).pathname === EDGE_IMPRESSIONS_PATH) return;
          const record: SeenRequest = {
            method: request.method,
            path: new URL(request.url).pathname,
            headers: request.headers,
          };
          seen.set(request, record);
          requests.push(record);
        },
        onParams({ params, request }) {
          const record = seen.get(request);
          if (record) record.operationName = params.operationName;
        },
      },
      usePersistedOperations({ roleOf }),
      useEdgeTrust({
        key: signingKey,
        activeModelVersion: () => state.modelVersion,
        safetyEpoch: () => state.safetyEpoch,
      }),
      useEdgeImpressions({
        record: async (sourceQueryId, queryId, callerRef) => {
          impressions.push({ sourceQueryId, queryId, callerRef });
          return true;
        },
        secret: signingKey ?? null,
      }),
      {
        onResponse({ response }) {
          if (state.degraded) response.headers.set(EDGE_HEADERS.degraded, 'database');
        },
      },
    ],
  });
  const server: Server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
